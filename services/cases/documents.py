"""How the case exchange is stored (the cases service's own MongoDB database).

Each case also stores its ``reach``: for the case and for each section, who may read it,
worked out by the domain when the provider saves. Lists filter on it inside the
database, so a case (or a section) nobody showed the caller is never loaded, counted or
matched by a search.
"""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateField,
    DateTimeField,
    DictField,
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

from services.cases.domain import (
    AudienceKind,
    CaseStatus,
    ConcernStatus,
    DiversionCategory,
    IntendedUse,
    InvestigationStatus,
    ItemKind,
    Section,
    UseDecision,
)
from services.common.clock import utcnow
from services.common.participants import KnownParticipantStatus

ALIAS = "cases"


class AudienceDoc(EmbeddedDocument):
    kind = EnumField(AudienceKind, required=True, default=AudienceKind.ALL_PARTICIPANTS)
    states = ListField(StringField(regex=r"^[A-Z]{3}$"))
    include_secretariat = BooleanField(default=False)


class SectionAudienceDoc(EmbeddedDocument):
    section = EnumField(Section, required=True)
    audience = EmbeddedDocumentField(AudienceDoc, required=True)


class HandlingDoc(EmbeddedDocument):
    note = StringField(max_length=2000)
    no_operational_use_without_consultation = BooleanField(default=True)


class ActorDoc(EmbeddedDocument):
    role = StringField(required=True)
    name = StringField(required=True, max_length=300)
    country = StringField(regex=r"^[A-Z]{3}$")
    kind = StringField(required=True)


class ItemDoc(EmbeddedDocument):
    kind = EnumField(ItemKind, required=True)
    description = StringField(max_length=1000)
    quantity = IntField(min_value=0)
    markings = ListField(StringField(max_length=200))


class RouteStopDoc(EmbeddedDocument):
    country = StringField(required=True, regex=r"^[A-Z]{3}$")
    role = StringField(required=True)


class InvolvedStateDoc(EmbeddedDocument):
    state = StringField(required=True, regex=r"^[A-Z]{3}$")
    notified_at = DateTimeField()
    response = StringField(max_length=20000)
    responded_at = DateTimeField()
    responded_by = StringField()


class ArrangementDoc(EmbeddedDocument):
    id = ObjectIdField(required=True)
    states = ListField(StringField(regex=r"^[A-Z]{3}$"), required=True)
    what = StringField(required=True, max_length=5000)
    who = StringField(max_length=1000)
    due_on = DateField()
    status = StringField(required=True, default="OPEN")
    created_by_state = StringField(required=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class Case(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "cases",
        "indexes": [
            "provider",
            "status",
            "categories",
            "shared_at",
            "presentation_ids",
            {"fields": ["-created_at", "-id"], "name": "created_desc"},  # handlers.LISTING
        ],
    }

    provider = StringField(required=True, regex=r"^[A-Z]{3}$")
    status = EnumField(CaseStatus, required=True, default=CaseStatus.DRAFT)
    title = StringField(required=True, max_length=300)
    summary = StringField(max_length=20000)
    diversion_details = StringField(max_length=50000)
    diverted_on = DateField()
    discovery_details = StringField(max_length=50000)
    discovered_on = DateField()
    methods = StringField(max_length=50000)
    actors = EmbeddedDocumentListField(ActorDoc)
    investigation_status = EnumField(InvestigationStatus, default=InvestigationStatus.ONGOING)
    items = EmbeddedDocumentListField(ItemDoc)
    routes = EmbeddedDocumentListField(RouteStopDoc)
    categories = ListField(EnumField(DiversionCategory))
    audience = EmbeddedDocumentField(AudienceDoc, default=AudienceDoc)
    section_audiences = EmbeddedDocumentListField(SectionAudienceDoc)
    handling = EmbeddedDocumentField(HandlingDoc, default=HandlingDoc)
    involved = EmbeddedDocumentListField(InvolvedStateDoc)
    arrangements = EmbeddedDocumentListField(ArrangementDoc)
    presentation_ids = ListField(StringField(max_length=200))
    excluded_from_briefings = BooleanField(default=False)
    # Whether recipients see the audience list and the involved States (provider's choice).
    audience_shown_to_recipients = BooleanField(default=False)
    attribution_consent = BooleanField(default=False)
    # {"CASE"|section: {"everyone": bool, "states": [codes], "secretariat": bool}}
    reach = DictField()
    revision = IntField(default=1, min_value=1)
    created_at = DateTimeField(default=utcnow)
    created_by = StringField(required=True)
    updated_at = DateTimeField(default=utcnow)
    shared_at = DateTimeField()
    archived_at = DateTimeField()
    version = IntField(default=0, min_value=0)


class CaseRevision(Document):
    """A shared case as it was before an edit (the version history)."""

    meta = {"db_alias": ALIAS, "collection": "case_revisions", "indexes": [("case_id", "revision")]}

    case_id = ObjectIdField(required=True)
    revision = IntField(required=True)
    changed_at = DateTimeField(required=True)
    changed_by = StringField(required=True)
    changed_fields = ListField(StringField())
    changed_sections = ListField(StringField())
    snapshot = DictField()


class Attachment(Document):
    meta = {"db_alias": ALIAS, "collection": "attachments", "indexes": ["case_id"]}

    case_id = ObjectIdField(required=True)
    file_id = ObjectIdField(required=True)  # GridFS
    filename = StringField(required=True, max_length=255)
    content_type = StringField(required=True)
    size = IntField(required=True, min_value=0)
    sha256 = StringField(required=True)
    language = StringField(required=True, regex=r"^(ar|zh|en|fr|ru|es)$")
    section = EnumField(Section)  # None: the case as a whole
    uploaded_by = StringField(required=True)
    uploaded_at = DateTimeField(default=utcnow)


class MessageDoc(EmbeddedDocument):
    state = StringField(required=True)
    author = StringField(required=True)
    text = StringField(required=True, max_length=10000)
    at = DateTimeField(default=utcnow)


class UseRequest(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "use_requests",
        "indexes": ["case_id", "requester_state", "provider"],
    }

    case_id = ObjectIdField(required=True)
    provider = StringField(required=True)
    requester_state = StringField(required=True)
    requested_by = StringField(required=True)
    use = EnumField(IntendedUse, required=True)
    justification = StringField(required=True, max_length=10000)
    decision = EnumField(UseDecision, required=True, default=UseDecision.PENDING)
    conditions = StringField(max_length=10000)
    reason = StringField(max_length=10000)
    decided_by = StringField()
    decided_at = DateTimeField()
    messages = EmbeddedDocumentListField(MessageDoc)
    created_at = DateTimeField(default=utcnow)
    version = IntField(default=0, min_value=0)


class DisclosureConcern(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "disclosure_concerns",
        "indexes": ["case_id", "respondent", "raised_by_state"],
    }

    case_id = ObjectIdField(required=True)
    raised_by_state = StringField()
    raised_by_role = StringField()
    raised_by = StringField(required=True)
    respondent = StringField(required=True)
    description = StringField(required=True, max_length=10000)
    explanation = StringField(max_length=10000)
    remedial_measures = StringField(max_length=10000)
    closing_note = StringField(max_length=10000)
    status = EnumField(ConcernStatus, required=True, default=ConcernStatus.RAISED)
    raised_at = DateTimeField(default=utcnow)
    explained_at = DateTimeField()
    closed_at = DateTimeField()
    version = IntField(default=0, min_value=0)


class AuditEntry(Document):
    """Append-only: written by the service, never updated or deleted through the API."""

    meta = {
        "db_alias": ALIAS,
        "collection": "audit_log",
        "indexes": [("case_id", "at")],
    }

    case_id = ObjectIdField(required=True)
    provider = StringField(required=True)
    action = StringField(required=True)
    actor = StringField(required=True)
    actor_state = StringField()
    actor_roles = ListField(StringField())
    at = DateTimeField(required=True)
    target = StringField()
    request_id = StringField()


class ParticipantStanding(KnownParticipantStatus):
    """The local register of participants (rules 1 and 6), fed by
    ``dief.contacts.state.status_changed``."""

    meta = {"db_alias": ALIAS, "collection": "participant_states"}
