"""The dates of the Terms of Reference, one function per deadline. Pure: no clock.

All deadlines count whole calendar days before the meeting's first day, in UTC. "At least
50 days in advance" means the act is on or before ``start_date - 50 days``. An act recorded
as an instant counts on its UTC calendar day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

INVITATION_DAYS = 50
DRAFT_AGENDA_DAYS = 30
EXPERT_PROPOSAL_DAYS = 30
SILENCE_DAYS = 5
OBJECTION_RESOLUTION_DAYS = 20
INVOLVED_STATE_NOTIFICATION_DAYS = 30
INVOLVED_STATE_RESPONSE_DAYS = 15


def utc_day(moment: datetime) -> date:
    """The UTC calendar day an instant falls on. A naive datetime is a programming error."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Times in the meetings domain carry a time zone (UTC preferred).")
    return moment.astimezone(UTC).date()


def on_or_before(moment: datetime | date, due_on: date) -> bool:
    """Whether an act (an instant, or a UTC day) happened on or before its due day."""
    day = utc_day(moment) if isinstance(moment, datetime) else moment
    return day <= due_on


def invitation_due(start_date: date) -> date:
    """Rule 9: the invitation goes out at least 50 days ahead."""
    return start_date - timedelta(days=INVITATION_DAYS)


def draft_agenda_due(start_date: date) -> date:
    """Rule 10: the draft agenda is distributed at least 30 days ahead."""
    return start_date - timedelta(days=DRAFT_AGENDA_DAYS)


def expert_proposal_due(start_date: date) -> date:
    """Rule 8: a non-state expert is proposed at least 30 days ahead."""
    return start_date - timedelta(days=EXPERT_PROPOSAL_DAYS)


def silence_ends_on(circulated_at: datetime) -> date:
    """Rule 8: the silence procedure lasts five days from circulation.

    Circulated on day D (UTC), objections are accepted up to and including day D + 5;
    from day D + 6 the silence is over.
    """
    return utc_day(circulated_at) + timedelta(days=SILENCE_DAYS)


def objection_resolution_due(start_date: date) -> date:
    """Rule 8: an objection not resolved at least 20 days ahead goes to the meeting."""
    return start_date - timedelta(days=OBJECTION_RESOLUTION_DAYS)


def involved_state_notification_due(start_date: date) -> date:
    """Rule 12: States a presentation involves are notified at least 30 days ahead."""
    return start_date - timedelta(days=INVOLVED_STATE_NOTIFICATION_DAYS)


def involved_state_response_due(start_date: date) -> date:
    """Rule 12: their response is requested for at least 15 days ahead."""
    return start_date - timedelta(days=INVOLVED_STATE_RESPONSE_DAYS)
