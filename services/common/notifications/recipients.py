"""Who of a State's contacts receives a notice: by role, alternates as the fallback, never
every contact (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.common.notifications.kinds import ALTERNATE


@dataclass(frozen=True)
class Candidate:
    """A current (not archived) contact of a State, as the directory has it."""

    email: str
    roles: tuple[str, ...]
    public_key: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class Recipient:
    state: str
    email: str
    role: str
    public_key: str | None = None
    fingerprint: str | None = None


def choose(state: str, contacts: Iterable[Candidate], roles: Sequence[str]) -> list[Recipient]:
    """The contacts holding any of ``roles`` (each address once, under the first of its
    roles that ``roles`` names); if none does, the State's alternates; else nobody."""
    pool = list(contacts)
    for wanted in (tuple(roles), (ALTERNATE,)):
        chosen: dict[str, Recipient] = {}
        for role in wanted:
            for c in pool:
                address = c.email.strip().lower()
                if role in c.roles and address and address not in chosen:
                    chosen[address] = Recipient(state, address, role, c.public_key, c.fingerprint)
        if chosen:
            return sorted(chosen.values(), key=lambda r: (list(wanted).index(r.role), r.email))
    return []


@dataclass(frozen=True)
class Resolution:
    """The recipients of a notice, and the States it concerns that nobody there can get."""

    recipients: tuple[Recipient, ...]
    unreachable: tuple[str, ...]
    state_parties: frozenset[str] = frozenset()  # of the States concerned (rule 8)

    @classmethod
    def of(
        cls,
        states: Iterable[str],
        recipients: Iterable[Recipient],
        state_parties: Iterable[str] = (),
    ) -> Resolution:
        found = tuple(recipients)
        reached = {r.state for r in found}
        return cls(found, tuple(sorted(set(states) - reached)), frozenset(state_parties))
