"""Where each State's national LDAP directory is, and the record of every sync run.

A source names its bind password by reference only (``env:VARIABLE`` or ``file:/path``):
the password is never stored in MongoDB and never returned by the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import parse_dn
from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    EmbeddedDocument,
    EmbeddedDocumentListField,
    FloatField,
    IntField,
    ListField,
    ObjectIdField,
    StringField,
)
from pymongo.errors import DuplicateKeyError

from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.principal import Principal
from services.common.unit_of_work import unit_of_work
from services.contacts import domain, handlers
from services.contacts.documents import ALIAS, Authority, utcnow
from services.contacts.ldap_mapping import check_filter, mapping_with_overrides
from services.contacts.ldap_reader import SCOPES

SECRET_SCHEMES = ("env", "file")


class LdapSyncSource(Document):
    """One State's national directory (one source per State, keyed by its code)."""

    meta = {"db_alias": ALIAS, "collection": "ldap_sources"}

    state_code = StringField(primary_key=True, regex=r"^[A-Z]{3}$")
    url = StringField(required=True)
    start_tls = BooleanField(default=False)
    verify_certificates = BooleanField(default=True)
    ca_file = StringField()
    bind_dn = StringField()
    secret_ref = StringField()  # env:VARIABLE or file:/path, never the password
    base_dn = StringField(required=True)
    filter = StringField(required=True, default="(objectClass=inetOrgPerson)")
    scope = StringField(required=True, default="SUBTREE", choices=tuple(SCOPES))
    authority_id = ObjectIdField(required=True)
    mapping = DictField()  # overrides of ldap_mapping.DEFAULT_MAPPING
    enabled = BooleanField(default=True)  # taken by the schedule
    updated_at = DateTimeField(default=utcnow)
    updated_by = StringField()
    version = IntField(default=0, min_value=0)


class RunDetail(EmbeddedDocument):
    action = StringField(required=True)
    dn = StringField()
    key = StringField()
    reason = StringField()
    fields = ListField(StringField())


class LdapSyncRun(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "ldap_sync_runs",
        "indexes": [("state_code", "-started_at"), ("state_code", "status", "dry_run")],
    }

    state_code = StringField(required=True)
    started_by = StringField(required=True)  # token subject, cli:<user> or schedule
    trigger = StringField(required=True, choices=("API", "CLI", "SCHEDULE", "BENCH"))
    full = BooleanField(required=True)
    dry_run = BooleanField(required=True)
    started_at = DateTimeField(required=True)
    finished_at = DateTimeField()
    status = StringField(required=True, choices=("RUNNING", "SUCCEEDED", "FAILED"))
    error_kind = StringField()
    error = StringField()
    # Incremental runs: the entryCSN or modifyTimestamp the search started from, and the
    # newest one read (where the next incremental run starts).
    since_attribute = StringField(choices=("entryCSN", "modifyTimestamp"))
    since = StringField()
    watermark_attribute = StringField(choices=("entryCSN", "modifyTimestamp"))
    watermark = StringField()
    pages = IntField(default=0)
    read = IntField(default=0)
    added = IntField(default=0)
    changed = IntField(default=0)
    archived = IntField(default=0)
    unchanged = IntField(default=0)
    rejected = IntField(default=0)
    # Where the time went: reading the source, planning, and the MongoDB transaction.
    read_seconds = FloatField()
    plan_seconds = FloatField()
    apply_seconds = FloatField()
    details = EmbeddedDocumentListField(RunDetail)
    details_truncated = BooleanField(default=False)


@dataclass(frozen=True)
class SourceInput:
    state_code: str
    url: str
    base_dn: str
    authority_id: ObjectId
    bind_dn: str | None = None
    secret_ref: str | None = None
    start_tls: bool = False
    verify_certificates: bool = True
    ca_file: str | None = None
    filter: str = "(objectClass=inetOrgPerson)"
    scope: str = "SUBTREE"
    mapping: dict[str, str | None] | None = None
    enabled: bool = True


def check_url(url: str, start_tls: bool) -> str:
    cleaned = url.strip()
    scheme = cleaned.partition("://")[0].lower()
    if scheme not in ("ldap", "ldaps") or "://" not in cleaned:
        raise ValidationFailed(
            "url must be ldap://host[:port] or ldaps://host[:port].", field="url"
        )
    if scheme == "ldaps" and start_tls:
        raise ValidationFailed(
            "StartTLS is for ldap:// URLs; ldaps:// is TLS already.", field="url"
        )
    return cleaned


def check_dn(value: str, field: str) -> str:
    cleaned = value.strip()
    try:
        parse_dn(cleaned)
    except (LDAPInvalidDnError, IndexError, ValueError):
        raise ValidationFailed(f"{field}: {value!r} is not a DN.", field=field) from None
    if not cleaned:
        raise ValidationFailed(f"{field} must not be empty.", field=field)
    return cleaned


def check_secret_ref(value: str) -> str:
    scheme, sep, where = value.strip().partition(":")
    if not sep or scheme not in SECRET_SCHEMES or not where:
        # The message never repeats the value: it may be a password typed by mistake.
        raise ValidationFailed(
            "secretRef names where the password is: env:VARIABLE or file:/path, never the "
            "password itself.",
            field="secretRef",
        )
    return value.strip()


def _mapping(overrides: dict[str, str | None] | None) -> dict[str, str | None]:
    mapping_with_overrides(overrides)  # refuses unknown fields and bad attribute names
    return {name: attribute or None for name, attribute in (overrides or {}).items()}


def source_of(code: str) -> LdapSyncSource:
    source = LdapSyncSource.objects(state_code=code).first()
    if source is None:
        raise NotFound(f"{code} has no LDAP sync source.", field="stateCode")
    return source


def get_source(principal: Principal | None, state_code: str) -> LdapSyncSource:
    code = domain.state_code(state_code)
    handlers.manager_of(principal, code)
    return source_of(code)


def set_source(principal: Principal | None, given: SourceInput) -> LdapSyncSource:
    """Create or replace a State's sync source (that State's representatives or the
    Secretariat). Everything is checked before anything is saved."""
    code = domain.state_code(given.state_code)
    p = handlers.manager_of(principal, code)
    authority = Authority.objects(id=given.authority_id).first()
    if authority is None or authority.state_code != code:
        raise NotFound(f"No authority of {code} with this id.", field="authorityId")
    if given.scope not in SCOPES:
        raise ValidationFailed("scope is SUBTREE or ONE_LEVEL.", field="scope")
    bind_dn = check_dn(given.bind_dn, "bindDn") if given.bind_dn else None
    if bind_dn and not given.secret_ref:
        raise ValidationFailed("a bind DN needs a secretRef.", field="secretRef")
    fields: dict[str, Any] = {
        "url": check_url(given.url, given.start_tls),
        "start_tls": given.start_tls,
        "verify_certificates": given.verify_certificates,
        "ca_file": given.ca_file.strip() if given.ca_file else None,
        "bind_dn": bind_dn,
        "secret_ref": check_secret_ref(given.secret_ref) if given.secret_ref else None,
        "base_dn": check_dn(given.base_dn, "baseDn"),
        "filter": check_filter(given.filter),
        "scope": given.scope,
        "authority_id": authority.pk,
        "mapping": _mapping(given.mapping),
        "enabled": given.enabled,
    }
    existing = LdapSyncSource.objects(state_code=code).first()
    source = existing or LdapSyncSource(state_code=code)
    for name, value in fields.items():
        setattr(source, name, value)
    source.updated_at = utcnow()
    source.updated_by = p.subject
    try:
        with unit_of_work(ALIAS) as uow:
            if existing:
                uow.save(source)
            else:
                uow.insert(source)
    except DuplicateKeyError:
        raise Conflict(f"{code}'s source was set meanwhile; try again.") from None
    return source


def list_runs(principal: Principal | None, state_code: str, limit: int = 20) -> list[LdapSyncRun]:
    code = domain.state_code(state_code)
    handlers.manager_of(principal, code)
    limit = max(1, min(limit, 100))
    return list(LdapSyncRun.objects(state_code=code).order_by("-started_at").limit(limit))


def ensure_indexes() -> None:
    for document in (LdapSyncSource, LdapSyncRun):
        document.ensure_indexes()
