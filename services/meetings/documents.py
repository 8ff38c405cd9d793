"""How meetings are stored (the meetings service's own MongoDB database).

Document files live in GridFS (``fs.files``/``fs.chunks``); ``MeetingDocument`` holds their
metadata. Nothing here stores what was said in a meeting (rule 17).
"""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateField,
    DateTimeField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentField,
    EmbeddedDocumentListField,
    EnumField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from services.common.clock import utcnow
from services.common.notifications.documents import KnownRecipient, NoticeDelivery, NoticeEntry
from services.common.participants import KnownParticipantStatus
from services.meetings.agenda import AgendaStatus
from services.meetings.domain import MeetingStatus, SessionKind
from services.meetings.experts import ExpertDecision, ExpertProposalStatus
from services.meetings.participation import DelegateFunction

ALIAS = "meetings"


class Session(Document):
    meta = {"db_alias": ALIAS, "collection": "sessions", "ordering": ["start_date"]}

    kind = EnumField(SessionKind, required=True)
    name = StringField(required=True, max_length=300)
    start_date = DateField(required=True)
    end_date = DateField(required=True)
    created_by = StringField(required=True)
    created_at = DateTimeField(default=utcnow)


class ChairAppointment(Document):
    meta = {"db_alias": ALIAS, "collection": "chair_appointments", "ordering": ["appointed_on"]}

    chair = StringField(required=True, max_length=300)
    appointed_on = DateField(required=True)
    appointed_by = StringField(required=True, max_length=300)  # the CSP President
    recorded_by = StringField(required=True)
    recorded_at = DateTimeField(default=utcnow)
    ended_on = DateField()  # ended early by the next appointment (rule 4), explicitly
    version = IntField(default=0, min_value=0)


class Invitation(EmbeddedDocument):
    issued_at = DateTimeField(required=True)
    issued_by = StringField(required=True)
    call_for_presentations = StringField(required=True)
    late_reason = StringField()
    start_date = DateField(required=True)
    end_date = DateField(required=True)
    venue = StringField(required=True)
    recipient_count = IntField(default=0)
    unreachable_state_codes = ListField(StringField())


class ConfidentialityDecision(EmbeddedDocument):
    """Rule 14: the participants decided to make the agenda or one document public."""

    target = StringField(required=True, choices=("AGENDA", "DOCUMENT"))
    document_id = ObjectIdField()
    decided_on = DateField(required=True)
    recorded_by = StringField(required=True)
    recorded_at = DateTimeField(required=True)


class RunningOrderStep(EmbeddedDocument):
    """Rule 12: one step of the running order as the Chair set it."""

    kind = StringField(required=True, choices=("ITEM", "PRESENTATION", "RIGHT_OF_REPLY"))
    item_id = StringField(required=True)
    state = StringField()


class RunningOrderChange(EmbeddedDocument):
    """Who changed the running order, when, and why (recorded; never overwritten)."""

    changed_by = StringField(required=True)
    changed_at = DateTimeField(required=True)
    reason = StringField()


class Meeting(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "meetings",
        "indexes": [
            "start_date",
            "status",
            {"fields": ["start_date", "id"], "name": "start_date_id"},  # the calendar
        ],
        "ordering": ["start_date"],
    }

    session_id = ObjectIdField(required=True)
    start_date = DateField(required=True)
    end_date = DateField(required=True)
    venue = StringField(required=True, max_length=300)
    status = EnumField(MeetingStatus, default=MeetingStatus.SCHEDULED)
    decided_by = StringField(required=True, max_length=300)  # rule 3: the CSP President
    decided_on = DateField(required=True)
    recorded_by = StringField(required=True)
    created_at = DateTimeField(default=utcnow)
    cancelled_at = DateTimeField()
    invitation = EmbeddedDocumentField(Invitation)
    agenda_status = EnumField(AgendaStatus, default=AgendaStatus.DRAFT)
    agenda_distributed_at = DateTimeField()
    agenda_late_reason = StringField()  # rule 10: distributed after the 30-day mark
    agenda_adopted_at = DateTimeField()
    confidentiality = EmbeddedDocumentListField(ConfidentialityDecision)
    running_order = EmbeddedDocumentListField(RunningOrderStep)  # empty: the agenda's order
    running_order_changes = EmbeddedDocumentListField(RunningOrderChange)
    version = IntField(default=0, min_value=0)

    @property
    def agenda_public(self) -> bool:
        return any(d.target == "AGENDA" for d in self.confidentiality)


class CalendarYear(Document):
    """Rule 3's guard: every meeting scheduled or moved into a year saves this document,
    so that two Secretariat members scheduling at once cannot both take the last slot."""

    meta = {"db_alias": ALIAS, "collection": "calendar_years"}

    year = IntField(primary_key=True)
    version = IntField(default=0, min_value=0)


class AgendaItem(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "agenda_items",
        "indexes": [("meeting_id", "position")],
        "ordering": ["position"],
    }

    meeting_id = ObjectIdField(required=True)
    position = IntField(required=True, min_value=1)
    title = StringField(required=True, max_length=300)
    presentation_id = ObjectIdField()
    created_by = StringField(required=True)
    created_at = DateTimeField(default=utcnow)


class Notification(EmbeddedDocument):
    state = StringField(required=True)
    notified_at = DateTimeField(required=True)
    reply_due_on = DateField(required=True)
    late_reason = StringField()  # rule 12: notified after the 30-day mark


class Response(EmbeddedDocument):
    state = StringField(required=True)
    text = StringField(required=True)
    at = DateTimeField(required=True)
    by = StringField(required=True)


class Presentation(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "presentations",
        "indexes": ["meeting_id", "presenting_state", "involved_states"],
        "ordering": ["intended_at"],
    }

    meeting_id = ObjectIdField(required=True)
    presenting_state = StringField(required=True)
    title = StringField(required=True, max_length=300)
    involved_states = ListField(StringField())
    intended_at = DateTimeField(required=True)
    intended_by = StringField(required=True)
    notifications = EmbeddedDocumentListField(Notification)
    responses = EmbeddedDocumentListField(Response)
    agenda_item_id = ObjectIdField()
    # Rule 12, a late notification: the Chair's recorded decision whether it stays.
    chair_keeps = BooleanField()
    chair_decided_by = StringField()
    chair_decided_at = DateTimeField()
    version = IntField(default=0, min_value=0)


class MeetingDocument(Document):
    """A supporting document (rules 10, 23); the file itself is in GridFS."""

    meta = {
        "db_alias": ALIAS,
        "collection": "documents",
        "indexes": ["meeting_id", "agenda_item_id"],
        "ordering": ["uploaded_at"],
    }

    meeting_id = ObjectIdField(required=True)
    agenda_item_id = ObjectIdField(required=True)
    presentation_id = ObjectIdField()
    filename = StringField(required=True)
    media_type = StringField(required=True)
    language = StringField(required=True, choices=("ar", "zh", "en", "fr", "ru", "es"))
    size = IntField(required=True)
    sha256 = StringField(required=True)
    file_id = ObjectIdField(required=True)
    uploaded_by = StringField(required=True)
    uploaded_at = DateTimeField(required=True)


class Objection(EmbeddedDocument):
    state = StringField(required=True)
    at = DateTimeField(required=True)
    by = StringField(required=True)
    withdrawn_at = DateTimeField()


class Consultation(EmbeddedDocument):
    state = StringField(required=True)
    at = DateTimeField(required=True)
    by = StringField(required=True)


class ExpertProposal(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "expert_proposals",
        "indexes": ["meeting_id", "status", "expert_subject"],
        "ordering": ["proposed_at"],
    }

    meeting_id = ObjectIdField(required=True)
    presentation_id = ObjectIdField(required=True)
    presenting_state = StringField(regex=r"^[A-Z]{3}$")  # the presentation's, at proposal
    proposing_state = StringField(required=True)
    expert_name = StringField(required=True, max_length=200)
    expert_subject = StringField(required=True, max_length=200)  # how the expert signs in
    purpose = StringField(required=True)
    status = EnumField(ExpertProposalStatus, required=True)
    proposed_at = DateTimeField(required=True)
    proposed_by = StringField(required=True)
    silence_ends_on = DateField(required=True)
    objections = EmbeddedDocumentListField(Objection)
    consultations = EmbeddedDocumentListField(Consultation)
    resolved_at = DateTimeField()
    referred_at = DateTimeField()
    approved_at = DateTimeField()
    decision = EnumField(ExpertDecision)
    decided_at = DateTimeField()
    decided_on = DateField()
    decision_recorded_by = StringField()
    version = IntField(default=0, min_value=0)


class Registration(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "registrations",
        "indexes": [("meeting_id", "state"), "state"],
        "ordering": ["registered_at"],
    }

    meeting_id = ObjectIdField(required=True)
    state = StringField(required=True)
    name = StringField(required=True, max_length=200)
    function = EnumField(DelegateFunction, required=True)
    registered_by = StringField(required=True)
    registered_at = DateTimeField(required=True)


class CaseObjection(EmbeddedDocument):
    presentation_id = ObjectIdField(required=True)
    state = StringField(required=True)
    at = DateTimeField(required=True)


class AttributionConsent(EmbeddedDocument):
    state = StringField(required=True)
    at = DateTimeField(required=True)
    by = StringField(required=True)


class Briefing(Document):
    """Rule 22: a proposed oral briefing of the WGETI or the CSP by the Chair."""

    meta = {"db_alias": ALIAS, "collection": "briefings", "indexes": ["meeting_id"]}

    meeting_id = ObjectIdField(required=True)
    forum = StringField(required=True, choices=("WGETI", "CSP"))
    proposed_by = StringField(required=True)
    proposed_at = DateTimeField(required=True)
    consensus_recorded_at = DateTimeField()
    consensus_recorded_by = StringField()
    case_objections = EmbeddedDocumentListField(CaseObjection)
    attribution_consents = EmbeddedDocumentListField(AttributionConsent)
    version = IntField(default=0, min_value=0)


class Delivery(NoticeDelivery):
    """One notice email to one address (the invitation's since rule 9, every notice's
    now): recorded, retried, reported; ``meeting_id`` for notices about a meeting."""

    meta = {
        "db_alias": ALIAS,
        "collection": "deliveries",
        "indexes": ["meeting_id", ("status", "next_attempt_at"), "notice_id"],
        "ordering": ["state", "email"],
    }

    meeting_id = ObjectIdField()


class NoticeRecord(NoticeEntry):
    """A notice in the feeds of the States it concerns (``myNotifications``), with the
    States nobody could be told (the Secretariat's report)."""

    meta = {
        "db_alias": ALIAS,
        "collection": "notifications",
        "indexes": [
            "states",
            "issued_at",
            "topic",
            {"fields": ["key"], "unique": True, "sparse": True},
        ],
        "ordering": ["-issued_at"],
    }


class KnownRecipients(KnownRecipient):
    """The recipients the directory last named for a State (reminders go to them)."""

    meta = {"db_alias": ALIAS, "collection": "known_recipients"}


class ParticipantState(KnownParticipantStatus):
    """The local register of participants, fed by ``dief.contacts.state.status_changed``."""

    meta = {"db_alias": ALIAS, "collection": "participant_states"}


class ReminderSent(Document):
    """One ``deadline.approaching`` event, so that it goes out once (``_id`` says which)."""

    meta = {"db_alias": ALIAS, "collection": "reminders_sent"}

    key = StringField(primary_key=True)
    meeting_id = ObjectIdField(required=True)
    sent_at = DateTimeField(required=True)
