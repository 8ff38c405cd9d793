"""``dief seed-states --file``: ATT statuses in bulk (CSV of code, status and dates) onto
the registry, existing States included. Every row is checked before anything is written;
each change then goes through the same path as ``stateStatusChange`` (recorded in the
State's status history and the change history, announced as
``dief.contacts.state.status_changed``). A dry run only lists the changes."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.principal import Principal, Role
from services.contacts import handlers
from services.contacts.documents import State
from services.contacts.domain import AttStatus, StatusDates

IMPORTER = Principal("dief seed-states", frozenset({Role.SECRETARIAT}))


@dataclass(frozen=True)
class StatusUpdate:
    code: str
    before: AttStatus
    after: AttStatus
    dates: StatusDates

    def describe(self) -> str:
        shown = ", ".join(
            f"{name} {value.isoformat()}"
            for name, value in (
                ("signature", self.dates.signature),
                ("ratification", self.dates.ratification),
                ("entry into force", self.dates.entry_into_force),
            )
            if value is not None
        )
        return f"{self.code}: {self.before.value} -> {self.after.value}" + (
            f" ({shown})" if shown else ""
        )


def _dates_of(state: State) -> StatusDates:
    return StatusDates(
        signature=state.signature_date,
        ratification=state.ratification_date,
        entry_into_force=state.entry_into_force_date,
        withdrawal=state.withdrawal_date,
    )


def plan(statuses: dict[str, tuple[AttStatus, StatusDates]]) -> list[StatusUpdate]:
    """What the file changes in States already in the registry (new ones are seeded)."""
    existing = {s.code: s for s in State.objects(code__in=list(statuses))}
    updates = []
    for code in sorted(statuses):
        status, dates = statuses[code]
        state = existing.get(code)
        if state is None:
            continue
        if state.status is status and _dates_of(state) == dates:
            continue
        updates.append(StatusUpdate(code, state.status, status, dates))
    return updates


def apply(updates: list[StatusUpdate], note: str = "bulk import (dief seed-states)") -> int:
    for update in updates:
        handlers.change_state_status(
            IMPORTER, handlers.StatusChangeInput(update.code, update.after, update.dates, note)
        )
    return len(updates)
