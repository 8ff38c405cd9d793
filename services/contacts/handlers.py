"""Use cases of the contact directory: load, decide with the domain, save with events.

These functions are synchronous (mongoengine); the GraphQL layer runs them in a thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bson import ObjectId
from mongoengine.queryset.visitor import Q
from pymongo.errors import DuplicateKeyError

from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import CloudEvent, event
from services.common.ids import to_global_id
from services.common.principal import Principal, require_authenticated
from services.common.ranged_pages import ListOrder
from services.common.unit_of_work import UnitOfWork, unit_of_work
from services.contacts import domain, registry
from services.contacts import events as _declared_events  # noqa: F401 - the catalogue
from services.contacts.documents import (
    ALIAS,
    Authority,
    ChangeRecord,
    Contact,
    State,
    StatusChange,
    snapshot,
    utcnow,
)
from services.contacts.domain import AttStatus, AuthorityKind, ContactRole, StatusDates

SERVICE = "contacts"


# --- who is calling ----------------------------------------------------------------------


def registry_says_participant(state_code: str | None) -> bool:
    return registry.is_participant(state_code)


def caller_is_participant(principal: Principal) -> bool:
    """This service owns the registry: the caller's State must be a participant in it
    now, and the gateway's flag must agree (either saying no is a no)."""
    return principal.participant and registry_says_participant(principal.state)


def reader(principal: Principal | None) -> Principal:
    p = require_authenticated(principal)
    domain.ensure_may_read_directory(p, caller_is_participant(p))
    return p


def manager_of(principal: Principal | None, state_code: str) -> Principal:
    p = require_authenticated(principal)
    domain.ensure_may_manage(p, state_code, caller_is_participant(p))
    return p


def record_change(
    uow: UnitOfWork,
    principal: Principal,
    entity: str,
    entity_id: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    uow.insert(
        ChangeRecord(
            entity=entity,
            entity_id=entity_id,
            action=action,
            actor=principal.subject,
            actor_state=principal.state,
            at=utcnow(),
            before=before or {},
            after=after or {},
        )
    )


# --- States ------------------------------------------------------------------------------


def load_state(code: str) -> State:
    """The State as stored now, to change it."""
    code = domain.state_code(code, field="code")
    state = State.objects(code=code).first()
    if state is None:
        raise NotFound(f"No State {code} in the registry.", field="code")
    return state


def known_state(code: str) -> State:
    """The State from the registry in memory (shared: read it, never change it)."""
    code = domain.state_code(code, field="code")
    state = registry.find(code)
    if state is None:
        raise NotFound(f"No State {code} in the registry.", field="code")
    return state


def registry_reader(principal: Principal | None) -> Principal:
    p = require_authenticated(principal)
    if not domain.may_read_registry(p, caller_is_participant(p)):
        domain.ensure_may_read_directory(p, False)  # raises the directory's refusal
    return p


def get_state(principal: Principal | None, code: str) -> State:
    registry_reader(principal)
    return known_state(code)


def get_states(principal: Principal | None, codes: list[str]) -> list[State | Exception]:
    """Several States for one caller (entity references): the caller is checked once;
    each code answers its State or the refusal of that code alone."""
    registry_reader(principal)
    found: list[State | Exception] = []
    for code in codes:
        try:
            found.append(known_state(code))
        except (NotFound, ValidationFailed) as refusal:
            found.append(refusal)
    return found


def list_states(
    principal: Principal | None, status: AttStatus | None, participant: bool | None
) -> list[State]:
    """The registry's States in code order, from memory."""
    registry_reader(principal)
    states = list(registry.all_states().values())
    if status is not None:
        states = [s for s in states if s.status == status]
    if participant is not None:
        states = [s for s in states if domain.is_participant(s.status) == participant]
    return states


@dataclass(frozen=True)
class StatusChangeInput:
    code: str
    status: AttStatus
    dates: StatusDates
    note: str | None = None


def change_state_status(principal: Principal | None, change: StatusChangeInput) -> State:
    """Only the Secretariat records a State's ATT status; every change is kept and
    announced on ``dief.contacts.state.status_changed``."""
    return change_state_statuses(principal, [change])[0]


def change_state_statuses(
    principal: Principal | None, changes: list[StatusChangeInput]
) -> list[State]:
    """Several status changes (a bulk import) in one transaction: every change is checked
    before anything is written, then all are saved, each in its State's status history
    and announced, or none is."""
    p = require_authenticated(principal)
    domain.ensure_may_change_status(p)
    staged = []
    for change in changes:
        state = load_state(change.code)
        domain.check_status_dates(change.status, change.dates)
        note = (
            domain.text(change.note, "note", max_length=domain.MAX_TEXT, required=False)
            if change.note
            else None
        )
        staged.append((state, change, note))
    now = utcnow()
    with unit_of_work(ALIAS) as uow:
        for state, change, note in staged:
            _stage_status_change(uow, p, state, change, note, now)
        uow.touch(registry.STATES)
    return [state for state, _change, _note in staged]


def _stage_status_change(
    uow: UnitOfWork,
    p: Principal,
    state: State,
    change: StatusChangeInput,
    note: str | None,
    now: datetime,
) -> None:
    before = snapshot(state)
    previous = state.status
    state.status = change.status
    state.signature_date = change.dates.signature
    state.ratification_date = change.dates.ratification
    state.entry_into_force_date = change.dates.entry_into_force
    state.withdrawal_date = change.dates.withdrawal
    state.updated_at = now
    state.status_history.append(
        StatusChange(
            status=change.status,
            signature_date=change.dates.signature,
            ratification_date=change.dates.ratification,
            entry_into_force_date=change.dates.entry_into_force,
            withdrawal_date=change.dates.withdrawal,
            changed_at=now,
            changed_by=p.subject,
            note=note,
        )
    )
    uow.save(state)
    record_change(uow, p, "State", state.code, "STATUS_CHANGED", before, snapshot(state))
    uow.record(status_changed(state, previous, now))


def status_changed(state: State, previous: AttStatus, changed_at: datetime) -> CloudEvent:
    """``dief.contacts.state.status_changed``: what every register of participants (the
    gateway's, each service's) learns a State's participation from."""
    return event(
        SERVICE,
        "state",
        "status_changed",
        subject=state.code,
        stateCode=state.code,
        status=state.status.value,
        previousStatus=previous.value,
        participant=domain.is_participant(state.status),
        changedAt=changed_at.isoformat(),
    )


def seed_states(statuses: dict[str, tuple[AttStatus, StatusDates]] | None = None) -> int:
    """Put every ISO 3166-1 country in the registry (as NON_PARTY unless told otherwise).

    Idempotent: States already present keep what they have. Each State seeded as a
    participant is announced on ``dief.contacts.state.status_changed`` in the same
    transaction, so a service's register of participants, which knows only what the
    stream told it, learns it (a State it never heard of is not a participant, so the
    non-parties need no word).
    """
    import pycountry

    existing = set(State.objects.scalar("code"))
    statuses = statuses or {}
    new_states = []
    for country in pycountry.countries:
        code = country.alpha_3
        if code in existing:
            continue
        status, dates = statuses.get(code, (AttStatus.NON_PARTY, StatusDates()))
        state = State(
            code=code,
            name=domain.country_name(code),
            status=status,
            signature_date=dates.signature,
            ratification_date=dates.ratification,
            entry_into_force_date=dates.entry_into_force,
            withdrawal_date=dates.withdrawal,
            status_history=[
                StatusChange(
                    status=status,
                    signature_date=dates.signature,
                    ratification_date=dates.ratification,
                    entry_into_force_date=dates.entry_into_force,
                    withdrawal_date=dates.withdrawal,
                    changed_at=utcnow(),
                    changed_by="seed",
                )
            ],
        )
        new_states.append(state)
    if new_states:
        with unit_of_work(ALIAS) as uow:
            for state in new_states:
                uow.insert_later(state)
                if domain.is_participant(state.status):
                    uow.record(
                        status_changed(state, state.status, state.status_history[0].changed_at)
                    )
            uow.touch(registry.STATES)
    return len(new_states)


# --- authorities -------------------------------------------------------------------------


def load_authority(authority_id: ObjectId) -> Authority:
    authority = Authority.objects(id=authority_id).first()
    if authority is None:
        raise NotFound("No such authority.", field="authorityId")
    return authority


def list_authorities(
    principal: Principal | None, state_code: str, kind: AuthorityKind | None
) -> list[Authority]:
    reader(principal)
    code = domain.state_code(state_code)
    query = Authority.objects(state_code=code).order_by("kind", "name")
    if kind is not None:
        query = query.filter(kind=kind)
    return list(query)


def get_authority(principal: Principal | None, authority_id: ObjectId) -> Authority:
    reader(principal)
    return load_authority(authority_id)


def _by_ids(document: Any, ids: list[ObjectId | Exception], what: str) -> list[Any]:
    """One ``$in`` find for ``ids`` (an id that did not parse stays its refusal), in order."""
    wanted = [i for i in ids if isinstance(i, ObjectId)]
    found = {d.pk: d for d in document.objects(id__in=wanted)} if wanted else {}
    return [
        i if isinstance(i, Exception) else found.get(i) or NotFound(f"No such {what}.", field="id")
        for i in ids
    ]


def get_authorities(
    principal: Principal | None, ids: list[ObjectId | Exception]
) -> list[Authority | Exception]:
    """Several authorities for one caller (entity references): one check, one find."""
    reader(principal)
    return _by_ids(Authority, ids, "authority")


def get_contacts(
    principal: Principal | None, ids: list[ObjectId | Exception]
) -> list[Contact | Exception]:
    """Several contacts for one caller (entity references): one check, one find."""
    reader(principal)
    return _by_ids(Contact, ids, "contact")


Setter = Callable[[Any], Any]

AUTHORITY_FIELDS: dict[str, Setter] = {
    "name": lambda v: domain.text(v, "name"),
    "email": lambda v: domain.email(v, "email") if v else None,
    "phone": lambda v: domain.phone(v, "phone") if v else None,
    "address": lambda v: (
        domain.text(v, "address", max_length=domain.MAX_TEXT, required=False) if v else None
    ),
    "time_zone": lambda v: domain.time_zone(v) if v else None,
    "languages": lambda v: domain.languages(v or []),
    "kind": lambda v: AuthorityKind(v),
}

CONTACT_FIELDS: dict[str, Setter] = {
    "name": lambda v: domain.text(v, "name"),
    "title": lambda v: domain.text(v, "title", required=False) if v else None,
    "functional_email": lambda v: domain.email(v, "functionalEmail"),
    "personal_email": lambda v: domain.email(v, "personalEmail") if v else None,
    "phone": lambda v: domain.phone(v, "phone") if v else None,
    "mobile": lambda v: domain.phone(v, "mobile") if v else None,
    "emergency_phone": lambda v: domain.phone(v, "emergencyPhone") if v else None,
    "languages": lambda v: domain.languages(v or []),
    "time_zone": lambda v: domain.time_zone(v) if v else None,
    "pgp_fingerprint": lambda v: domain.pgp_fingerprint(v) if v else None,
    "roles": lambda v: domain.contact_roles(list(v or [])),
}


def apply_fields(doc: Any, changes: dict[str, Any], setters: dict[str, Setter]) -> None:
    """Validate every given field first, then set them: a refusal changes nothing."""
    unknown = set(changes) - set(setters)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {', '.join(sorted(unknown))}.")
    cleaned = {name: setters[name](value) for name, value in changes.items()}
    for name, value in cleaned.items():
        setattr(doc, name, value)


def create_authority(
    principal: Principal | None, state_code: str, fields: dict[str, Any]
) -> Authority:
    code = domain.state_code(state_code)
    p = manager_of(principal, code)
    if registry.find(code) is None:
        raise NotFound(f"No State {code} in the registry.", field="stateCode")
    authority = Authority(state_code=code)
    apply_fields(authority, fields, AUTHORITY_FIELDS)
    with unit_of_work(ALIAS) as uow:
        uow.insert(authority)
        record_change(uow, p, "Authority", str(authority.pk), "CREATED", None, snapshot(authority))
        uow.record(_authority_event(authority, "CREATED"))
    return authority


def update_authority(
    principal: Principal | None, authority_id: ObjectId, fields: dict[str, Any]
) -> Authority:
    authority = load_authority(authority_id)
    p = manager_of(principal, authority.state_code)
    before = snapshot(authority)
    apply_fields(authority, fields, AUTHORITY_FIELDS)
    authority.updated_at = utcnow()
    contacts = list(Contact.objects(authority_id=authority.pk))
    with unit_of_work(ALIAS) as uow:
        uow.save(authority)
        for contact in contacts:  # the kind is copied onto contacts for filtering
            if contact.authority_kind != authority.kind:
                contact.authority_kind = authority.kind
                uow.save(contact)
        record_change(
            uow, p, "Authority", str(authority.pk), "UPDATED", before, snapshot(authority)
        )
        uow.record(_authority_event(authority, "UPDATED"))
    return authority


def _authority_event(authority: Authority, action: str) -> Any:
    return event(
        SERVICE,
        "authority",
        "changed",
        subject=to_global_id("Authority", authority.pk),
        authorityId=to_global_id("Authority", authority.pk),
        stateCode=authority.state_code,
        kind=authority.kind.value,
        action=action,
    )


# --- contacts ----------------------------------------------------------------------------


def load_contact(contact_id: ObjectId) -> Contact:
    contact = Contact.objects(id=contact_id).first()
    if contact is None:
        raise NotFound("No such contact.", field="id")
    return contact


def get_contact(principal: Principal | None, contact_id: ObjectId) -> Contact:
    reader(principal)
    return load_contact(contact_id)


@dataclass(frozen=True)
class ContactFilter:
    state_code: str | None = None
    authority_kind: AuthorityKind | None = None
    role: ContactRole | None = None
    language: str | None = None
    stale: bool | None = None
    name_contains: str | None = None
    include_archived: bool = False


DIRECTORY = ListOrder((("state_code", 1), ("name", 1), ("id", 1)), index="state_name_id")


def list_contacts(principal: Principal | None, flt: ContactFilter, stale_after_days: int) -> Any:
    reader(principal)
    query = Contact.objects.order_by(*DIRECTORY.sort())
    if not flt.include_archived:
        query = query.filter(archived_at=None)
    if flt.state_code:
        query = query.filter(state_code=domain.state_code(flt.state_code))
    if flt.authority_kind:
        query = query.filter(authority_kind=flt.authority_kind)
    if flt.role:
        query = query.filter(roles=flt.role)
    if flt.language:
        query = query.filter(languages=domain.language(flt.language, "language"))
    if flt.stale is not None:
        cutoff = domain.stale_before(utcnow(), stale_after_days)
        stale_q = Q(last_verified_at=None) | Q(last_verified_at__lt=cutoff)
        query = query.filter(stale_q if flt.stale else Q(last_verified_at__gte=cutoff))
    if flt.name_contains:
        needle = domain.text(flt.name_contains, "nameContains", max_length=100)
        # The operator form of $regex: it also works on servers whose regex objects fail.
        query = query.filter(__raw__={"name": {"$regex": re.escape(needle), "$options": "i"}})
    return query


def stale_contacts(
    principal: Principal | None, state_code: str | None, stale_after_days: int
) -> Any:
    """Rule 20: the Secretariat sees every stale entry, a State its own."""
    p = reader(principal)
    if not p.is_secretariat:
        if not p.represents_state:
            raise Forbidden(
                "Stale contacts are listed for the Secretariat and for each "
                "State's own representatives."
            )
        if state_code and domain.state_code(state_code) != p.state:
            raise Forbidden(
                f"Representatives of {p.state} see only {p.state}'s stale contacts.",
                field="stateCode",
            )
        state_code = p.state
    return list_contacts(p, ContactFilter(state_code=state_code, stale=True), stale_after_days)


def _ensure_unique_emails(contact: Contact) -> None:
    """The same email twice at one authority is a conflict.

    Two lookups on the indexes (authority, functional email) and (authority, personal
    email) that read only the contacts holding one of these addresses, so a write costs
    the same however many contacts the authority has."""
    emails = sorted(contact.emails)
    if not emails:
        return
    collection = Contact._get_collection()
    taken: set[str] = set()
    for field in ("functional_email", "personal_email"):
        for other in collection.find(
            {"authority_id": contact.authority_id, field: {"$in": emails}},
            {"functional_email": 1, "personal_email": 1, "archived_at": 1},
        ):
            if other["_id"] != contact.pk and other.get("archived_at") is None:
                taken.update(e for e in (other.get(field),) if e)
    clash = contact.emails & taken
    if clash:
        raise Conflict(
            f"{sorted(clash)[0]} is already used by another contact at this authority.",
            field="functionalEmail",
        )


def create_contact(
    principal: Principal | None, authority_id: ObjectId, fields: dict[str, Any]
) -> Contact:
    authority = load_authority(authority_id)
    p = manager_of(principal, authority.state_code)
    now = utcnow()
    contact = Contact(
        authority_id=authority.pk,
        state_code=authority.state_code,
        authority_kind=authority.kind,
        last_verified_at=now,
        verified_by=p.subject,
        created_at=now,
        updated_at=now,
    )
    apply_fields(contact, fields, CONTACT_FIELDS)
    _ensure_unique_emails(contact)
    _save_contact(p, contact, "CREATED", None)
    return contact


def update_contact(
    principal: Principal | None, contact_id: ObjectId, fields: dict[str, Any]
) -> Contact:
    contact = load_contact(contact_id)
    p = manager_of(principal, contact.state_code)
    if contact.archived_at is not None:
        raise Conflict("This contact is archived; it can no longer be changed.", field="id")
    before = snapshot(contact)
    apply_fields(contact, fields, CONTACT_FIELDS)
    _ensure_unique_emails(contact)
    contact.updated_at = utcnow()
    _save_contact(p, contact, "UPDATED", before)
    return contact


def verify_contact(principal: Principal | None, contact_id: ObjectId) -> Contact:
    """Rule 20: re-confirm that a contact's details are up to date."""
    contact = load_contact(contact_id)
    p = manager_of(principal, contact.state_code)
    if contact.archived_at is not None:
        raise Conflict("This contact is archived; it cannot be verified.", field="id")
    before = snapshot(contact)
    contact.last_verified_at = utcnow()
    contact.verified_by = p.subject
    _save_contact(p, contact, "VERIFIED", before)
    return contact


def archive_contact(principal: Principal | None, contact_id: ObjectId) -> Contact:
    """Contacts are archived, never deleted: the history keeps who they were."""
    contact = load_contact(contact_id)
    p = manager_of(principal, contact.state_code)
    if contact.archived_at is not None:
        return contact
    before = snapshot(contact)
    contact.archived_at = utcnow()
    contact.updated_at = contact.archived_at
    _save_contact(p, contact, "ARCHIVED", before)
    return contact


def _save_contact(
    p: Principal, contact: Contact, action: str, before: dict[str, Any] | None
) -> None:
    try:
        with unit_of_work(ALIAS) as uow:
            if action == "CREATED":
                uow.insert(contact)
            else:
                uow.save(contact)
            record_change(uow, p, "Contact", str(contact.pk), action, before, snapshot(contact))
            uow.record(
                event(
                    SERVICE,
                    "contact",
                    "changed",
                    subject=to_global_id("Contact", contact.pk),
                    contactId=to_global_id("Contact", contact.pk),
                    authorityId=to_global_id("Authority", contact.authority_id),
                    stateCode=contact.state_code,
                    action=action,
                )
            )
    except DuplicateKeyError as exc:
        raise Conflict(
            f"{contact.functional_email} is already used by another contact at this authority.",
            field="functionalEmail",
        ) from exc


def contact_history(principal: Principal | None, contact_id: ObjectId) -> list[ChangeRecord]:
    contact = load_contact(contact_id)
    p = reader(principal)
    if not p.is_secretariat:
        domain.ensure_may_manage(p, contact.state_code, True)
    return list(ChangeRecord.objects(entity="Contact", entity_id=str(contact.pk)).order_by("at"))


def authority_history(principal: Principal | None, authority_id: ObjectId) -> list[ChangeRecord]:
    """The same history as a contact's: who changed what, when, before and after."""
    authority = load_authority(authority_id)
    p = reader(principal)
    if not p.is_secretariat:
        domain.ensure_may_manage(p, authority.state_code, True)
    return list(
        ChangeRecord.objects(entity="Authority", entity_id=str(authority.pk)).order_by("at")
    )


def contacts_of_state(principal: Principal | None, state_code: str) -> list[Contact]:
    reader(principal)
    code = domain.state_code(state_code)
    return list(Contact.objects(state_code=code, archived_at=None).order_by("name"))


def parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def is_stale(contact: Contact, stale_after_days: int, now: datetime | None = None) -> bool:
    return domain.is_stale(contact.last_verified_at, now or utcnow(), stale_after_days)


def ensure_indexes() -> None:
    for document in (State, Authority, Contact, ChangeRecord):
        document.ensure_indexes()
