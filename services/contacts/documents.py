"""How the contact directory is stored (MongoDB database of the contacts service)."""

from __future__ import annotations

from typing import Any

from mongoengine import (
    DateField,
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentListField,
    EnumField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)

from services.common.clock import utcnow
from services.contacts.domain import AttStatus, AuthorityKind, ContactRole

ALIAS = "contacts"


class StatusChange(EmbeddedDocument):
    status = EnumField(AttStatus, required=True)
    signature_date = DateField()
    ratification_date = DateField()
    entry_into_force_date = DateField()
    withdrawal_date = DateField()
    changed_at = DateTimeField(required=True)
    changed_by = StringField(required=True)
    note = StringField(max_length=1000)


class State(Document):
    meta = {"db_alias": ALIAS, "collection": "states", "indexes": ["status"]}

    code = StringField(primary_key=True, regex=r"^[A-Z]{3}$")
    name = StringField(required=True)
    status = EnumField(AttStatus, required=True, default=AttStatus.NON_PARTY)
    signature_date = DateField()
    ratification_date = DateField()
    entry_into_force_date = DateField()
    withdrawal_date = DateField()
    status_history = EmbeddedDocumentListField(StatusChange)
    # Which roles of its contacts receive each audience's notices, as the State chose
    # ({audience: [role, ...]}; an audience it has not set keeps the default).
    notice_roles = DictField()
    updated_at = DateTimeField(default=utcnow)
    version = IntField(default=0, min_value=0)


class Authority(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "authorities",
        "indexes": [("state_code", "kind")],
    }

    state_code = StringField(required=True)
    kind = EnumField(AuthorityKind, required=True)
    name = StringField(required=True, max_length=200)
    email = StringField()
    phone = StringField()
    address = StringField(max_length=1000)
    time_zone = StringField()
    languages = ListField(StringField())
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    version = IntField(default=0, min_value=0)


class Contact(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "contacts",
        "indexes": [
            ("state_code", "authority_kind"),
            "last_verified_at",
            {"fields": ("authority_id", "functional_email"), "unique": True},
            ("ldap_source", "ldap_key"),
            ("authority_id", "personal_email"),
            {"fields": ["state_code", "name", "id"], "name": "state_name_id"},  # the directory
        ],
    }

    authority_id = ObjectIdField(required=True)
    state_code = StringField(required=True)
    authority_kind = EnumField(AuthorityKind, required=True)
    name = StringField(required=True, max_length=200)
    title = StringField(max_length=200)
    functional_email = StringField(required=True)
    personal_email = StringField()
    phone = StringField()
    mobile = StringField()
    emergency_phone = StringField()
    languages = ListField(StringField())
    time_zone = StringField()
    pgp_fingerprint = StringField()
    pgp_key = StringField()  # the registered OpenPGP public key, ASCII armour
    pgp_key_fingerprint = StringField()  # that key's fingerprint, as GnuPG read it
    roles = ListField(EnumField(ContactRole))
    last_verified_at = DateTimeField()
    verified_by = StringField()
    source = StringField(default="MANUAL", choices=("MANUAL", "LDAP"))
    department = StringField(max_length=200)
    # For source LDAP: the sync source (its State) and the entry's entryUUID and DN.
    ldap_source = StringField()
    ldap_key = StringField()
    ldap_dn = StringField()
    archived_at = DateTimeField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    version = IntField(default=0, min_value=0)

    @property
    def emails(self) -> set[str]:
        return {e for e in (self.functional_email, self.personal_email) if e}


class ChangeRecord(Document):
    """Who changed what, when, with the record as it was before and after."""

    meta = {
        "db_alias": ALIAS,
        "collection": "history",
        "indexes": [("entity", "entity_id", "at")],
        "ordering": ["at"],
    }

    entity = StringField(required=True, choices=("State", "Authority", "Contact"))
    entity_id = StringField(required=True)
    action = StringField(required=True)
    actor = StringField(required=True)
    actor_state = StringField()
    at = DateTimeField(required=True, default=utcnow)
    before = DictField()
    after = DictField()


def snapshot(doc: Document) -> dict[str, Any]:
    """A plain copy of a document for the history (dates as ISO strings)."""
    out: dict[str, Any] = {}
    for key, value in doc.to_mongo().to_dict().items():
        if key in ("_id", "status_history"):
            continue
        out[key] = (
            value.isoformat()
            if hasattr(value, "isoformat")
            else (str(value) if key.endswith("_id") else value)
        )
    return out


def _shown(value: Any) -> str | None:
    if value is None or value == [] or value == "":
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _api_name(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def field_changes(
    before: dict[str, Any], after: dict[str, Any]
) -> list[tuple[str, str | None, str | None]]:
    """(field, before, after) for every field whose shown value differs, by field name."""
    skip = {"updated_at", "created_at", "version"}
    changes = []
    for key in sorted((set(before) | set(after)) - skip):
        old, new = _shown(before.get(key)), _shown(after.get(key))
        if old != new:
            changes.append((_api_name(key), old, new))
    return changes
