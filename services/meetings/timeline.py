"""A meeting's timeline: every due date of the Terms of Reference, and where each stands.

Pure: the facts (what was done when) and today's date are passed in. Moving the meeting
recomputes everything, since each due date is derived from the first day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.meetings import deadlines


class TimelineItemKind(StrEnum):
    INVITATION = "INVITATION"
    DRAFT_AGENDA = "DRAFT_AGENDA"
    INVOLVED_STATE_NOTIFICATIONS = "INVOLVED_STATE_NOTIFICATIONS"
    INVOLVED_STATE_RESPONSES = "INVOLVED_STATE_RESPONSES"
    EXPERT_PROPOSALS = "EXPERT_PROPOSALS"
    SILENCE_PROCEDURE_END = "SILENCE_PROCEDURE_END"
    OBJECTION_RESOLUTION = "OBJECTION_RESOLUTION"


class TimelineStatus(StrEnum):
    DONE = "DONE"
    PENDING = "PENDING"
    LATE = "LATE"


RULES = {
    TimelineItemKind.INVITATION: 9,
    TimelineItemKind.DRAFT_AGENDA: 10,
    TimelineItemKind.INVOLVED_STATE_NOTIFICATIONS: 12,
    TimelineItemKind.INVOLVED_STATE_RESPONSES: 12,
    TimelineItemKind.EXPERT_PROPOSALS: 8,
    TimelineItemKind.SILENCE_PROCEDURE_END: 8,
    TimelineItemKind.OBJECTION_RESOLUTION: 8,
}


@dataclass(frozen=True)
class TimelineFacts:
    """What has happened so far, as UTC days. ``None``: not done (yet).

    A deadline that concerns several acts (notifications, responses, proposals, silence
    procedures) is done once all of them are; ``*_open`` counts the ones still outstanding.
    """

    invitation_issued_on: date | None = None
    agenda_distributed_on: date | None = None
    notifications_last_on: date | None = None
    notifications_open: int = 0
    responses_last_on: date | None = None
    responses_open: int = 0
    proposals_last_on: date | None = None
    silence_ends_on: date | None = None  # the latest end among the silence procedures
    silences_open: int = 0
    objections_resolved_on: date | None = None
    objections_open: int = 0


@dataclass(frozen=True)
class TimelineItem:
    kind: TimelineItemKind
    due_on: date
    status: TimelineStatus
    done_on: date | None
    rule: int


def item_status(due_on: date, done_on: date | None, open_acts: int, today: date) -> TimelineStatus:
    """Where one due item stands on ``today``.

    Acts still outstanding: pending up to the due day, late after it. Nothing outstanding:
    done, or late if the last act came after the due day; an item that asked for nothing
    (no presentation involved another State, say) stays pending until its day passes.
    """
    if open_acts > 0:
        return TimelineStatus.LATE if today > due_on else TimelineStatus.PENDING
    if done_on is not None:
        return TimelineStatus.DONE if done_on <= due_on else TimelineStatus.LATE
    return TimelineStatus.DONE if today > due_on else TimelineStatus.PENDING


def item_state(
    due_on: date, done_on: date | None, open_acts: int, today: date
) -> tuple[TimelineStatus, date | None]:
    """One item's state machine: its status and the completion date it shows.

    PENDING   nothing done yet, or acts still outstanding, on or before the due day; it
              shows no completion date (a partly done item is not done).
    LATE      acts outstanding after the due day (no completion date), or the last act
              came after the due day (that date).
    DONE      every act done on or before the due day (that date); or nothing was asked
              and the due day has passed (no date: there was nothing to do).
    """
    status = item_status(due_on, done_on, open_acts, today)
    return status, (done_on if open_acts == 0 else None)


def _item(
    kind: TimelineItemKind, due: date, done: date | None, open_acts: int, today: date
) -> TimelineItem:
    status, shown = item_state(due, done, open_acts, today)
    return TimelineItem(kind, due, status, shown, RULES[kind])


def meeting_timeline(start_date: date, facts: TimelineFacts, today: date) -> list[TimelineItem]:
    """Every due item of one meeting, in date order."""
    s = start_date
    f = facts
    items = [
        _item(
            TimelineItemKind.INVITATION,
            deadlines.invitation_due(s),
            f.invitation_issued_on,
            0 if f.invitation_issued_on else 1,
            today,
        ),
        _item(
            TimelineItemKind.DRAFT_AGENDA,
            deadlines.draft_agenda_due(s),
            f.agenda_distributed_on,
            0 if f.agenda_distributed_on else 1,
            today,
        ),
        _item(
            TimelineItemKind.INVOLVED_STATE_NOTIFICATIONS,
            deadlines.involved_state_notification_due(s),
            f.notifications_last_on,
            f.notifications_open,
            today,
        ),
        _item(
            TimelineItemKind.EXPERT_PROPOSALS,
            deadlines.expert_proposal_due(s),
            f.proposals_last_on,
            0,
            today,
        ),
        _item(
            TimelineItemKind.OBJECTION_RESOLUTION,
            deadlines.objection_resolution_due(s),
            f.objections_resolved_on,
            f.objections_open,
            today,
        ),
        _item(
            TimelineItemKind.INVOLVED_STATE_RESPONSES,
            deadlines.involved_state_response_due(s),
            f.responses_last_on,
            f.responses_open,
            today,
        ),
    ]
    if f.silence_ends_on is not None:
        items.append(
            _item(
                TimelineItemKind.SILENCE_PROCEDURE_END,
                f.silence_ends_on,
                None,
                f.silences_open,
                today,
            )
        )
    return sorted(items, key=lambda i: (i.due_on, i.kind))
