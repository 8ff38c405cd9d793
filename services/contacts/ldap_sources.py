"""Where each State's national LDAP directory is, and the record of every sync run.

A State's delegate uploads the bind password once (``bindPassword``); it is stored sealed
(AES-256-GCM under the operator's keys, bound to the State, the host and the bind DN) and
never returned. A source never names a file, a variable or another secret of the server:
one State can use no secret but the one it gave. The URL's host must be one the operator
allowed for that State (``ldap_hosts``). Every free-text setting has a length limit and
refuses control characters.
"""

from __future__ import annotations

import ssl
import unicodedata
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
from services.common.sealed import KeyRing, SealingUnavailable
from services.common.settings import Settings
from services.common.unit_of_work import unit_of_work
from services.contacts import domain, handlers
from services.contacts.documents import ALIAS, Authority, utcnow
from services.contacts.ldap_hosts import HostRefused, check_allowed, parse_target
from services.contacts.ldap_mapping import check_filter, mapping_with_overrides
from services.contacts.ldap_reader import SCOPES

MAX_URL = 512
MAX_DN = 1024
MAX_FILTER = 2048
MAX_PASSWORD = 256
MAX_CA = 64 * 1024


class LdapSyncSource(Document):
    """One State's national directory (one source per State, keyed by its code)."""

    # Not strict: sources saved before passwords were sealed (with a secretRef) still load;
    # they have no password until their State's delegate uploads it.
    meta = {"db_alias": ALIAS, "collection": "ldap_sources", "strict": False}

    state_code = StringField(primary_key=True, regex=r"^[A-Z]{3}$")
    url = StringField(required=True)
    start_tls = BooleanField(default=False)
    verify_certificates = BooleanField(default=True)
    ca_certificates = StringField()  # PEM, given by the delegate; public
    bind_dn = StringField()
    bind_password_sealed = StringField()  # services.common.sealed, never returned
    bind_password_set_at = DateTimeField()
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
    error = StringField()  # what the delegate can act on; details are in the log
    request_id = StringField()  # the log lines of this run carry it
    owner = StringField()  # host:pid of the process running it (ldap_interrupted)
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
    bind_password: str | None = None  # write-only; None keeps the stored one
    start_tls: bool = False
    verify_certificates: bool = True
    ca_certificates: str | None = None
    filter: str = "(objectClass=inetOrgPerson)"
    scope: str = "SUBTREE"
    mapping: dict[str, str | None] | None = None
    enabled: bool = True


def check_text(value: str, field: str, limit: int, *, lines: bool = False) -> str:
    """Free text a delegate typed: at most ``limit`` characters, no control characters
    (line breaks only where ``lines``)."""
    if len(value) > limit:
        raise ValidationFailed(f"{field} is longer than {limit} characters.", field=field)
    allowed = "\r\n\t" if lines else ""
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in value):
        raise ValidationFailed(f"{field} must not hold control characters.", field=field)
    return value


def check_url(url: str, start_tls: bool) -> str:
    cleaned = check_text(url, "url", MAX_URL).strip()
    try:
        target = parse_target(cleaned)
    except ValueError:
        raise ValidationFailed(
            "url must be ldap://host[:port] or ldaps://host[:port].", field="url"
        ) from None
    if target.scheme == "ldaps" and start_tls:
        raise ValidationFailed(
            "StartTLS is for ldap:// URLs; ldaps:// is TLS already.", field="url"
        )
    return cleaned


def check_dn(value: str, field: str) -> str:
    cleaned = check_text(value, field, MAX_DN).strip()
    try:
        parse_dn(cleaned)
    except (LDAPInvalidDnError, IndexError, ValueError):
        raise ValidationFailed(f"{field}: {value!r} is not a DN.", field=field) from None
    if not cleaned:
        raise ValidationFailed(f"{field} must not be empty.", field=field)
    return cleaned


def check_password(value: str) -> str:
    # The messages never repeat the value.
    if not value or len(value) > MAX_PASSWORD:
        raise ValidationFailed(
            f"bindPassword must have 1 to {MAX_PASSWORD} characters.", field="bindPassword"
        )
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValidationFailed(
            "bindPassword must not hold control characters.", field="bindPassword"
        )
    return value


def check_ca_certificates(value: str) -> str:
    """One or more PEM certificates that load as trust anchors."""
    cleaned = check_text(value, "caCertificates", MAX_CA, lines=True).strip()
    if "-----BEGIN CERTIFICATE-----" not in cleaned:
        raise ValidationFailed("caCertificates must be PEM certificates.", field="caCertificates")
    try:
        ssl.create_default_context().load_verify_locations(cadata=cleaned)
    except (ssl.SSLError, ValueError):
        raise ValidationFailed(
            "caCertificates do not load as PEM certificates.", field="caCertificates"
        ) from None
    return cleaned


def password_context(code: str, url: str, bind_dn: str) -> str:
    """What a sealed password is bound to: another State, host or bind DN cannot open it."""
    return f"dief-ldap-sync-bind-password\0{code}\0{parse_target(url).host}\0{bind_dn}"


def key_ring(settings: Settings) -> KeyRing:
    try:
        return KeyRing.from_text(settings.sealing_keys())
    except SealingUnavailable as exc:
        raise ValidationFailed(
            f"the operator has not configured how bind passwords are stored ({exc}).",
            field="bindPassword",
        ) from None


def seal_password(settings: Settings, code: str, url: str, bind_dn: str, password: str) -> str:
    return key_ring(settings).seal(password, password_context(code, url, bind_dn))


def open_password(settings: Settings, source: LdapSyncSource) -> str:
    """The source's bind password; ``SealingUnavailable`` if none is stored or it does not
    open for this State, host and bind DN."""
    if not source.bind_password_sealed or not source.bind_dn:
        raise SealingUnavailable("no bind password is stored")
    ring = KeyRing.from_text(settings.sealing_keys())
    context = password_context(source.state_code, source.url, source.bind_dn)
    return ring.open(source.bind_password_sealed, context)


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


def _check_host(code: str, url: str, settings: Settings) -> None:
    try:
        check_allowed(code, parse_target(url).host, settings)
    except HostRefused as exc:
        raise ValidationFailed(exc.public + ".", field="url") from None


def _sealed_password(
    settings: Settings,
    code: str,
    given: SourceInput,
    url: str,
    bind_dn: str | None,
    existing: LdapSyncSource | None,
) -> tuple[str | None, Any]:
    """The sealed password the source keeps, and when it was set."""
    if bind_dn is None:
        if given.bind_password:
            raise ValidationFailed("a bindPassword needs a bindDn.", field="bindDn")
        return None, None
    if given.bind_password is not None:
        password = check_password(given.bind_password)
        return seal_password(settings, code, url, bind_dn, password), utcnow()
    same_place = (
        existing is not None
        and existing.bind_password_sealed
        and existing.bind_dn == bind_dn
        and parse_target(existing.url).host == parse_target(url).host
    )
    if not same_place:
        raise ValidationFailed(
            "give the bindPassword: a stored password is kept only for the same host and bind DN.",
            field="bindPassword",
        )
    assert existing is not None
    return existing.bind_password_sealed, existing.bind_password_set_at


def set_source(
    principal: Principal | None, given: SourceInput, settings: Settings
) -> LdapSyncSource:
    """Create or replace a State's sync source (that State's representatives or the
    Secretariat). Everything is checked before anything is saved."""
    code = domain.state_code(given.state_code)
    p = handlers.manager_of(principal, code)
    authority = Authority.objects(id=given.authority_id).first()
    if authority is None or authority.state_code != code:
        raise NotFound(f"No authority of {code} with this id.", field="authorityId")
    if given.scope not in SCOPES:
        raise ValidationFailed("scope is SUBTREE or ONE_LEVEL.", field="scope")
    if not given.verify_certificates and not settings.ldap_sync_allow_internal_hosts:
        raise ValidationFailed(
            "certificates are always verified here; give caCertificates to trust a private CA.",
            field="verifyCertificates",
        )
    url = check_url(given.url, given.start_tls)
    _check_host(code, url, settings)
    bind_dn = check_dn(given.bind_dn, "bindDn") if given.bind_dn else None
    existing = LdapSyncSource.objects(state_code=code).first()
    sealed, sealed_at = _sealed_password(settings, code, given, url, bind_dn, existing)
    fields: dict[str, Any] = {
        "url": url,
        "start_tls": given.start_tls,
        "verify_certificates": given.verify_certificates,
        "ca_certificates": (
            check_ca_certificates(given.ca_certificates) if given.ca_certificates else None
        ),
        "bind_dn": bind_dn,
        "bind_password_sealed": sealed,
        "bind_password_set_at": sealed_at,
        "base_dn": check_dn(given.base_dn, "baseDn"),
        "filter": check_filter(check_text(given.filter, "filter", MAX_FILTER)),
        "scope": given.scope,
        "authority_id": authority.pk,
        "mapping": _mapping(given.mapping),
        "enabled": given.enabled,
    }
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
