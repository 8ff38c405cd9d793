"""The contacts subgraph: types, queries and mutations. Resolvers only call handlers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from services.common.context import RequestContext
from services.common.entities import key_values, object_ids
from services.common.ids import from_global_id, to_global_id
from services.common.mongo import run_sync
from services.common.pagination import Connection, paginate_list
from services.common.ranged_pages import paginate_ranged
from services.common.schema import SubgraphSchema
from services.contacts import documents as docs
from services.contacts import domain, handlers, notices, registry
from services.contacts.ldap_schema import LdapMutation, LdapQuery
from services.contacts.notices_schema import NoticeMutation, NoticeQuery, NoticeRole

Ctx = Info[RequestContext, None]

AttStatus = strawberry.enum(
    domain.AttStatus,
    description="A State's standing under the Arms Trade Treaty. States Parties and "
    "signatories are the Forum's participants (rules 1 and 6).",
)
AuthorityKind = strawberry.enum(
    domain.AuthorityKind, description="What an enforcement authority does."
)
ContactRole = NoticeRole

READ_POLICY = [["directory_reader"]]
WRITE_POLICY = [["directory_manager"]]
SECRETARIAT_POLICY = [["secretariat"]]


def _stale_days(info: Ctx) -> int:
    return info.context.runtime.settings.stale_after_days


async def _directory_page(
    query: Any, first: int | None, after: str | None, days: int, *, hint: bool
) -> Connection[Contact]:
    """A page of ``query``'s contacts in the directory's order, on its index if ``hint``."""
    return await run_sync(
        paginate_ranged,
        query,
        handlers.DIRECTORY,
        first,
        after,
        lambda c: Contact.from_doc(c, days),
        hint=hint,
    )


@strawberry.type(description="One recorded change of a State's ATT status.")
class StatusChange:
    status: AttStatus
    signature_date: date | None
    ratification_date: date | None = strawberry.field(
        description="Ratification, acceptance, approval or accession."
    )
    entry_into_force_date: date | None
    withdrawal_date: date | None
    changed_at: datetime
    changed_by: str = strawberry.field(description="Who recorded it.")
    note: str | None


@strawberry.federation.type(
    keys=["code"], authenticated=True, description="A State in the registry, with its ATT status."
)
class State:
    code: strawberry.ID = strawberry.field(description="ISO 3166-1 alpha-3 code.")
    name: str = strawberry.field(description="The State's short name.")
    status: AttStatus = strawberry.field(description="ATT status as it is now.")
    participant: bool = strawberry.field(
        description="True for States Parties and signatories (rules 1 and 6)."
    )
    signature_date: date | None
    ratification_date: date | None
    entry_into_force_date: date | None
    withdrawal_date: date | None
    status_history: list[StatusChange] = strawberry.field(
        description="Every status change, oldest first."
    )

    @classmethod
    def from_doc(cls, doc: docs.State) -> State:
        return cls(
            code=strawberry.ID(doc.code),
            name=doc.name,
            status=doc.status,
            participant=domain.is_participant(doc.status),
            signature_date=doc.signature_date,
            ratification_date=doc.ratification_date,
            entry_into_force_date=doc.entry_into_force_date,
            withdrawal_date=doc.withdrawal_date,
            status_history=[
                StatusChange(
                    status=h.status,
                    signature_date=h.signature_date,
                    ratification_date=h.ratification_date,
                    entry_into_force_date=h.entry_into_force_date,
                    withdrawal_date=h.withdrawal_date,
                    changed_at=h.changed_at,
                    changed_by=h.changed_by,
                    note=h.note,
                )
                for h in doc.status_history
            ],
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, code: str) -> State:
        return cls.from_doc(
            await registry.STATES.call(handlers.get_state, info.context.principal, code)
        )

    @classmethod
    async def resolve_references(cls, info: Ctx, keys: list[dict[str, Any]]) -> list[Any]:
        codes = [c if isinstance(c, str) else "" for c in key_values(keys, "code")]
        found = await registry.STATES.call(handlers.get_states, info.context.principal, codes)
        return [f if isinstance(f, Exception) else cls.from_doc(f) for f in found]

    @strawberry.field(description="The State's enforcement authorities (rule 20).")
    async def authorities(self, info: Ctx, kind: AuthorityKind | None = None) -> list[Authority]:
        found = await run_sync(
            handlers.list_authorities, info.context.principal, str(self.code), kind
        )
        return [Authority.from_doc(a) for a in found]


@strawberry.federation.type(
    keys=["id"], authenticated=True, description="An enforcement authority of a State (rule 20)."
)
class Authority:
    id: strawberry.ID
    state_code: str = strawberry.field(description="The State it belongs to.")
    kind: AuthorityKind
    name: str
    email: str | None = strawberry.field(description="Functional email address.")
    phone: str | None = strawberry.field(description="E.164 phone number.")
    address: str | None
    time_zone: str | None = strawberry.field(description="IANA time zone name.")
    languages: list[str] = strawberry.field(description="Working languages, ISO 639-1.")

    @classmethod
    def from_doc(cls, doc: docs.Authority) -> Authority:
        return cls(
            id=strawberry.ID(to_global_id("Authority", doc.pk)),
            state_code=doc.state_code,
            kind=doc.kind,
            name=doc.name,
            email=doc.email,
            phone=doc.phone,
            address=doc.address,
            time_zone=doc.time_zone,
            languages=list(doc.languages),
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Authority:
        oid = from_global_id(id, "Authority")
        return cls.from_doc(await run_sync(handlers.get_authority, info.context.principal, oid))

    @classmethod
    async def resolve_references(cls, info: Ctx, keys: list[dict[str, Any]]) -> list[Any]:
        ids = object_ids(keys, "Authority")
        found = await run_sync(handlers.get_authorities, info.context.principal, ids)
        return [f if isinstance(f, Exception) else cls.from_doc(f) for f in found]

    @strawberry.field(description="The State this authority belongs to.")
    async def state(self, info: Ctx) -> State:
        return await State.resolve_reference(info, self.state_code)

    @strawberry.field(description="The authority's current (not archived) contacts.")
    async def contacts(self, info: Ctx) -> list[Contact]:
        oid = from_global_id(self.id, "Authority")
        flt = handlers.ContactFilter()
        query = await run_sync(
            handlers.list_contacts, info.context.principal, flt, _stale_days(info)
        )
        found = await run_sync(lambda: list(query.filter(authority_id=oid)))
        return [Contact.from_doc(c, _stale_days(info)) for c in found]


@strawberry.federation.type(
    keys=["id"], authenticated=True, description="A person to reach at an enforcement authority."
)
class Contact:
    id: strawberry.ID
    state_code: str
    authority_id: strawberry.ID
    authority_kind: AuthorityKind
    name: str
    title: str | None
    functional_email: str = strawberry.field(description="The office's shared address.")
    personal_email: str | None
    phone: str | None = strawberry.field(description="E.164.")
    mobile: str | None = strawberry.field(description="E.164.")
    emergency_phone: str | None = strawberry.field(description="E.164, reachable 24/7.")
    languages: list[str] = strawberry.field(
        description="ISO 639-1, in the order of preference the State gave."
    )
    time_zone: str | None
    pgp_fingerprint: str | None
    public_key: str | None = strawberry.field(
        description="The registered OpenPGP public key (ASCII armour): notices to this "
        "contact are encrypted to it."
    )
    public_key_fingerprint: str | None = strawberry.field(
        description="The registered key's fingerprint, as read from the key."
    )
    roles: list[ContactRole]
    last_verified_at: datetime | None = strawberry.field(
        description="When the details were last confirmed as up to date."
    )
    verified_by: str | None
    stale: bool = strawberry.field(
        description="Not verified within the configured number of days (rule 20)."
    )
    archived_at: datetime | None
    source: str = strawberry.field(description="MANUAL, or LDAP for synchronised entries.")
    department: str | None = strawberry.field(
        default=None, description="The unit within the authority (LDAP ou), if known."
    )

    @classmethod
    def from_doc(cls, doc: docs.Contact, stale_after_days: int) -> Contact:
        return cls(
            id=strawberry.ID(to_global_id("Contact", doc.pk)),
            state_code=doc.state_code,
            authority_id=strawberry.ID(to_global_id("Authority", doc.authority_id)),
            authority_kind=doc.authority_kind,
            name=doc.name,
            title=doc.title,
            functional_email=doc.functional_email,
            personal_email=doc.personal_email,
            phone=doc.phone,
            mobile=doc.mobile,
            emergency_phone=doc.emergency_phone,
            languages=list(doc.languages),
            time_zone=doc.time_zone,
            pgp_fingerprint=doc.pgp_fingerprint,
            public_key=doc.pgp_key,
            public_key_fingerprint=doc.pgp_key_fingerprint,
            roles=list(doc.roles),
            last_verified_at=doc.last_verified_at,
            verified_by=doc.verified_by,
            stale=handlers.is_stale(doc, stale_after_days),
            archived_at=doc.archived_at,
            source=doc.source,
            department=doc.department,
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Contact:
        oid = from_global_id(id, "Contact")
        doc = await run_sync(handlers.get_contact, info.context.principal, oid)
        return cls.from_doc(doc, _stale_days(info))

    @classmethod
    async def resolve_references(cls, info: Ctx, keys: list[dict[str, Any]]) -> list[Any]:
        ids = object_ids(keys, "Contact")
        found = await run_sync(handlers.get_contacts, info.context.principal, ids)
        days = _stale_days(info)
        return [f if isinstance(f, Exception) else cls.from_doc(f, days) for f in found]

    @strawberry.field(description="The authority this contact works at.")
    async def authority(self, info: Ctx) -> Authority:
        return await Authority.resolve_reference(info, self.authority_id)


@strawberry.type(description="One field as it was before a change and after it.")
class FieldChange:
    field: str = strawberry.field(description="The field's name, as in the API.")
    before: str | None = strawberry.field(description="The value before (lists comma-joined).")
    after: str | None = strawberry.field(description="The value after.")


@strawberry.type(description="One change in a contact's history.")
class ChangeRecord:
    action: str = strawberry.field(description="CREATED, UPDATED, VERIFIED or ARCHIVED.")
    actor: str = strawberry.field(description="Who made the change (token subject).")
    actor_state: str | None = strawberry.field(description="The State they acted for.")
    at: datetime = strawberry.field(description="When.")
    changes: list[FieldChange] = strawberry.field(description="What changed.")

    @classmethod
    def from_doc(cls, doc: docs.ChangeRecord) -> ChangeRecord:
        return cls(
            action=doc.action,
            actor=doc.actor,
            actor_state=doc.actor_state,
            at=doc.at,
            changes=[
                FieldChange(field=f, before=b, after=a)
                for f, b, a in docs.field_changes(doc.before, doc.after)
            ],
        )


# --- inputs ------------------------------------------------------------------------------


@strawberry.input(description="Filter for `states`.")
class StateFilter:
    status: AttStatus | None = None
    participant: bool | None = None


@strawberry.input(description="Filter for `contacts`; every condition must hold.")
class ContactFilter:
    state_code: str | None = None
    authority_kind: AuthorityKind | None = None
    role: ContactRole | None = None
    language: str | None = strawberry.field(default=None, description="ISO 639-1.")
    stale: bool | None = None
    name_contains: str | None = strawberry.field(
        default=None, description="Case-insensitive part of the name."
    )
    include_archived: bool = False


@strawberry.input(description="Record a State's ATT status (Secretariat only).")
class StateStatusChangeInput:
    code: str = strawberry.field(description="ISO 3166-1 alpha-3.")
    status: AttStatus
    signature_date: date | None = None
    ratification_date: date | None = None
    entry_into_force_date: date | None = None
    withdrawal_date: date | None = None
    note: str | None = None


@strawberry.input(
    description="ATT statuses in bulk (Secretariat only): a CSV file, checked whole first."
)
class StateStatusImportInput:
    csv: str = strawberry.field(
        description=(
            "A header line naming the columns (code,status,signature,ratification,"
            "entry_into_force,withdrawal; code and status required), then one row a State; "
            "dates as YYYY-MM-DD, lines starting with # skipped; at most 500 rows."
        )
    )
    dry_run: bool = strawberry.field(
        default=True, description="Only list the changes the file would make (the default)."
    )
    note: str | None = strawberry.field(
        default=None, description="Kept in each changed State's status history."
    )


@strawberry.input(description="A new enforcement authority of a State.")
class AuthorityCreateInput:
    state_code: str
    kind: AuthorityKind
    name: str
    email: str | None = None
    phone: str | None = strawberry.field(default=None, description="International form.")
    address: str | None = None
    time_zone: str | None = None
    languages: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="Change an authority; fields left out stay as they are.")
class AuthorityUpdateInput:
    id: strawberry.ID
    kind: AuthorityKind | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    time_zone: str | None = strawberry.UNSET
    languages: list[str] | None = strawberry.UNSET


@strawberry.input(description="A new contact at an authority.")
class ContactCreateInput:
    authority_id: strawberry.ID
    name: str
    functional_email: str
    title: str | None = None
    personal_email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    emergency_phone: str | None = None
    languages: list[str] = strawberry.field(default_factory=list)
    time_zone: str | None = None
    pgp_fingerprint: str | None = None
    roles: list[ContactRole] = strawberry.field(default_factory=list)


@strawberry.input(description="Change a contact; fields left out stay as they are.")
class ContactUpdateInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    functional_email: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    personal_email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    mobile: str | None = strawberry.UNSET
    emergency_phone: str | None = strawberry.UNSET
    languages: list[str] | None = strawberry.UNSET
    time_zone: str | None = strawberry.UNSET
    pgp_fingerprint: str | None = strawberry.UNSET
    roles: list[ContactRole] | None = strawberry.UNSET


@strawberry.input(description="A contact's OpenPGP public key; null removes it.")
class ContactKeyInput:
    id: strawberry.ID
    public_key: str | None


@strawberry.input(description="Names one contact.")
class ContactRefInput:
    id: strawberry.ID


def given_fields(data: Any, skip: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """The fields a client actually sent (UNSET ones are left out)."""
    return {
        name: value
        for name, value in vars(data).items()
        if name not in skip and value is not strawberry.UNSET
    }


# --- payloads ----------------------------------------------------------------------------


@strawberry.type(description="The State after the change.")
class StateStatusChangePayload:
    state: State


@strawberry.type(description="One State's status as the import changes it.")
class StateStatusImportChange:
    code: str
    before: AttStatus
    after: AttStatus
    signature_date: date | None
    ratification_date: date | None
    entry_into_force_date: date | None
    withdrawal_date: date | None


@strawberry.type(description="What a bulk import changes (or, in a dry run, would change).")
class StateStatusImportPayload:
    dry_run: bool
    rows: int = strawberry.field(description="The file's rows.")
    changes: list[StateStatusImportChange] = strawberry.field(
        description="The States whose status or dates change; the others stay as they are."
    )


@strawberry.type(description="The authority after the change.")
class AuthorityPayload:
    authority: Authority


@strawberry.type(description="The contact after the change.")
class ContactPayload:
    contact: Contact


# --- root types --------------------------------------------------------------------------


@strawberry.type
class Query(LdapQuery, NoticeQuery):
    @strawberry.federation.field(description="One State of the registry.", policy=READ_POLICY)
    async def state(
        self, info: Ctx, code: Annotated[str, strawberry.argument(description="ISO alpha-3")]
    ) -> State | None:
        return State.from_doc(
            await registry.STATES.call(handlers.get_state, info.context.principal, code)
        )

    @strawberry.federation.field(description="States of the registry, by code.", policy=READ_POLICY)
    async def states(
        self,
        info: Ctx,
        filter: StateFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[State] | None:
        flt = filter or StateFilter()
        found = await registry.STATES.call(
            handlers.list_states, info.context.principal, flt.status, flt.participant
        )
        return paginate_list(found, first, after, State.from_doc)

    @strawberry.federation.field(
        description="A State's enforcement authorities.", policy=READ_POLICY
    )
    async def authorities(
        self, info: Ctx, state_code: str, kind: AuthorityKind | None = None
    ) -> list[Authority] | None:
        found = await run_sync(handlers.list_authorities, info.context.principal, state_code, kind)
        return [Authority.from_doc(a) for a in found]

    @strawberry.federation.field(
        description="Contacts of the directory (rule 20).", policy=READ_POLICY
    )
    async def contacts(
        self,
        info: Ctx,
        filter: ContactFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Contact] | None:
        f = filter or ContactFilter()
        flt = handlers.ContactFilter(**vars(f))
        days = _stale_days(info)
        query = await run_sync(handlers.list_contacts, info.context.principal, flt, days)
        # the directory's common pages (all of it, or one State's) on the index of its
        # order; other filters left to the planner
        common = vars(flt) == vars(handlers.ContactFilter(state_code=flt.state_code))
        return await _directory_page(query, first, after, days, hint=common)

    @strawberry.federation.field(description="One contact.", policy=READ_POLICY)
    async def contact(self, info: Ctx, id: strawberry.ID) -> Contact | None:
        return await Contact.resolve_reference(info, id)

    @strawberry.federation.field(
        description="Every change made to a contact, oldest first. For the "
        "Secretariat and the contact's own State.",
        policy=READ_POLICY,
    )
    async def contact_history(self, info: Ctx, id: strawberry.ID) -> list[ChangeRecord] | None:
        oid = from_global_id(id, "Contact")
        found = await run_sync(handlers.contact_history, info.context.principal, oid)
        return [ChangeRecord.from_doc(r) for r in found]

    @strawberry.federation.field(
        description="Every change made to an authority, oldest first. For the "
        "Secretariat and the authority's own State.",
        policy=READ_POLICY,
    )
    async def authority_history(self, info: Ctx, id: strawberry.ID) -> list[ChangeRecord] | None:
        oid = from_global_id(id, "Authority")
        found = await run_sync(handlers.authority_history, info.context.principal, oid)
        return [ChangeRecord.from_doc(r) for r in found]

    @strawberry.federation.field(
        description="Contacts not verified for too long (rule 20): all of them "
        "for the Secretariat, a State's own for its representatives.",
        policy=READ_POLICY,
    )
    async def stale_contacts(
        self,
        info: Ctx,
        state_code: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Contact] | None:
        days = _stale_days(info)
        query = await run_sync(handlers.stale_contacts, info.context.principal, state_code, days)
        # a filter of its own: left to the planner
        return await _directory_page(query, first, after, days, hint=False)


@strawberry.type
class Mutation(LdapMutation, NoticeMutation):
    @strawberry.federation.mutation(
        description="Record a State's ATT status (Secretariat only).", policy=SECRETARIAT_POLICY
    )
    async def state_status_change(
        self, info: Ctx, input: StateStatusChangeInput
    ) -> StateStatusChangePayload | None:
        change = handlers.StatusChangeInput(
            code=input.code,
            status=input.status,
            note=input.note,
            dates=domain.StatusDates(
                signature=input.signature_date,
                ratification=input.ratification_date,
                entry_into_force=input.entry_into_force_date,
                withdrawal=input.withdrawal_date,
            ),
        )
        doc = await run_sync(handlers.change_state_status, info.context.principal, change)
        return StateStatusChangePayload(state=State.from_doc(doc))

    @strawberry.federation.mutation(
        description=(
            "Record ATT statuses in bulk from a CSV file (Secretariat only): every row is "
            "checked first; a dry run lists the changes, otherwise they are written in one "
            "transaction, each in its State's status history and announced."
        ),
        policy=SECRETARIAT_POLICY,
    )
    async def state_status_import(
        self, info: Ctx, input: StateStatusImportInput
    ) -> StateStatusImportPayload | None:
        from services.contacts import status_import

        rows, updates = await run_sync(
            status_import.import_statuses,
            info.context.principal,
            input.csv,
            input.dry_run,
            input.note,
        )
        return StateStatusImportPayload(
            dry_run=input.dry_run,
            rows=rows,
            changes=[
                StateStatusImportChange(
                    code=u.code,
                    before=u.before,
                    after=u.after,
                    signature_date=u.dates.signature,
                    ratification_date=u.dates.ratification,
                    entry_into_force_date=u.dates.entry_into_force,
                    withdrawal_date=u.dates.withdrawal,
                )
                for u in updates
            ],
        )

    @strawberry.federation.mutation(
        description="Add an enforcement authority to a State.", policy=WRITE_POLICY
    )
    async def authority_create(
        self, info: Ctx, input: AuthorityCreateInput
    ) -> AuthorityPayload | None:
        doc = await run_sync(
            handlers.create_authority,
            info.context.principal,
            input.state_code,
            given_fields(input, skip=("state_code",)),
        )
        return AuthorityPayload(authority=Authority.from_doc(doc))

    @strawberry.federation.mutation(description="Change an authority.", policy=WRITE_POLICY)
    async def authority_update(
        self, info: Ctx, input: AuthorityUpdateInput
    ) -> AuthorityPayload | None:
        oid = from_global_id(input.id, "Authority")
        doc = await run_sync(
            handlers.update_authority, info.context.principal, oid, given_fields(input)
        )
        return AuthorityPayload(authority=Authority.from_doc(doc))

    @strawberry.federation.mutation(
        description="Add a contact at an authority.", policy=WRITE_POLICY
    )
    async def contact_create(self, info: Ctx, input: ContactCreateInput) -> ContactPayload | None:
        oid = from_global_id(input.authority_id, "Authority", field="authorityId")
        doc = await run_sync(
            handlers.create_contact,
            info.context.principal,
            oid,
            given_fields(input, skip=("authority_id",)),
        )
        return ContactPayload(contact=Contact.from_doc(doc, _stale_days(info)))

    @strawberry.federation.mutation(description="Change a contact.", policy=WRITE_POLICY)
    async def contact_update(self, info: Ctx, input: ContactUpdateInput) -> ContactPayload | None:
        oid = from_global_id(input.id, "Contact")
        doc = await run_sync(
            handlers.update_contact, info.context.principal, oid, given_fields(input)
        )
        return ContactPayload(contact=Contact.from_doc(doc, _stale_days(info)))

    @strawberry.federation.mutation(
        description="Confirm that a contact's details are up to date (rule 20).",
        policy=WRITE_POLICY,
    )
    async def contact_verify(self, info: Ctx, input: ContactRefInput) -> ContactPayload | None:
        oid = from_global_id(input.id, "Contact")
        doc = await run_sync(handlers.verify_contact, info.context.principal, oid)
        return ContactPayload(contact=Contact.from_doc(doc, _stale_days(info)))

    @strawberry.federation.mutation(
        description="Archive a contact who left; it is kept, never deleted.", policy=WRITE_POLICY
    )
    async def contact_archive(self, info: Ctx, input: ContactRefInput) -> ContactPayload | None:
        oid = from_global_id(input.id, "Contact")
        doc = await run_sync(handlers.archive_contact, info.context.principal, oid)
        return ContactPayload(contact=Contact.from_doc(doc, _stale_days(info)))

    @strawberry.federation.mutation(
        description="Register a contact's OpenPGP public key (ASCII armour; checked, its "
        "fingerprint read from it), or remove it with null: notices are then encrypted.",
        policy=WRITE_POLICY,
    )
    async def contact_key_register(
        self, info: Ctx, input: ContactKeyInput
    ) -> ContactPayload | None:
        oid = from_global_id(input.id, "Contact")
        doc = await run_sync(notices.register_key, info.context.principal, oid, input.public_key)
        return ContactPayload(contact=Contact.from_doc(doc, _stale_days(info)))


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[State, Authority, Contact],
)
