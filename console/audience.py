"""Who will see what of a case before it is shared (rules 15, 18): the case's audience and
each section's stricter one, against the participants of the registry. Pure."""

from __future__ import annotations

from dataclasses import dataclass

SECTIONS = ("SUMMARY", "DIVERSION", "DISCOVERY", "METHODS", "ACTORS", "ITEMS", "ROUTES")


@dataclass(frozen=True)
class Audience:
    kind: str  # ALL_PARTICIPANTS or NAMED_STATES
    states: frozenset[str] = frozenset()
    include_secretariat: bool = False

    def admits(self, state: str) -> bool:
        return self.kind == "ALL_PARTICIPANTS" or state in self.states


@dataclass(frozen=True)
class Row:
    who: str  # an ISO3 code, or "SECRETARIAT"
    sees: tuple[str, ...]  # the sections they read
    withheld: tuple[str, ...]  # the sections shown to them as withheld


def preview(
    provider: str,
    case: Audience,
    sections: dict[str, Audience],
    participants: list[str],
) -> list[Row]:
    """One row per reader other than the provider (who reads everything); a participant
    outside the case's audience gets no row: the case does not exist for them."""
    rows = []
    for state in sorted(set(participants) - {provider}):
        if not case.admits(state):
            continue
        sees = tuple(s for s in SECTIONS if s not in sections or sections[s].admits(state))
        rows.append(Row(state, sees, tuple(s for s in SECTIONS if s not in sees)))
    if case.include_secretariat:
        sees = tuple(s for s in SECTIONS if s not in sections or sections[s].include_secretariat)
        rows.append(Row("SECRETARIAT", sees, tuple(s for s in SECTIONS if s not in sees)))
    return rows


def unknown_states(
    case: Audience, sections: dict[str, Audience], participants: list[str]
) -> list[str]:
    """Named States that are not participants now (they would see nothing)."""
    named = set(case.states)
    for audience in sections.values():
        named |= audience.states
    return sorted(named - set(participants))
