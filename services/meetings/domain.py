"""Pure rules of Forum meetings: sessions, the calendar, the Chair and the invitation.

No database, no web, no clock: every date or instant is passed in. The other rules of the
meetings service live beside this module: ``deadlines`` (the dates), ``agenda`` (rules 10,
11, 23), ``presentations`` (rule 12), ``experts`` (rule 8), ``participation`` (rules 6, 7),
``access`` (rules 8, 14: who sees what), ``briefing`` (rule 22) and ``timeline`` (all dates of
one meeting). Rule numbers are those of the DIEF Terms of Reference.

Rule 17 (no minutes, no official report): nothing here or beside it stores what was said in
a meeting; only dates, decisions, notifications and responses the rules need.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from services.common.errors import Conflict, DeadlinePassed, Forbidden, ValidationFailed
from services.common.principal import Principal
from services.meetings.deadlines import invitation_due, on_or_before, utc_day
from services.meetings.values import MAX_TEXT, text

MAX_MEETINGS_A_YEAR = 2


# --- sessions and meetings (rule 3) ------------------------------------------------------


class SessionKind(StrEnum):
    PREPARATORY_MEETING = "PREPARATORY_MEETING"
    CSP = "CSP"


@dataclass(frozen=True)
class Session:
    """A session of preparatory meetings or a Conference of States Parties."""

    id: str
    kind: SessionKind
    name: str
    start_date: date
    end_date: date


class MeetingStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Meeting:
    id: str
    session_id: str
    start_date: date
    end_date: date
    venue: str
    status: MeetingStatus = MeetingStatus.SCHEDULED

    @property
    def cancelled(self) -> bool:
        return self.status is MeetingStatus.CANCELLED


def check_dates(start_date: date, end_date: date) -> None:
    if end_date < start_date:
        raise ValidationFailed("The last day cannot come before the first day.", field="endDate")


def check_session(session: Session) -> Session:
    text(session.name, "name")
    check_dates(session.start_date, session.end_date)
    return session


def ensure_within_session(session: Session, start_date: date, end_date: date) -> None:
    """Rule 3: the Forum meets during a session of preparatory meetings or of the CSP.

    Decision: every day of the meeting lies within the session's first and last day,
    both included.
    """
    if not session.start_date <= start_date <= session.end_date:
        raise ValidationFailed(
            f"The meeting must start during {session.name} "
            f"({session.start_date.isoformat()} to {session.end_date.isoformat()}).",
            field="startDate",
            rule=3,
        )
    if not session.start_date <= end_date <= session.end_date:
        raise ValidationFailed(
            f"The meeting must end by the last day of {session.name} "
            f"({session.end_date.isoformat()}).",
            field="endDate",
            rule=3,
        )


def counted_start_dates(meetings: Iterable[Meeting], *, excluding: str | None = None) -> list[date]:
    """The start dates that count against rule 3's yearly limit: cancelled meetings do not,
    nor does the meeting being moved (``excluding``)."""
    return [m.start_date for m in meetings if not m.cancelled and m.id != excluding]


def ensure_at_most_two_meetings_a_year(other_start_dates: Iterable[date], start_date: date) -> None:
    """Rule 3: the Forum meets up to twice a calendar year.

    A meeting belongs to the calendar year of its first day. ``other_start_dates`` are the
    first days of the other meetings that are not cancelled (see ``counted_start_dates``).
    """
    same_year = [d for d in other_start_dates if d.year == start_date.year]
    if len(same_year) >= MAX_MEETINGS_A_YEAR:
        listed = ", ".join(sorted(d.isoformat() for d in same_year))
        raise Conflict(
            f"The Forum meets at most {MAX_MEETINGS_A_YEAR} times a year; {start_date.year} "
            f"already has meetings on {listed}. Cancel or move one first.",
            field="startDate",
            rule=3,
        )


def schedule_meeting(
    meeting_id: str,
    session: Session,
    start_date: date,
    end_date: date,
    venue: str,
    existing: Iterable[Meeting],
) -> Meeting:
    """Rule 3: a new meeting, tied to its session, within the yearly limit."""
    check_dates(start_date, end_date)
    ensure_within_session(session, start_date, end_date)
    ensure_at_most_two_meetings_a_year(counted_start_dates(existing), start_date)
    return Meeting(meeting_id, session.id, start_date, end_date, text(venue, "venue"))


def move_meeting(
    meeting: Meeting,
    session: Session,
    start_date: date,
    end_date: date,
    existing: Iterable[Meeting],
    venue: str | None = None,
) -> Meeting:
    """Rule 3 again for the new dates. Every deadline follows (see ``timeline``)."""
    if meeting.cancelled:
        raise Conflict("A cancelled meeting cannot be moved.", field="status", rule=3)
    check_dates(start_date, end_date)
    ensure_within_session(session, start_date, end_date)
    ensure_at_most_two_meetings_a_year(
        counted_start_dates(existing, excluding=meeting.id), start_date
    )
    return replace(
        meeting,
        session_id=session.id,
        start_date=start_date,
        end_date=end_date,
        venue=meeting.venue if venue is None else text(venue, "venue"),
    )


def cancel_meeting(meeting: Meeting) -> Meeting:
    """A cancelled meeting no longer counts against rule 3's yearly limit."""
    if meeting.cancelled:
        raise Conflict("This meeting is cancelled already.", field="status", rule=3)
    return replace(meeting, status=MeetingStatus.CANCELLED)


# --- the Chair (rule 4) ------------------------------------------------------------------


@dataclass(frozen=True)
class ChairAppointment:
    chair: str
    appointed_on: date
    term_ends_on: date | None  # None while the following CSP has no dates yet
    ended_on: date | None = None  # ended early, explicitly, by a new appointment

    def covers(self, on: date) -> bool:
        last = min((d for d in (self.term_ends_on, self.ended_on) if d is not None), default=None)
        return self.appointed_on <= on and (last is None or on <= last)


def chair_term_ends_on(appointed_on: date, sessions: Iterable[Session]) -> date | None:
    """Rule 4: the Chair serves until the conclusion of the following CSP.

    The following CSP is the first CSP session that begins after the day of appointment;
    the term ends on its last day. None while no such CSP is scheduled.
    """
    following = [s for s in sessions if s.kind is SessionKind.CSP and s.start_date > appointed_on]
    if not following:
        return None
    return min(following, key=lambda s: s.start_date).end_date


def appoint_chair(
    chair: str, appointed_on: date, sessions: Iterable[Session], ended_on: date | None = None
) -> ChairAppointment:
    """Rule 4: the President of the Conference appoints the Chair, for a term."""
    return ChairAppointment(
        text(chair, "chair", rule=4),
        appointed_on,
        chair_term_ends_on(appointed_on, sessions),
        ended_on,
    )


def terms_to_end(
    existing: Iterable[ChairAppointment], appointed_on: date, end_previous: bool
) -> list[int]:
    """Rule 4: one Chair at a time. A new term may not overlap one in force on its first
    day, unless the previous term is ended explicitly (the day before); returns the
    indexes of the terms to end."""
    overlapping = [i for i, a in enumerate(existing) if a.covers(appointed_on)]
    later = [a for a in existing if a.appointed_on > appointed_on]
    if later:
        raise Conflict(
            f"{later[0].chair} was appointed later, on {later[0].appointed_on.isoformat()}; "
            "an earlier term cannot be recorded after it.",
            field="appointedOn",
            rule=4,
        )
    if overlapping and not end_previous:
        current = list(existing)[overlapping[-1]]
        until = current.term_ends_on.isoformat() if current.term_ends_on else "the next CSP"
        raise Conflict(
            f"{current.chair}'s term runs until {until}; to appoint a new Chair from "
            f"{appointed_on.isoformat()}, end that term explicitly (endPreviousTerm).",
            field="appointedOn",
            rule=4,
        )
    return overlapping


def current_chair(appointments: Iterable[ChairAppointment], on: date) -> ChairAppointment | None:
    """Rule 4: the Chair on a given day: an appointment whose term covers that day; where
    terms overlap, the most recent appointment has superseded the earlier one."""
    in_force = [(a.appointed_on, index, a) for index, a in enumerate(appointments) if a.covers(on)]
    return max(in_force, key=lambda entry: entry[:2])[2] if in_force else None


# --- the invitation (rule 9) -------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    meeting_id: str
    start_date: date
    end_date: date
    venue: str
    call_for_presentations: str
    issued_at: datetime
    late_reason: str | None = None

    @property
    def late(self) -> bool:
        """Issued after the rule 9 deadline, with the Secretariat's reason."""
        return self.late_reason is not None


def check_invitation(invitation: Invitation) -> Invitation:
    """Rule 9: the invitation states the meeting's date and venue and always carries the
    call to present cases and share diversion-related information."""
    if invitation.start_date is None or invitation.end_date is None:
        raise ValidationFailed("The invitation states the meeting's dates.", field="date", rule=9)
    check_dates(invitation.start_date, invitation.end_date)
    text(invitation.venue, "venue", rule=9)
    text(invitation.call_for_presentations, "callForPresentations", max_length=MAX_TEXT, rule=9)
    return invitation


def ensure_may_issue_invitation(principal: Principal) -> None:
    """Rule 9: the Secretariat, in consultation with the Chair, distributes the invitation."""
    if not principal.is_secretariat:
        raise Forbidden("The Secretariat issues the invitation to a meeting.", rule=9)


def invitation_lateness(
    start_date: date, issued_at: datetime, late_reason: str | None
) -> str | None:
    """Rule 9: the invitation goes out at least 50 days ahead.

    Later than ``start_date - 50 days`` it is refused, unless the Secretariat gives the
    reason; then it goes out flagged late. Returns the reason when late, else None.
    """
    due = invitation_due(start_date)
    if on_or_before(issued_at, due):
        return None
    if late_reason is None or not late_reason.strip():
        raise DeadlinePassed(
            f"The invitation was due by {due.isoformat()} (50 days before the meeting); "
            "issue it late only with a reason.",
            field="lateReason",
            rule=9,
        )
    return text(late_reason, "lateReason", max_length=MAX_TEXT, rule=9)


def issue_invitation(
    meeting: Meeting,
    *,
    issued_by: Principal,
    issued_at: datetime,
    call_for_presentations: str,
    late_reason: str | None = None,
) -> Invitation:
    """Rule 9: the invitation to every participant, with date, venue and the call."""
    ensure_may_issue_invitation(issued_by)
    if meeting.cancelled:
        raise Conflict("A cancelled meeting gets no invitation.", field="status", rule=9)
    if utc_day(issued_at) >= meeting.start_date:
        raise DeadlinePassed(
            "The meeting has begun; an invitation can no longer be issued.",
            field="issuedAt",
            rule=9,
        )
    reason = invitation_lateness(meeting.start_date, issued_at, late_reason)
    return check_invitation(
        Invitation(
            meeting_id=meeting.id,
            start_date=meeting.start_date,
            end_date=meeting.end_date,
            venue=meeting.venue,
            call_for_presentations=call_for_presentations.strip(),
            issued_at=issued_at,
            late_reason=reason,
        )
    )


def invitation_is_current(invitation: Invitation, meeting: Meeting) -> bool:
    """Rule 9: an invitation states the date and venue; once the meeting moves, the old
    one no longer does, and a new invitation is due."""
    return (
        invitation.meeting_id == meeting.id
        and invitation.start_date == meeting.start_date
        and invitation.end_date == meeting.end_date
        and invitation.venue == meeting.venue
    )
