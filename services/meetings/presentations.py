"""Rule 12: presentations that involve other States, their notification and response,
and the right of reply in the running order. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from services.common.errors import Conflict, DeadlinePassed, ValidationFailed
from services.meetings.deadlines import (
    involved_state_notification_due,
    involved_state_response_due,
    on_or_before,
    utc_day,
)
from services.meetings.values import state_code

MAX_INVOLVED = 50


def check_involved_states(presenting: str, involved: Iterable[str]) -> list[str]:
    """The States a presentation involves: valid codes, no duplicates, not the presenter."""
    codes = sorted({state_code(c, field="involvedStates") for c in involved})
    if presenting in codes:
        raise ValidationFailed(
            "The presenting State is not one of the States its presentation involves.",
            field="involvedStates",
            rule=12,
        )
    if len(codes) > MAX_INVOLVED:
        raise ValidationFailed("Too many involved States.", field="involvedStates", rule=12)
    return codes


def ensure_may_notify(start_date: date, at: datetime, late_reason: str | None = None) -> date:
    """Rule 12: involved States are notified at least 30 days ahead; returns the day by
    which their response is asked (at least 15 days ahead). Later only with a reason: the
    notification is then late, and the Chair decides whether the presentation stays."""
    due = involved_state_notification_due(start_date)
    if not on_or_before(at, due) and not (late_reason and late_reason.strip()):
        raise DeadlinePassed(
            f"Involved States had to be notified by {due.isoformat()} (30 days before the "
            "meeting); notify them late with a reason (lateReason), and the Chair decides "
            "whether the presentation stays on the agenda.",
            rule=12,
        )
    return max(involved_state_response_due(start_date), utc_day(at))


def is_late(start_date: date, at: datetime) -> bool:
    return not on_or_before(at, involved_state_notification_due(start_date))


def notified_in_time(
    start_date: date, involved: Iterable[str], notified_at: Mapping[str, datetime]
) -> bool:
    """Rule 12: every involved State was notified on or before the 30-day mark."""
    due = involved_state_notification_due(start_date)
    return all(s in notified_at and utc_day(notified_at[s]) <= due for s in involved)


def ensure_may_schedule(
    start_date: date,
    involved: Iterable[str],
    notified_at: Mapping[str, datetime],
    chair_keeps: bool | None = None,
) -> None:
    """Rule 12: a presentation whose involved States were not notified in time goes on
    the agenda only if the Chair decided, recorded, that it stays."""
    if notified_in_time(start_date, involved, notified_at) or chair_keeps:
        return
    raise Conflict(
        "The States this presentation involves were not all notified 30 days before the "
        "meeting; it goes on the agenda only if the Chair decides it stays.",
        rule=12,
    )


def ensure_may_respond(state: str, involved: Iterable[str], notified: Iterable[str]) -> None:
    """Rule 12: an involved State, once notified, answers; its response goes with the
    presentation."""
    if state not in set(involved):
        raise ValidationFailed(f"This presentation does not involve {state}.", rule=12)
    if state not in set(notified):
        raise Conflict(f"{state} has not been notified of this presentation yet.", rule=12)


class RunningOrderKind(StrEnum):
    ITEM = "ITEM"
    PRESENTATION = "PRESENTATION"
    RIGHT_OF_REPLY = "RIGHT_OF_REPLY"


@dataclass(frozen=True)
class ScheduledItem:
    item_id: str
    position: int
    presentation_id: str | None
    involved: tuple[str, ...]


@dataclass(frozen=True)
class RunningOrderEntry:
    kind: RunningOrderKind
    item_id: str
    presentation_id: str | None = None
    state: str | None = None


def running_order(items: Iterable[ScheduledItem]) -> list[RunningOrderEntry]:
    """Rule 12: after each presentation, every involved State has its right of reply."""
    out: list[RunningOrderEntry] = []
    for item in sorted(items, key=lambda i: i.position):
        if item.presentation_id is None:
            out.append(RunningOrderEntry(RunningOrderKind.ITEM, item.item_id))
            continue
        out.append(
            RunningOrderEntry(RunningOrderKind.PRESENTATION, item.item_id, item.presentation_id)
        )
        out += [
            RunningOrderEntry(
                RunningOrderKind.RIGHT_OF_REPLY, item.item_id, item.presentation_id, state
            )
            for state in item.involved
        ]
    return out


@dataclass(frozen=True)
class OrderStep:
    """One step of the running order the Chair gives: an item (or presentation) of the
    adopted agenda, or the right of reply of ``state`` after a presentation."""

    kind: RunningOrderKind
    item_id: str
    state: str | None = None

    @property
    def key(self) -> tuple[str, str, str | None]:
        state = self.state if self.kind is RunningOrderKind.RIGHT_OF_REPLY else None
        return (self.kind.value, self.item_id, state)


def _key(e: RunningOrderEntry) -> tuple[str, str, str | None]:
    return (e.kind.value, e.item_id, e.state)


MAX_ORDER_STEPS = 500


def _with_replies(
    placed: list[RunningOrderEntry], derived: list[RunningOrderEntry]
) -> list[RunningOrderEntry]:
    """Each reply not placed goes right after its presentation."""
    named = {_key(e) for e in placed}
    out: list[RunningOrderEntry] = []
    for e in placed:
        out.append(e)
        if e.kind is RunningOrderKind.PRESENTATION:
            out += [
                r
                for r in derived
                if r.kind is RunningOrderKind.RIGHT_OF_REPLY
                and r.item_id == e.item_id
                and _key(r) not in named
            ]
    return out


def arrange(derived: list[RunningOrderEntry], steps: list[OrderStep]) -> list[RunningOrderEntry]:
    """Rule 12: the running order as the Chair sets it. Every item of the adopted agenda
    once (nothing else); a right of reply the Chair places comes after its presentation,
    and one left out stays right after its presentation."""
    if len(steps) > MAX_ORDER_STEPS:
        raise ValidationFailed(f"At most {MAX_ORDER_STEPS} steps.", field="steps", rule=12)
    known = {_key(e): e for e in derived}
    placed: list[RunningOrderEntry] = []
    seen: set[tuple[str, str, str | None]] = set()
    for step in steps:
        entry = known.get(step.key)
        if entry is None:
            what = "right of reply" if step.kind is RunningOrderKind.RIGHT_OF_REPLY else "item"
            raise ValidationFailed(
                f"This {what} is not on the adopted agenda of this meeting.", field="steps", rule=12
            )
        if step.key in seen:
            raise ValidationFailed("A step is placed twice.", field="steps", rule=12)
        if step.kind is RunningOrderKind.RIGHT_OF_REPLY and (
            (RunningOrderKind.PRESENTATION.value, step.item_id, None) not in seen
        ):
            raise ValidationFailed(
                "A right of reply comes after the presentation it answers.", field="steps", rule=12
            )
        seen.add(step.key)
        placed.append(entry)
    missing = [e for e in derived if e.kind is not RunningOrderKind.RIGHT_OF_REPLY]
    if any(_key(e) not in seen for e in missing):
        raise ValidationFailed(
            "Place every item of the adopted agenda once.", field="steps", rule=12
        )
    return _with_replies(placed, derived)


def follow(
    derived: list[RunningOrderEntry], stored: list[OrderStep] | None
) -> list[RunningOrderEntry]:
    """The running order shown: the Chair's, if set, for what is still on the agenda (an
    item added since comes at the end); else the agenda's own order."""
    if not stored:
        return derived
    known = {_key(e): e for e in derived}
    placed = [known[s.key] for s in stored if s.key in known]
    named = {_key(e) for e in placed}
    placed += [
        e for e in derived if e.kind is not RunningOrderKind.RIGHT_OF_REPLY and _key(e) not in named
    ]
    return _with_replies(placed, derived)
