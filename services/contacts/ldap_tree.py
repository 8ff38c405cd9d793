"""The DIEF directory as an LDAP tree: where each thing goes, what its entry says, and what
to change so that a tree becomes what it should be. Pure: no LDAP, no database.

Under the base DN (``deploy/openldap/slapd.conf.in`` has the server's side)::

    ou=states                       the published directory
      ou=<ISO3>                     a participant State: organizationalUnit
        uid=<authority id>          an authority: organizationalUnit + uidObject + diefAuthority
          uid=<contact id>          a contact: inetOrgPerson + diefContact
    cn=participants,ou=groups       groupOfNames of the participant States' bind accounts
    cn=<ISO3>,ou=accounts           a State's bind account (kept by the operators)

Entries are named by the DIEF ids, which never change, so a renamed authority or contact is
a modification, never a move; names, emails and phones are attribute values, never in DNs.
Only participant States (States Parties and signatories) are published: a State that
stops taking part disappears from the tree and from the participants group together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from email_validator import EmailNotValidError, validate_email
from ldap3.utils.dn import escape_rdn, parse_dn

from services.contacts.documents import Authority, Contact, State
from services.contacts.domain import is_participant
from services.contacts.events import AUTHORITY_CHANGED, CONTACT_CHANGED, STATE_STATUS_CHANGED

Values = tuple[str, ...]

STATE_CODE = re.compile(r"^[A-Z]{3}$")
STATES_DESCRIPTION = (
    "DIEF directory: enforcement authorities and contacts of the States that take part in "
    "the Forum (rule 20)"
)
PARTICIPANTS_DESCRIPTION = (
    "Accounts of the States that take part in the Forum (States Parties and signatories)"
)


# --- where things go ---------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryLayout:
    """The DNs of the published tree under ``base_dn``."""

    base_dn: str

    @property
    def states_dn(self) -> str:
        return f"ou=states,{self.base_dn}"

    @property
    def groups_dn(self) -> str:
        return f"ou=groups,{self.base_dn}"

    @property
    def participants_dn(self) -> str:
        return f"cn=participants,{self.groups_dn}"

    @property
    def accounts_dn(self) -> str:
        return f"ou=accounts,{self.base_dn}"

    @property
    def publisher_dn(self) -> str:
        return f"cn=publisher,ou=services,{self.base_dn}"

    def state_dn(self, code: str) -> str:
        return f"ou={escape_rdn(code)},{self.states_dn}"

    def authority_dn(self, code: str, authority_id: object) -> str:
        return f"uid={escape_rdn(str(authority_id))},{self.state_dn(code)}"

    def contact_dn(self, code: str, authority_id: object, contact_id: object) -> str:
        return f"uid={escape_rdn(str(contact_id))},{self.authority_dn(code, authority_id)}"

    def account_dn(self, code: str) -> str:
        return f"cn={escape_rdn(code)},{self.accounts_dn}"


def _unescape(value: str) -> str:
    """An RFC 4514 attribute value without its escapes (``\\2C`` and ``\\,`` alike)."""
    out = bytearray()
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            pair = value[i + 1 : i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            out += value[i + 1].encode()
            i += 2
            continue
        out += ch.encode()
        i += 1
    return out.decode("utf-8", errors="replace")


def dn_key(dn: str) -> str:
    """A DN in one canonical form, to tell whether two DNs name the same entry.

    Attribute names and values are compared without case (every naming attribute of the
    tree matches case-insensitively) and without differences of escaping or spacing.
    """
    out: list[str] = []
    for attribute, value, separator in parse_dn(dn, strip=True):
        out.append(f"{attribute.lower()}={escape_rdn(_unescape(value).lower())}")
        out.append("+" if separator == "+" else ",")
    return "".join(out[:-1])


def depth(key: str) -> int:
    return len([c for c in parse_dn(key) if c[2] != "+"])


def is_within(key: str, ancestor_key: str) -> bool:
    return key == ancestor_key or key.endswith("," + ancestor_key)


# --- what the entries say ----------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    dn: str
    attributes: Mapping[str, Values]
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", dn_key(self.dn))


def _attributes(**given: Any) -> dict[str, Values]:
    """Attribute values as tuples of non-empty strings, without repeats; empty ones left out."""
    out: dict[str, Values] = {}
    for name, value in given.items():
        raw = [value] if isinstance(value, str) or value is None else list(value)
        values = tuple(dict.fromkeys(str(v) for v in raw if v is not None and str(v) != ""))
        if values:
            out[name] = values
    return out


def generalized_time(moment: datetime | None) -> str | None:
    """RFC 4517 GeneralizedTime in UTC (a naive datetime is taken to be UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def postal_address(text: str | None) -> str | None:
    """RFC 4517 PostalAddress: one line per line of the text, ``$`` between them."""
    if not text:
        return None
    lines = [line.strip() for line in text.splitlines()]
    escaped = [line.replace("\\", "\\5C").replace("$", "\\24") for line in lines if line]
    return "$".join(escaped) or None


def ldap_mail(address: str | None) -> str | None:
    """The address as ``mail`` (IA5String) can hold it: an internationalised domain in its
    ASCII form; ``None`` if the local part is not ASCII (no LDAP syntax holds that)."""
    if not address:
        return None
    try:
        return validate_email(address, check_deliverability=False).ascii_email
    except EmailNotValidError:
        return None


def states_container(layout: DirectoryLayout) -> Entry:
    return Entry(
        layout.states_dn,
        _attributes(
            objectClass=("organizationalUnit",), ou="states", description=STATES_DESCRIPTION
        ),
    )


def participants_group(layout: DirectoryLayout, codes: Iterable[str]) -> Entry:
    """The group whose members read the tree. A groupOfNames must have a member: with no
    participant at all its only member is itself, which cannot bind."""
    members = [layout.account_dn(code) for code in sorted(set(codes))]
    return Entry(
        layout.participants_dn,
        _attributes(
            objectClass=("groupOfNames",),
            cn="participants",
            description=PARTICIPANTS_DESCRIPTION,
            member=members or [layout.participants_dn],
        ),
    )


def state_entry(layout: DirectoryLayout, state: State) -> Entry:
    return Entry(
        layout.state_dn(state.code),
        _attributes(objectClass=("organizationalUnit",), ou=state.code, description=state.name),
    )


def authority_entry(layout: DirectoryLayout, authority: Authority) -> Entry:
    languages = list(authority.languages or [])
    return Entry(
        layout.authority_dn(authority.state_code, authority.pk),
        _attributes(
            objectClass=("organizationalUnit", "uidObject", "diefAuthority"),
            uid=str(authority.pk),
            ou=authority.name,
            diefAuthorityKind=authority.kind.value,
            mail=ldap_mail(authority.email),
            telephoneNumber=authority.phone,
            postalAddress=postal_address(authority.address),
            preferredLanguage=languages[0] if languages else None,
            diefLanguage=languages,
            diefTimeZone=authority.time_zone,
        ),
    )


def contact_entry(layout: DirectoryLayout, contact: Contact, authority: Authority) -> Entry:
    """A contact as inetOrgPerson. The directory keeps one ``name``, not its parts, so
    ``sn`` (which inetOrgPerson requires) holds the whole name and ``givenName`` is left
    out rather than guessed: which part is the family name differs between cultures."""
    languages = list(contact.languages or [])
    return Entry(
        layout.contact_dn(contact.state_code, contact.authority_id, contact.pk),
        _attributes(
            objectClass=("inetOrgPerson", "diefContact"),
            uid=str(contact.pk),
            cn=contact.name,
            sn=contact.name,
            displayName=contact.name,
            title=contact.title,
            ou=authority.name,
            mail=[ldap_mail(contact.functional_email), ldap_mail(contact.personal_email)],
            telephoneNumber=contact.phone,
            mobile=contact.mobile,
            diefEmergencyPhone=contact.emergency_phone,
            preferredLanguage=languages[0] if languages else None,
            diefLanguage=languages,
            diefTimeZone=contact.time_zone,
            diefPgpFingerprint=contact.pgp_fingerprint,
            diefRole=[role.value for role in contact.roles or []],
            diefAuthorityKind=authority.kind.value,
            diefLastVerified=generalized_time(contact.last_verified_at),
        ),
    )


def desired_tree(
    layout: DirectoryLayout,
    states: Iterable[State],
    authorities: Iterable[Authority],
    contacts: Iterable[Contact],
) -> list[Entry]:
    """What the tree should hold: the participant States among ``states`` (all of them make
    the participants group), their authorities, and their contacts that are not archived."""
    participants = sorted((s for s in states if is_participant(s.status)), key=lambda s: s.code)
    codes = {s.code for s in participants}
    entries = [states_container(layout), participants_group(layout, codes)]
    entries += [state_entry(layout, state) for state in participants]
    published = {a.pk: a for a in authorities if a.state_code in codes}
    entries += [authority_entry(layout, a) for a in published.values()]
    for contact in contacts:
        authority = published.get(contact.authority_id)
        if authority is None or contact.archived_at is not None:
            continue
        if contact.state_code != authority.state_code:
            continue
        entries.append(contact_entry(layout, contact, authority))
    return entries


# --- which part of the tree a reconcile looks at -----------------------------------------


@dataclass(frozen=True)
class Scope:
    """The part of the tree a reconcile owns: whole subtrees, and single entries."""

    subtrees: tuple[str, ...] = ()
    entries: tuple[str, ...] = ()

    @cached_property
    def _subtree_keys(self) -> tuple[str, ...]:
        return tuple(dn_key(dn) for dn in self.subtrees)

    @cached_property
    def _entry_keys(self) -> frozenset[str]:
        return frozenset(dn_key(dn) for dn in self.entries)

    def contains(self, key: str) -> bool:
        return key in self._entry_keys or any(is_within(key, r) for r in self._subtree_keys)


def full_scope(layout: DirectoryLayout) -> Scope:
    return Scope(subtrees=(layout.states_dn,), entries=(layout.participants_dn,))


def state_scope(layout: DirectoryLayout, code: str) -> Scope:
    """One State's subtree, with what it hangs from (ou=states) and the participants group."""
    return Scope(
        subtrees=(layout.state_dn(code),),
        entries=(layout.states_dn, layout.participants_dn),
    )


TREE_EVENTS = frozenset({CONTACT_CHANGED.type, AUTHORITY_CHANGED.type, STATE_STATUS_CHANGED.type})


def affected_state(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The State whose part of the tree an event may have changed, or None."""
    if event_type not in TREE_EVENTS:
        return None
    code = data.get("stateCode")
    return code if isinstance(code, str) and STATE_CODE.fullmatch(code) else None


# --- what to change ----------------------------------------------------------------------


@dataclass(frozen=True)
class Add:
    dn: str
    attributes: Mapping[str, Values]


@dataclass(frozen=True)
class Modify:
    """Replace each named attribute's values; no values removes the attribute."""

    dn: str
    changes: Mapping[str, Values]


@dataclass(frozen=True)
class Delete:
    dn: str


Operation = Add | Modify | Delete


def _object_classes(entry: Entry) -> frozenset[str]:
    values = next((v for k, v in entry.attributes.items() if k.lower() == "objectclass"), ())
    return frozenset(v.lower() for v in values) - {"top"}


def attribute_changes(desired: Entry, actual: Entry) -> dict[str, Values]:
    """Every user attribute whose values differ (objectClass apart), by its desired name."""
    names = {k.lower(): k for k in actual.attributes} | {k.lower(): k for k in desired.attributes}
    want = {k.lower(): v for k, v in desired.attributes.items()}
    have = {k.lower(): v for k, v in actual.attributes.items()}
    changes: dict[str, Values] = {}
    for lowered in sorted(names.keys() - {"objectclass"}):
        wanted = want.get(lowered, ())
        if set(wanted) != set(have.get(lowered, ())):
            changes[names[lowered]] = tuple(wanted)
    return changes


def plan(desired: Iterable[Entry], actual: Iterable[Entry], scope: Scope) -> list[Operation]:
    """The operations that turn ``actual`` into ``desired`` within ``scope``.

    Deletions come first, deepest entries first; then modifications; then additions,
    parents before children. An entry whose object classes differ is deleted and added
    again with everything under it (a structural class cannot be modified in place).
    Nothing outside ``scope`` is ever touched.
    """
    want = {e.key: e for e in desired if scope.contains(e.key)}
    have = {e.key: e for e in actual if scope.contains(e.key)}
    rebuilt = [
        key
        for key in want.keys() & have.keys()
        if _object_classes(want[key]) != _object_classes(have[key])
    ]

    def rebuilding(key: str) -> bool:
        return any(is_within(key, root) for root in rebuilt)

    def by_depth(key: str) -> tuple[int, str]:
        return depth(key), key

    deletes = [k for k in have if k not in want or rebuilding(k)]
    adds = [k for k in want if k not in have or rebuilding(k)]
    modifies = []
    for key in sorted(want.keys() & have.keys(), key=by_depth):
        if rebuilding(key):
            continue
        changes = attribute_changes(want[key], have[key])
        if changes:
            modifies.append(Modify(have[key].dn, changes))
    return [
        *(Delete(have[k].dn) for k in sorted(deletes, key=by_depth, reverse=True)),
        *modifies,
        *(Add(want[k].dn, want[k].attributes) for k in sorted(adds, key=by_depth)),
    ]
