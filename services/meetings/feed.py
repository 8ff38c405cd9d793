"""The iCalendar feed of one participant: the meetings it may see and the deadlines that
concern its State (``GET /meetings/calendar.ics``)."""

from __future__ import annotations

from datetime import date, datetime

from services.common.ids import to_global_id
from services.common.principal import Principal, require_authenticated
from services.meetings import access, deadlines, handlers
from services.meetings.calendar import CalendarEntry, calendar
from services.meetings.documents import Meeting, Presentation
from services.meetings.domain import MeetingStatus


def _deadline(uid: str, summary: str, day: date) -> CalendarEntry:
    return CalendarEntry(uid=uid, summary=summary, first_day=day, last_day=day)


def feed_entries(principal: Principal) -> list[CalendarEntry]:
    """Every meeting not cancelled (past ones too, so that a calendar keeps its history),
    with the deadlines that concern the caller: expert proposals (any participant may
    propose), and for the caller's State the notifications its own presentations owe and
    the responses asked of it (rule 12)."""
    state = principal.state
    entries: list[CalendarEntry] = []
    for meeting in Meeting.objects(status=MeetingStatus.SCHEDULED).order_by("start_date"):
        mid = to_global_id("Meeting", meeting.pk)
        s = meeting.start_date
        entries.append(
            CalendarEntry(
                uid=f"meeting-{mid}@dief",
                summary="Diversion Information Exchange Forum meeting",
                first_day=s,
                last_day=meeting.end_date,
                location=meeting.venue,
            )
        )
        entries.append(
            _deadline(
                f"expert-proposals-{mid}@dief",
                "DIEF: non-state expert proposals due (rule 8)",
                deadlines.expert_proposal_due(s),
            )
        )
        if state is None:
            continue
        if Presentation.objects(
            meeting_id=meeting.pk, presenting_state=state, involved_states__ne=[]
        ).first():
            entries.append(
                _deadline(
                    f"notifications-{mid}-{state}@dief",
                    "DIEF: notify the States your presentation involves (rule 12)",
                    deadlines.involved_state_notification_due(s),
                )
            )
        if Presentation.objects(meeting_id=meeting.pk, involved_states=state).first():
            entries.append(
                _deadline(
                    f"responses-{mid}-{state}@dief",
                    "DIEF: response to a presentation involving your State due (rule 12)",
                    deadlines.involved_state_response_due(s),
                )
            )
    return entries


def participant_feed(principal: Principal | None, now: datetime) -> bytes:
    """Rule 14: for participants' representatives and the organisers only."""
    p, part = handlers.caller(require_authenticated(principal))
    access.ensure_may_see_meeting(p, part)
    return calendar(feed_entries(p), now)
