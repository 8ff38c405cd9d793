"""The events the meetings service publishes. Thin: ids, dates, statuses and counts only.

Never agenda content, never the States a presentation involves, never a name (rule 14).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from services.common.catalogue import EventData, declare
from services.meetings.experts import ExpertProposalStatus
from services.meetings.timeline import TimelineItemKind

GLOBAL_ID = Field(pattern=r"^[A-Za-z0-9_=-]{8,80}$", description="Global id, as in the API.")
SERVICE = "meetings"


class MeetingScheduled(EventData):
    meetingId: str = GLOBAL_ID
    startDate: date = Field(description="First day of the meeting.")
    endDate: date = Field(description="Last day of the meeting.")


class MeetingMoved(EventData):
    meetingId: str = GLOBAL_ID
    startDate: date = Field(description="The new first day.")
    endDate: date = Field(description="The new last day.")
    previousStartDate: date = Field(description="The first day before the move.")


class MeetingCancelled(EventData):
    meetingId: str = GLOBAL_ID
    cancelledAt: datetime


class InvitationIssued(EventData):
    meetingId: str = GLOBAL_ID
    issuedAt: datetime
    late: bool = Field(description="Issued after the rule 9 deadline, with a recorded reason.")
    recipientCount: int = Field(ge=0, description="How many addresses it was sent to.")


class AgendaDistributed(EventData):
    meetingId: str = GLOBAL_ID
    distributedAt: datetime


class AgendaAdopted(EventData):
    meetingId: str = GLOBAL_ID
    adoptedAt: datetime


class NotificationSent(EventData):
    meetingId: str = GLOBAL_ID
    presentationId: str = GLOBAL_ID
    notifiedAt: datetime
    replyDueOn: date = Field(
        description="Rule 12: the day the involved States are asked to answer by."
    )


class ExpertProposalChanged(EventData):
    proposalId: str = GLOBAL_ID
    meetingId: str = GLOBAL_ID
    status: ExpertProposalStatus
    changedAt: datetime


class DeadlineApproaching(EventData):
    meetingId: str = GLOBAL_ID
    item: TimelineItemKind = Field(description="Which due item of the meeting's timeline.")
    dueOn: date
    daysLeft: int = Field(ge=0)


MEETING_SCHEDULED = declare(
    SERVICE,
    "meeting",
    "scheduled",
    summary="A Forum meeting was scheduled within a session (rule 3).",
    why="Calendars and the other services learn that a meeting exists; details via the API.",
    data=MeetingScheduled,
)
MEETING_MOVED = declare(
    SERVICE,
    "meeting",
    "moved",
    summary="A meeting's dates changed; every deadline of its timeline moves with them.",
    why="Calendars and reminders recompute their dates.",
    data=MeetingMoved,
)
MEETING_CANCELLED = declare(
    SERVICE,
    "meeting",
    "cancelled",
    summary="A meeting was cancelled; it no longer counts against rule 3's yearly limit.",
    why="Calendars drop it; pending reminders stop.",
    data=MeetingCancelled,
)
INVITATION_ISSUED = declare(
    SERVICE,
    "invitation",
    "issued",
    summary="The invitation with the call for presentations went out (rule 9).",
    why="Participants' systems know the invitation is out and whether it was late.",
    data=InvitationIssued,
)
AGENDA_DISTRIBUTED = declare(
    SERVICE,
    "agenda",
    "distributed",
    summary="The draft agenda and its documents were distributed (rule 10).",
    why="Participants' systems fetch the draft through the API.",
    data=AgendaDistributed,
)
AGENDA_ADOPTED = declare(
    SERVICE,
    "agenda",
    "adopted",
    summary="The agenda was adopted and is frozen; intentions to present close (rule 11).",
    why="The case exchange and calendars know the running order is final.",
    data=AgendaAdopted,
)
NOTIFICATION_SENT = declare(
    SERVICE,
    "notification",
    "sent",
    summary="The States a presentation involves were notified (rule 12).",
    why="Audit of the 30-day notification; the States themselves read it through the API.",
    data=NotificationSent,
)
EXPERT_PROPOSAL_CHANGED = declare(
    SERVICE,
    "expert_proposal",
    "changed",
    summary="A non-state expert proposal changed status (rule 8).",
    why="Participants learn that a silence procedure opened, closed or needs them.",
    data=ExpertProposalChanged,
)
DEADLINE_APPROACHING = declare(
    SERVICE,
    "deadline",
    "approaching",
    summary="A due item of a meeting's timeline is a few days away.",
    why="Reminders for the Secretariat and the States, from the service's scheduler.",
    data=DeadlineApproaching,
)
