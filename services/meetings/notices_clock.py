"""The notices time gives (rule 8's silence ended and referral; deadline reminders at
``DIEF_MEETINGS_REMINDER_DAYS``): each scheduler round tells of what changed since, once
each (a notice's ``key``), to the recipients the directory last named for those States
(``KnownRecipients``: the clock has no caller whose token could ask it), and to the
Secretariat's own address for its deadlines.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from mongoengine.queryset.visitor import Q
from pymongo.errors import DuplicateKeyError

from services.common.errors import Conflict
from services.common.notifications.kinds import Audience, NoticeKind
from services.common.notifications.queue import Notice
from services.common.notifications.recipients import Recipient, Resolution
from services.common.unit_of_work import unit_of_work
from services.meetings import notices
from services.meetings.deadlines import utc_day
from services.meetings.documents import (
    ALIAS,
    ExpertProposal,
    Meeting,
    NoticeRecord,
    Presentation,
    Registration,
    ReminderSent,
)
from services.meetings.experts import ExpertProposalStatus
from services.meetings.timeline import TimelineItemKind

# What happened within this span is told of (a service down longer than this does not
# send stale news; each notice is told once in any case).
RECENT = timedelta(days=3)
SECRETARIAT_ITEMS = {TimelineItemKind.INVITATION, TimelineItemKind.DRAFT_AGENDA}


def _issue(
    key: str,
    notice: Notice,
    resolution: Resolution,
    meeting: Meeting,
    now: datetime,
    secretariat: Recipient | None = None,
) -> int:
    if NoticeRecord.objects(key=key).first() is not None:
        return 0
    if secretariat is not None:
        resolution = Resolution((*resolution.recipients, secretariat), resolution.unreachable)
    try:
        with unit_of_work(ALIAS) as uow:
            notices.record(uow, notice, resolution, now, meeting=meeting, secretariat=True, key=key)
    except (DuplicateKeyError, Conflict):
        return 0  # another replica told of it
    return 1


def _referral_states(meeting: Meeting) -> list[str]:
    """Rule 8: a referral goes to "the State Parties that participate in the meeting": the
    States Parties registered for it; before anyone registered, every State Party known.
    A signatory State takes part in the meeting (rule 6) but is not told here."""
    parties = notices.known_state_parties(Audience.MEETINGS.value)
    registered = {r.state for r in Registration.objects(meeting_id=meeting.pk)}
    return sorted(parties & registered if registered else parties)


def _experts(now: datetime, link: str) -> int:
    told = 0
    since = now - RECENT
    for proposal in ExpertProposal.objects(
        Q(approved_at__gte=since) | Q(referred_at__gte=since),
        status__in=[ExpertProposalStatus.APPROVED, ExpertProposalStatus.REFERRED],
    ):
        meeting = Meeting.objects(pk=proposal.meeting_id).first()
        if meeting is None:
            continue
        if proposal.status is ExpertProposalStatus.APPROVED:
            kind, states = NoticeKind.EXPERT_SILENCE_ENDED, None
        else:
            kind, states = NoticeKind.EXPERT_REFERRED, _referral_states(meeting)
        notice = notices.expert_notice(
            meeting, kind, proposal.expert_name, proposal.proposing_state, link
        )
        key = f"{kind.value}:{proposal.pk}"
        told += _issue(key, notice, notices.known(states, Audience.MEETINGS.value), meeting, now)
    return told


def _reminded_states(meeting: Meeting, item: TimelineItemKind) -> list[str] | None:
    """Who a reminder concerns besides the Secretariat (None: every participant)."""
    if item in SECRETARIAT_ITEMS:
        return []
    if item is TimelineItemKind.OBJECTION_RESOLUTION:
        # rule 8: the objecting and proposing States of an objection still open; with none,
        # there is nothing for any State to do
        return sorted(
            {
                state
                for x in ExpertProposal.objects(
                    meeting_id=meeting.pk, status=ExpertProposalStatus.OBJECTED
                )
                for state in (x.proposing_state, *(o.state for o in x.objections))
            }
        )
    presentations = list(Presentation.objects(meeting_id=meeting.pk))
    if item is TimelineItemKind.INVOLVED_STATE_NOTIFICATIONS:
        return sorted(
            {
                p.presenting_state
                for p in presentations
                if set(p.involved_states) - {n.state for n in p.notifications}
            }
        )
    if item is TimelineItemKind.INVOLVED_STATE_RESPONSES:
        return sorted(
            {
                n.state
                for p in presentations
                for n in p.notifications
                if n.state not in {r.state for r in p.responses}
            }
        )
    return None


def _reminders(now: datetime, secretariat: Recipient) -> int:
    today = utc_day(now)
    told = 0
    for sent in ReminderSent.objects(sent_at__lte=now, sent_at__gte=now - RECENT):
        _meeting, item, due, _threshold = sent.key.split(":")
        meeting = Meeting.objects(pk=sent.meeting_id).first()
        if meeting is None:
            continue
        kind = TimelineItemKind(item)
        due_on = date.fromisoformat(due)
        states = _reminded_states(meeting, kind)
        audience = (
            Audience.INFORMATION
            if kind is TimelineItemKind.INVOLVED_STATE_RESPONSES
            else Audience.MEETINGS
        )
        resolution = Resolution((), ()) if states == [] else notices.known(states, audience.value)
        notice = notices.deadline_reminder(meeting, item, due_on, (due_on - today).days)
        key = f"{NoticeKind.DEADLINE_REMINDER.value}:{sent.key}"
        told += _issue(key, notice, resolution, meeting, now, secretariat)
    return told


def tell_of_time(now: datetime, secretariat_email: str, link: str) -> int:
    """One round: how many notices were issued."""
    secretariat = Recipient("SECRETARIAT", secretariat_email, "SECRETARIAT")
    return _experts(now, link) + _reminders(now, secretariat)
