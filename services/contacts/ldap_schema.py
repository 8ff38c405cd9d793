"""The LDAP part of the contacts subgraph: sync sources, runs and their records.
Resolvers only call ``ldap_sources`` and ``ldap_import``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from services.common.context import RequestContext
from services.common.ids import from_global_id, to_global_id
from services.common.mongo import run_sync
from services.contacts import ldap_import, ldap_sources
from services.contacts.ldap_mapping import mapping_with_overrides

Ctx = Info[RequestContext, None]
MANAGE_POLICY = [["directory_manager"]]


@strawberry.type(description="Which LDAP attribute fills a contact field.")
class LdapAttributeMapping:
    field: str = strawberry.field(description="name, given_name, surname, functional_email...")
    attribute: str | None = strawberry.field(description="LDAP attribute; null: not read.")


@strawberry.type(description="A State's national LDAP directory, as the sync reads it.")
class LdapSyncSource:
    state_code: str
    url: str = strawberry.field(description="ldap://host:port or ldaps://host:port.")
    start_tls: bool
    verify_certificates: bool = strawberry.field(description="Off only in dev.")
    ca_certificates: str | None = strawberry.field(
        description="PEM certificates of the CA(s) the directory's certificate is checked with."
    )
    bind_dn: str | None
    has_bind_password: bool = strawberry.field(
        description="Whether a bind password is stored (sealed; it is never returned)."
    )
    bind_password_set_at: datetime | None
    base_dn: str
    filter: str
    scope: str = strawberry.field(description="SUBTREE or ONE_LEVEL.")
    authority_id: strawberry.ID = strawberry.field(description="Where the contacts go.")
    mapping: list[LdapAttributeMapping] = strawberry.field(
        description="The mapping in force: inetOrgPerson defaults with this source's overrides."
    )
    enabled: bool = strawberry.field(description="Whether the schedule syncs it.")
    updated_at: datetime | None
    updated_by: str | None

    @classmethod
    def from_doc(cls, doc: ldap_sources.LdapSyncSource) -> LdapSyncSource:
        mapping = mapping_with_overrides(doc.mapping)
        return cls(
            state_code=doc.state_code,
            url=doc.url,
            start_tls=doc.start_tls,
            verify_certificates=doc.verify_certificates,
            ca_certificates=doc.ca_certificates,
            bind_dn=doc.bind_dn,
            has_bind_password=bool(doc.bind_password_sealed),
            bind_password_set_at=doc.bind_password_set_at,
            base_dn=doc.base_dn,
            filter=doc.filter,
            scope=doc.scope,
            authority_id=strawberry.ID(to_global_id("Authority", doc.authority_id)),
            mapping=[LdapAttributeMapping(field=k, attribute=v) for k, v in mapping.items()],
            enabled=doc.enabled,
            updated_at=doc.updated_at,
            updated_by=doc.updated_by,
        )


@strawberry.type(description="One line of a sync run's diff.")
class LdapSyncDetail:
    action: str = strawberry.field(description="ADDED, CHANGED, RESTORED, ARCHIVED or REJECTED.")
    dn: str | None
    key: str | None = strawberry.field(description="The entry's entryUUID.")
    reason: str | None = strawberry.field(description="Why an entry was rejected.")
    fields: list[str] = strawberry.field(description="The contact fields a change touches.")


@strawberry.type(description="The record of one sync run.")
class LdapSyncRun:
    id: strawberry.ID
    state_code: str
    started_by: str = strawberry.field(description="Token subject, cli:<user> or schedule.")
    trigger: str = strawberry.field(description="API, CLI or SCHEDULE.")
    full: bool
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    status: str = strawberry.field(description="RUNNING, SUCCEEDED or FAILED.")
    error_kind: str | None = strawberry.field(
        description="UNREACHABLE, HOST, TLS, CREDENTIALS, SECRET, BASE_DN, LIMIT, REJECTED, "
        "EMPTY, CONFLICT, CONFIG, LDAP or INTERNAL."
    )
    error: str | None = strawberry.field(
        description="What to check, with the request id the operators' log has the details under."
    )
    since: str | None = strawberry.field(description="Incremental: changes read from here.")
    read: int
    added: int
    changed: int
    archived: int
    unchanged: int
    rejected: int
    details: list[LdapSyncDetail]
    details_truncated: bool

    @classmethod
    def from_doc(cls, doc: ldap_sources.LdapSyncRun) -> LdapSyncRun:
        return cls(
            id=strawberry.ID(to_global_id("LdapSyncRun", doc.pk)),
            state_code=doc.state_code,
            started_by=doc.started_by,
            trigger=doc.trigger,
            full=doc.full,
            dry_run=doc.dry_run,
            started_at=doc.started_at,
            finished_at=doc.finished_at,
            status=doc.status,
            error_kind=doc.error_kind,
            error=doc.error,
            since=doc.since,
            read=doc.read,
            added=doc.added,
            changed=doc.changed,
            archived=doc.archived,
            unchanged=doc.unchanged,
            rejected=doc.rejected,
            details=[
                LdapSyncDetail(
                    action=d.action, dn=d.dn, key=d.key, reason=d.reason, fields=list(d.fields)
                )
                for d in doc.details
            ],
            details_truncated=doc.details_truncated,
        )


@strawberry.input(description="One mapping override; a null attribute stops reading a field.")
class LdapAttributeMappingInput:
    field: str
    attribute: str | None = None


@strawberry.input(description="A State's sync source (created or replaced whole).")
class LdapSyncSourceInput:
    state_code: str
    url: str
    base_dn: str
    authority_id: strawberry.ID
    bind_dn: str | None = None
    bind_password: str | None = strawberry.field(
        default=None,
        description="The bind password, stored sealed and never returned. Null keeps the "
        "stored one, which is kept only while the host and the bind DN stay the same.",
    )
    start_tls: bool = False
    verify_certificates: bool = strawberry.field(default=True, description="Off only in dev.")
    ca_certificates: str | None = strawberry.field(
        default=None, description="PEM certificates of the CA(s) to trust (64 KB at most)."
    )
    filter: str = "(objectClass=inetOrgPerson)"
    scope: str = "SUBTREE"
    mapping: list[LdapAttributeMappingInput] = strawberry.field(default_factory=list)
    enabled: bool = True


@strawberry.input(description="Start a sync run now.")
class LdapSyncRunInput:
    state_code: str
    full: bool = strawberry.field(default=False, description="Read every entry (sees deletions).")
    dry_run: bool = strawberry.field(default=False, description="Return the diff; write nothing.")


@strawberry.type
class LdapSyncSourcePayload:
    source: LdapSyncSource


@strawberry.type
class LdapSyncRunPayload:
    run: LdapSyncRun


@strawberry.type
class LdapQuery:
    @strawberry.federation.field(
        description="A State's LDAP sync source (that State's representatives, Secretariat).",
        policy=MANAGE_POLICY,
    )
    async def ldap_sync_source(self, info: Ctx, state_code: str) -> LdapSyncSource | None:
        doc = await run_sync(ldap_sources.get_source, info.context.principal, state_code)
        return LdapSyncSource.from_doc(doc)

    @strawberry.federation.field(
        description="A State's latest sync runs, newest first.", policy=MANAGE_POLICY
    )
    async def ldap_sync_runs(
        self,
        info: Ctx,
        state_code: str,
        last: Annotated[int, strawberry.argument(description="At most 100.")] = 20,
    ) -> list[LdapSyncRun] | None:
        found = await run_sync(ldap_sources.list_runs, info.context.principal, state_code, last)
        return [LdapSyncRun.from_doc(r) for r in found]


@strawberry.type
class LdapMutation:
    @strawberry.federation.mutation(
        description="Set a State's LDAP sync source (that State's representatives, Secretariat).",
        policy=MANAGE_POLICY,
    )
    async def ldap_sync_source_set(
        self, info: Ctx, input: LdapSyncSourceInput
    ) -> LdapSyncSourcePayload | None:
        given = ldap_sources.SourceInput(
            state_code=input.state_code,
            url=input.url,
            base_dn=input.base_dn,
            authority_id=from_global_id(input.authority_id, "Authority", field="authorityId"),
            bind_dn=input.bind_dn,
            bind_password=input.bind_password,
            start_tls=input.start_tls,
            verify_certificates=input.verify_certificates,
            ca_certificates=input.ca_certificates,
            filter=input.filter,
            scope=input.scope,
            mapping={m.field: m.attribute for m in input.mapping},
            enabled=input.enabled,
        )
        settings = info.context.runtime.settings
        doc = await run_sync(ldap_sources.set_source, info.context.principal, given, settings)
        return LdapSyncSourcePayload(source=LdapSyncSource.from_doc(doc))

    @strawberry.federation.mutation(
        description="Sync a State's contacts from its LDAP directory now; the run's record "
        "(a dry run's diff included) is returned whatever the outcome.",
        policy=MANAGE_POLICY,
    )
    async def ldap_sync_run(self, info: Ctx, input: LdapSyncRunInput) -> LdapSyncRunPayload | None:
        settings = info.context.runtime.settings
        doc = await run_sync(
            ldap_import.start_run,
            info.context.principal,
            input.state_code,
            settings=settings,
            full=input.full,
            dry_run=input.dry_run,
            page_size=settings.ldap_sync_page_size,
            timeout_seconds=settings.ldap_sync_timeout_seconds,
        )
        return LdapSyncRunPayload(run=LdapSyncRun.from_doc(doc))
