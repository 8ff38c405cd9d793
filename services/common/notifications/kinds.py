"""What the Terms of Reference require people to be told, and to whom by role (pure)."""

from __future__ import annotations

from enum import StrEnum


class Audience(StrEnum):
    """Which of a State's contacts a notice concerns; a State chooses the roles of each."""

    MEETINGS = "MEETINGS"  # the Forum's meetings: invitation, agenda, changes, experts
    INFORMATION = "INFORMATION"  # exchanged information: rules 12, 15, 16
    DIRECTORY = "DIRECTORY"  # the directory itself: rule 20


class NoticeKind(StrEnum):
    INVITATION = "INVITATION"  # rule 9
    AGENDA_DISTRIBUTED = "AGENDA_DISTRIBUTED"  # rule 10
    AGENDA_ADOPTED = "AGENDA_ADOPTED"  # rule 10
    INVOLVED_STATE_NOTIFIED = "INVOLVED_STATE_NOTIFIED"  # rule 12, with the response request
    RESPONSE_RECEIVED = "RESPONSE_RECEIVED"  # rule 12, to the presenting State
    EXPERT_PROPOSAL_CIRCULATED = "EXPERT_PROPOSAL_CIRCULATED"  # rule 8
    # rule 8, to the presenting State when another State proposes for its presentation
    EXPERT_PROPOSED_FOR_YOUR_PRESENTATION = "EXPERT_PROPOSED_FOR_YOUR_PRESENTATION"
    EXPERT_OBJECTION_RAISED = "EXPERT_OBJECTION_RAISED"  # rule 8
    EXPERT_SILENCE_ENDED = "EXPERT_SILENCE_ENDED"  # rule 8
    EXPERT_REFERRED = "EXPERT_REFERRED"  # rule 8
    DEADLINE_REMINDER = "DEADLINE_REMINDER"  # DIEF_MEETINGS_REMINDER_DAYS
    MEETING_MOVED = "MEETING_MOVED"
    MEETING_CANCELLED = "MEETING_CANCELLED"
    DISCLOSURE_CONCERN_RAISED = "DISCLOSURE_CONCERN_RAISED"  # rule 15, the two sides only
    DISCLOSURE_CONCERN_ANSWERED = "DISCLOSURE_CONCERN_ANSWERED"  # rule 15
    USE_REQUESTED = "USE_REQUESTED"  # rule 16
    USE_DECIDED = "USE_DECIDED"  # rule 16
    REVERIFICATION_DUE = "REVERIFICATION_DUE"  # rule 20, to the contact itself
    STALE_CONTACTS = "STALE_CONTACTS"  # rule 20, to the State's national point of contact
    FRESHNESS_REPORT = "FRESHNESS_REPORT"  # rule 20, to the Secretariat


AUDIENCE: dict[NoticeKind, Audience] = {
    **{k: Audience.MEETINGS for k in NoticeKind},
    NoticeKind.INVOLVED_STATE_NOTIFIED: Audience.INFORMATION,
    NoticeKind.RESPONSE_RECEIVED: Audience.INFORMATION,
    NoticeKind.DISCLOSURE_CONCERN_RAISED: Audience.INFORMATION,
    NoticeKind.DISCLOSURE_CONCERN_ANSWERED: Audience.INFORMATION,
    NoticeKind.USE_REQUESTED: Audience.INFORMATION,
    NoticeKind.USE_DECIDED: Audience.INFORMATION,
    NoticeKind.REVERIFICATION_DUE: Audience.DIRECTORY,
    NoticeKind.STALE_CONTACTS: Audience.DIRECTORY,
    NoticeKind.FRESHNESS_REPORT: Audience.DIRECTORY,
}

NPC = "NATIONAL_POINT_OF_CONTACT"
ENFORCEMENT = "DIEF_ENFORCEMENT_CONTACT"
ALTERNATE = "ALTERNATE"

# What a State gets until it chooses otherwise: meetings business to its national point
# of contact, exchanged information to its enforcement contact and the point of contact.
DEFAULT_ROLES: dict[Audience, tuple[str, ...]] = {
    Audience.MEETINGS: (NPC,),
    Audience.INFORMATION: (ENFORCEMENT, NPC),
    Audience.DIRECTORY: (NPC,),
}
