"""Publishing the DIEF directory into OpenLDAP.

``publish_full`` makes the whole published tree what the registry says: it adds, modifies
and deletes until they agree, which repairs any drift (``dief ldap publish --full``).
Between full runs, a durable consumer of ``dief.contacts.>`` does the same for the one
State an event names. Events are thin, so each one is handled by reading that State's
part of the registry again: handling an event twice, late or out of order changes nothing.

The consumer takes events in batches. Many events of one State in a batch (an LDAP import
sends one per contact) are handled by publishing that State once, and every later event of
that State already in the stream when the publishing began is known to be covered by it
(the outbox publishes an event only after its change is committed): a directory of
thousands of contacts reaches the tree in a few passes, not one pass per contact.

Only participant States are published (confidentiality first): a State that stops taking
part leaves the tree, and its account leaves the participants group, at the same time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import parse_dn
from nats.js import JetStreamContext

from services.common import mongo
from services.common.errors import ValidationFailed
from services.common.events import CloudEvent
from services.common.ids import from_global_id
from services.common.messaging import Delivered, DurableConsumer, NatsLink, consumer_options
from services.common.secrets import SecretUnavailable, resolve_secret
from services.common.settings import Settings
from services.contacts.documents import ALIAS, Authority, Contact, State
from services.contacts.domain import AttStatus, is_participant
from services.contacts.events import CONTACT_CHANGED
from services.contacts.ldap_tree import (
    STATE_CODE,
    Add,
    Delete,
    DirectoryLayout,
    Modify,
    Operation,
    Scope,
    affected_state,
    desired_tree,
    full_scope,
    plan,
    state_scope,
)
from services.contacts.ldap_writer import Collision, LdapTarget, apply, connect, read_scope

if TYPE_CHECKING:
    from services.common.runtime import ServiceRuntime

log = logging.getLogger("dief.ldap.publish")

DURABLE = "contacts-ldap-publisher"
SUBJECT_FILTER = "dief.contacts.>"
ATTEMPTS = 3
COALESCE = 5  # events of one State in a batch from which the State is published as a whole
PARTICIPANT_STATUSES = [status for status in AttStatus if is_participant(status)]


class PublishNotConfigured(ValueError):
    pass


class EmptyRegistry(RuntimeError):
    """No State at all in the registry: a wrong database, not a reason to empty the tree."""


@dataclass(frozen=True)
class PublishConfig:
    target: LdapTarget
    layout: DirectoryLayout

    @classmethod
    def from_settings(cls, settings: Settings) -> PublishConfig:
        url, base_dn = settings.ldap_publish_url, settings.ldap_publish_base_dn
        if not url:
            raise PublishNotConfigured("DIEF_LDAP_PUBLISH_URL is not set")
        if not base_dn:
            raise PublishNotConfigured("DIEF_LDAP_PUBLISH_BASE_DN is not set")
        if not settings.ldap_publish_secret_ref:
            raise PublishNotConfigured("DIEF_LDAP_PUBLISH_SECRET_REF is not set")
        scheme = url.partition("://")[0].lower()
        if scheme not in ("ldap", "ldaps", "ldapi"):
            raise PublishNotConfigured(
                "DIEF_LDAP_PUBLISH_URL must be ldap://, ldaps:// or ldapi://"
            )
        if scheme == "ldap" and not settings.ldap_publish_start_tls and not settings.is_dev:
            raise PublishNotConfigured(
                "in production the directory and the publisher's password travel over TLS: "
                "use ldaps://, ldapi:// or DIEF_LDAP_PUBLISH_START_TLS=true"
            )
        try:
            parse_dn(base_dn)
        except LDAPInvalidDnError as exc:
            raise PublishNotConfigured(f"DIEF_LDAP_PUBLISH_BASE_DN: {exc}") from None
        try:
            password = resolve_secret(settings.ldap_publish_secret_ref)
        except SecretUnavailable as exc:
            raise PublishNotConfigured(f"DIEF_LDAP_PUBLISH_SECRET_REF: {exc}") from None
        layout = DirectoryLayout(base_dn)
        target = LdapTarget(
            url=url,
            bind_dn=settings.ldap_publish_bind_dn or layout.publisher_dn,
            password=password,
            start_tls=settings.ldap_publish_start_tls,
            ca_file=settings.ldap_publish_ca_file,
        )
        return cls(target, layout)


@dataclass(frozen=True)
class PublishReport:
    added: int = 0
    modified: int = 0
    deleted: int = 0

    @classmethod
    def of(cls, operations: Sequence[Operation]) -> PublishReport:
        return cls(
            added=sum(isinstance(op, Add) for op in operations),
            modified=sum(isinstance(op, Modify) for op in operations),
            deleted=sum(isinstance(op, Delete) for op in operations),
        )

    @property
    def changed(self) -> bool:
        return bool(self.added or self.modified or self.deleted)

    def __str__(self) -> str:
        return f"{self.added} added, {self.modified} modified, {self.deleted} deleted"


# --- the registry, as it should be published ---------------------------------------------


def _registry(code: str | None) -> tuple[list[State], list[Authority], list[Contact]]:
    """Every participant State (they make the participants group), and the authorities and
    current contacts of ``code`` (of every participant State if None)."""
    if State.objects.count() == 0:
        raise EmptyRegistry(
            "the State registry is empty (wrong database?): refusing to empty the directory"
        )
    states = list(State.objects(status__in=PARTICIPANT_STATUSES).only("code", "name", "status"))
    codes = [s.code for s in states if code is None or s.code == code]
    authorities = list(Authority.objects(state_code__in=codes))
    contacts = list(Contact.objects(state_code__in=codes, archived_at=None))
    return states, authorities, contacts


def _converge(config: PublishConfig, scope: Scope, code: str | None) -> PublishReport:
    """Read, plan, apply; if another writer changed the tree meanwhile, start again."""
    conn = connect(config.target)
    try:
        attempt = 0
        while True:
            attempt += 1
            desired = desired_tree(config.layout, *_registry(code))
            operations = plan(desired, read_scope(conn, scope), scope)
            try:
                apply(conn, operations)
            except Collision as exc:
                if attempt >= ATTEMPTS:
                    raise
                log.info("the tree changed meanwhile; reading it again", extra={"error": str(exc)})
                continue
            report = PublishReport.of(operations)
            if report.changed:
                log.info(
                    "directory published",
                    extra={"scope": code or "all", "report": str(report)},
                )
            return report
    finally:
        conn.unbind()


def publish_full(config: PublishConfig) -> PublishReport:
    """The whole tree and the participants group, drift repaired."""
    return _converge(config, full_scope(config.layout), None)


def publish_state(config: PublishConfig, code: str) -> PublishReport:
    """One State's part of the tree, and the participants group."""
    if not STATE_CODE.fullmatch(code):
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-3 code")
    return _converge(config, state_scope(config.layout, code), code)


def publish_contact(config: PublishConfig, code: str, contact_id: ObjectId) -> PublishReport:
    """One contact's entry, and the entries it hangs from: a few reads whatever the size
    of the State's directory (a sync of thousands of contacts sends one event each)."""
    contact = Contact.objects(id=contact_id).first()
    state = State.objects(code=code).only("status").first()
    if contact is None or contact.state_code != code or state is None:
        return publish_state(config, code)
    if not is_participant(state.status):
        return publish_state(config, code)
    layout = config.layout
    scope = Scope(
        entries=(
            layout.states_dn,
            layout.state_dn(code),
            layout.authority_dn(code, contact.authority_id),
            layout.contact_dn(code, contact.authority_id, contact.pk),
        )
    )
    conn = connect(config.target)
    try:
        for attempt in range(1, ATTEMPTS + 1):
            states = list(State.objects(code=code))
            authorities = list(Authority.objects(id=contact.authority_id))
            current = list(Contact.objects(id=contact.pk))
            desired = desired_tree(layout, states, authorities, current)
            operations = plan(desired, read_scope(conn, scope), scope)
            try:
                apply(conn, operations)
            except Collision:
                if attempt >= ATTEMPTS:
                    raise
                continue
            return PublishReport.of(operations)
    finally:
        conn.unbind()
    raise AssertionError("unreachable")


def apply_event(config: PublishConfig, event: CloudEvent) -> PublishReport | None:
    """Bring the tree up to date with what ``event`` says changed; None if nothing may have."""
    code = affected_state(event.type, event.data)
    if code is None:
        return None
    if event.type == CONTACT_CHANGED.type:
        try:
            contact_id = from_global_id(str(event.data.get("contactId")), "Contact")
        except ValidationFailed:
            return publish_state(config, code)
        return publish_contact(config, code, contact_id)
    return publish_state(config, code)


# --- the durable consumer ----------------------------------------------------------------


@dataclass(frozen=True)
class BatchPlan:
    """What a batch of events asks for: States to publish whole, events to apply one by one."""

    states: tuple[str, ...]
    events: tuple[CloudEvent, ...]


def plan_batch(
    batch: Sequence[Delivered], covered: Mapping[str, int], coalesce: int = COALESCE
) -> BatchPlan:
    """Events of a State published whole at or after their sequence (``covered``) need
    nothing; a State with ``coalesce`` events or more, or with any event other than a
    contact's, is published whole; the remaining contact events are applied one by one."""
    pending: dict[str, list[Delivered]] = {}
    for item in batch:
        code = affected_state(item.event.type, item.event.data)
        if code is not None and item.stream_seq > covered.get(code, 0):
            pending.setdefault(code, []).append(item)
    states: list[str] = []
    events: list[CloudEvent] = []
    for code, items in pending.items():
        if len(items) >= coalesce or any(i.event.type != CONTACT_CHANGED.type for i in items):
            states.append(code)
        else:
            events.extend(i.event for i in items)
    return BatchPlan(tuple(states), tuple(events))


@dataclass
class BatchPublisher:
    """The consumer's batch handler; remembers, per State, up to which stream sequence its
    last whole publishing covered (in memory: after a restart, events are just applied)."""

    js: JetStreamContext
    config: PublishConfig
    stream: str = "DIEF"
    covered: dict[str, int] = field(default_factory=dict)

    async def __call__(self, batch: list[Delivered]) -> None:
        todo = plan_batch(batch, self.covered)
        for code in todo.states:
            # Taken before the registry is read: everything published so far is committed.
            last = (await self.js.stream_info(self.stream)).state.last_seq
            await mongo.run_sync(publish_state, self.config, code)
            self.covered[code] = max(self.covered.get(code, 0), last)
        for event in todo.events:
            await mongo.run_sync(apply_event, self.config, event)


def make_consumer(
    js: JetStreamContext,
    config: PublishConfig,
    *,
    alias: str = ALIAS,
    stream: str = "DIEF",
    **options: Any,
) -> DurableConsumer:
    return DurableConsumer(
        js,
        alias=alias,
        durable=DURABLE,
        subject_filter=SUBJECT_FILTER,
        batch_handler=BatchPublisher(js, config, stream),
        stream=stream,
        **options,
    )


def publisher_consumer(runtime: ServiceRuntime) -> DurableConsumer:
    """For ``ServiceRuntime.consumers`` of the contacts service, when publishing is set up."""
    if runtime.nats.js is None:
        raise RuntimeError("the LDAP publisher needs NATS to be connected first")
    return make_consumer(
        runtime.nats.js,
        PublishConfig.from_settings(runtime.settings),
        alias=runtime.alias,
        stream=runtime.settings.stream_name,
        **consumer_options(runtime.settings),
    )


async def follow(settings: Settings) -> None:
    """Run the publisher on its own (``dief ldap publish``) until cancelled."""
    config = PublishConfig.from_settings(settings)
    mongo.connect(ALIAS, settings.mongodb_uri, settings.contacts_db)
    link = NatsLink(
        settings.nats_url,
        "dief-ldap-publisher",
        settings.stream_name,
        settings.stream_max_age_days,
        settings.stream_replicas,
    )
    await link.run()
    assert link.js is not None
    try:
        await make_consumer(link.js, config, stream=settings.stream_name).run()
    finally:
        await link.close()
