"""What the directory gives the notices of the other services: each State's choice of
which roles receive which audience's notices, contacts' OpenPGP keys, and the recipients
of a notice by role (never every contact of a State).

Synchronous (mongoengine); the GraphQL layer runs these in a thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bson import ObjectId

from services.common.errors import Forbidden, ValidationFailed
from services.common.notifications import pgp
from services.common.notifications.kinds import DEFAULT_ROLES, Audience
from services.common.notifications.recipients import Candidate, Recipient, choose
from services.common.principal import Principal, require_authenticated
from services.common.unit_of_work import unit_of_work
from services.contacts import domain
from services.contacts.documents import ALIAS, Contact, State, snapshot, utcnow
from services.contacts.domain import ContactRole
from services.contacts.handlers import (
    _save_contact,
    caller_is_participant,
    load_contact,
    load_state,
    manager_of,
    reader,
    record_change,
)

MAX_STATES = 300


def roles_of(state: State, audience: Audience) -> tuple[str, ...]:
    chosen = (state.notice_roles or {}).get(audience.value)
    return tuple(chosen) if chosen else DEFAULT_ROLES[audience]


def set_notice_roles(
    principal: Principal | None, state_code: str, audience: Audience, roles: list[ContactRole]
) -> State:
    """A State chooses which of its contacts' roles receive an audience's notices; only
    that State's own representatives do (the Secretariat does not choose for it)."""
    p = require_authenticated(principal)
    state = load_state(state_code)
    if p.state != state.code or not p.represents_state:
        raise Forbidden(
            f"Only {state.code}'s own representatives choose who of its contacts is told.",
            rule=20,
        )
    domain.ensure_may_manage(p, state.code, caller_is_participant(p))
    ordered = list(dict.fromkeys(roles))
    if not ordered:
        raise ValidationFailed("Name at least one role.", field="roles")
    before = snapshot(state)
    state.notice_roles = {**(state.notice_roles or {}), audience.value: [r.value for r in ordered]}
    state.updated_at = utcnow()
    with unit_of_work(ALIAS) as uow:
        uow.save(state)
        record_change(uow, p, "State", state.code, "NOTICE_ROLES_SET", before, snapshot(state))
    return state


def register_key(principal: Principal | None, contact_id: ObjectId, armored: str | None) -> Contact:
    """A contact's OpenPGP public key (validated; its fingerprint taken from the key), or
    none to remove it. Notices to the contact are then encrypted to it."""
    contact = load_contact(contact_id)
    p = manager_of(principal, contact.state_code)
    before = snapshot(contact)
    if armored:
        info = pgp.inspect(armored)
        contact.pgp_key = armored.strip()
        contact.pgp_key_fingerprint = contact.pgp_fingerprint = info.fingerprint
    else:
        contact.pgp_key = contact.pgp_key_fingerprint = None
    contact.updated_at = utcnow()
    _save_contact(p, contact, "UPDATED", before)
    return contact


@dataclass(frozen=True)
class StateRecipients:
    state: str
    participant: bool
    roles: tuple[str, ...]
    recipients: tuple[Recipient, ...]
    state_party: bool = False  # rule 8: only States Parties object to an expert


def _candidates(contacts: Iterable[Contact]) -> list[Candidate]:
    return [
        Candidate(
            c.functional_email,
            tuple(r.value for r in c.roles or ()),
            c.pgp_key or None,
            c.pgp_key_fingerprint if c.pgp_key else None,
        )
        for c in contacts
    ]


def notice_recipients(
    principal: Principal | None, audience: Audience, state_codes: list[str] | None
) -> list[StateRecipients]:
    """The recipients of an audience's notices in each State named (by default every
    participant State), chosen by the roles the State set; a State without any is listed
    with none, so that the caller reports it."""
    reader(principal)
    if state_codes is None:
        states = list(
            State.objects(status__in=[s for s in domain.AttStatus if domain.is_participant(s)])
        )
    else:
        if len(state_codes) > MAX_STATES:
            raise ValidationFailed(f"At most {MAX_STATES} States.", field="stateCodes")
        codes = sorted({domain.state_code(c, field="stateCodes") for c in state_codes})
        states = list(State.objects(code__in=codes))
    return _recipients(states, audience)


def recipients_of(state_codes: list[str], audience: Audience) -> list[StateRecipients]:
    """The same choice for the service's own notices (rule 20), without a caller."""
    return _recipients(list(State.objects(code__in=state_codes)), audience)


def _recipients(states: list[State], audience: Audience) -> list[StateRecipients]:
    by_state: dict[str, list[Contact]] = {s.code: [] for s in states}
    for c in Contact.objects(state_code__in=list(by_state), archived_at=None):
        by_state[c.state_code].append(c)
    out = []
    for s in sorted(states, key=lambda s: s.code):
        roles = roles_of(s, audience)
        chosen = choose(s.code, _candidates(by_state[s.code]), roles)
        out.append(
            StateRecipients(
                s.code,
                domain.is_participant(s.status),
                roles,
                tuple(chosen),
                s.status is domain.AttStatus.STATE_PARTY,
            )
        )
    return out
