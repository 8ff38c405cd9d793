"""ATT statuses in bulk (CSV of code, status and dates) onto the registry, existing States
included: ``dief seed-states --file`` and the Secretariat's ``stateStatusImport``. Every
row is checked before anything is written; the changes are then written in one
transaction, each as ``stateStatusChange`` writes it (recorded in the State's status
history and the change history, announced as ``dief.contacts.state.status_changed``).
A dry run only lists the changes."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.errors import ValidationFailed
from services.common.principal import Principal, Role, require_authenticated
from services.contacts import domain, handlers, seed
from services.contacts.documents import State
from services.contacts.domain import AttStatus, StatusDates

IMPORTER = Principal("dief seed-states", frozenset({Role.SECRETARIAT}))
MAX_ROWS = 500


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


def apply(
    updates: list[StatusUpdate],
    note: str = "bulk import (dief seed-states)",
    principal: Principal = IMPORTER,
) -> int:
    handlers.change_state_statuses(
        principal,
        [handlers.StatusChangeInput(u.code, u.after, u.dates, note) for u in updates],
    )
    return len(updates)


def import_statuses(
    principal: Principal | None, text: str, dry_run: bool, note: str | None = None
) -> tuple[int, list[StatusUpdate]]:
    """The Secretariat's bulk import: the file checked whole (every row, every code in
    the registry), then the changes it makes listed, and unless ``dry_run`` written, all
    in one transaction or none. Returns the file's rows and the changes."""
    p = require_authenticated(principal)
    domain.ensure_may_change_status(p)
    statuses = seed.parse_statuses(text, max_rows=MAX_ROWS)
    if not statuses:
        raise ValidationFailed("The file has no row.", field="csv")
    known = {s.code for s in State.objects(code__in=list(statuses)).only("code")}
    missing = sorted(set(statuses) - known)
    if missing:
        raise ValidationFailed("Not in the registry: " + ", ".join(missing[:10]) + ".", field="csv")
    updates = plan(statuses)
    if not dry_run and updates:
        apply(updates, note or "bulk import", p)
    return len(statuses), updates
