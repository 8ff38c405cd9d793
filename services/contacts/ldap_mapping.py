"""A national LDAP directory as DIEF contacts, and what a sync would change. Pure: no LDAP,
no database.

An entry of the source becomes a contact's fields through the source's attribute mapping
(inetOrgPerson by default). The plan compares what the source says with the contacts an
earlier sync made from it, matched by the entry's ``entryUUID``; contacts made by hand are
never part of the comparison, so a sync never touches them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any

from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from services.common.errors import DiefError, ValidationFailed
from services.contacts import domain

# DIEF field -> LDAP attribute. ``name`` falls back to givenName + sn when cn is absent.
DEFAULT_MAPPING: dict[str, str | None] = {
    "name": "cn",
    "given_name": "givenName",
    "surname": "sn",
    "functional_email": "mail",
    "personal_email": None,
    "phone": "telephoneNumber",
    "mobile": "mobile",
    "title": "title",
    "department": "ou",
    "languages": "preferredLanguage",
}
MAPPED_FIELDS = frozenset(DEFAULT_MAPPING)
# Fields a sync owns on a contact it made; everything else (roles, verification...) stays.
SYNCED_FIELDS = (
    "name",
    "functional_email",
    "personal_email",
    "phone",
    "mobile",
    "title",
    "department",
    "languages",
)
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}$")
KEY_ATTRIBUTE = "entryUUID"
# What tells when an entry last changed: OpenLDAP's entryCSN (microseconds, one value per
# change) where the server has it, else modifyTimestamp (seconds).
CSN_ATTRIBUTE = "entryCSN"
CHANGED_ATTRIBUTE = "modifyTimestamp"
MAX_DETAILS = 1000

Attributes = Mapping[str, list[str]]


def mapping_with_overrides(overrides: Mapping[str, str | None] | None) -> dict[str, str | None]:
    """The default mapping with ``overrides`` applied (None or "" switches a field off)."""
    mapping = dict(DEFAULT_MAPPING)
    for name, attribute in (overrides or {}).items():
        if name not in MAPPED_FIELDS:
            raise ValidationFailed(
                f"mapping: {name!r} is not a mapped field ({', '.join(sorted(MAPPED_FIELDS))}).",
                field="mapping",
            )
        if attribute and not ATTRIBUTE_NAME.fullmatch(attribute):
            raise ValidationFailed(
                f"mapping: {attribute!r} is not an LDAP attribute name.", field="mapping"
            )
        mapping[name] = attribute or None
    if not mapping["functional_email"]:
        raise ValidationFailed("mapping: functional_email must be mapped.", field="mapping")
    if not (mapping["name"] or mapping["surname"]):
        raise ValidationFailed("mapping: name or surname must be mapped.", field="mapping")
    return mapping


def requested_attributes(mapping: Mapping[str, str | None]) -> list[str]:
    wanted = [a for a in mapping.values() if a]
    return list(dict.fromkeys([*wanted, KEY_ATTRIBUTE, CSN_ATTRIBUTE, CHANGED_ATTRIBUTE]))


# --- filters -----------------------------------------------------------------------------


def check_filter(text: str) -> str:
    """A filter the source's keeper typed: syntactically valid, in parentheses."""
    from ldap3.operation.search import parse_filter

    cleaned = text.strip()
    if not (cleaned.startswith("(") and cleaned.endswith(")")):
        raise ValidationFailed("filter must be an LDAP filter in parentheses.", field="filter")
    try:
        parse_filter(cleaned, None, False, True, None, False)
    except (LDAPException, IndexError, ValueError) as exc:
        raise ValidationFailed(f"filter: {exc}", field="filter") from None
    return cleaned


def changed_since_filter(base_filter: str, attribute: str | None, since: str | None) -> str:
    """``base_filter``, narrowed to entries changed since ``since``: after that entryCSN, or
    at or after that modifyTimestamp (whose seconds may hold changes not yet read). The
    value is escaped: nothing taken from a server or a user can change the filter."""
    if since is None or attribute is None:
        return base_filter
    value = escape_filter_chars(since)
    if attribute == CSN_ATTRIBUTE:
        return f"(&{base_filter}({CSN_ATTRIBUTE}>={value})(!({CSN_ATTRIBUTE}={value})))"
    return f"(&{base_filter}({CHANGED_ATTRIBUTE}>={value}))"


def watermark(
    entries: Iterable[SourceEntry], attribute: str | None, since: str | None
) -> tuple[str | None, str | None]:
    """(attribute, value) an incremental run will start from next: the newest change read,
    by entryCSN if every entry read has one, else by modifyTimestamp."""
    found = list(entries)
    if not found:
        return attribute, since
    if all(e.first(CSN_ATTRIBUTE) for e in found) and attribute in (None, CSN_ATTRIBUTE):
        return CSN_ATTRIBUTE, max([str(e.first(CSN_ATTRIBUTE)) for e in found] + [since or ""])
    stamps = [str(e.first(CHANGED_ATTRIBUTE)) for e in found if e.first(CHANGED_ATTRIBUTE)]
    if not stamps:
        return None, None
    if attribute == CSN_ATTRIBUTE:  # the server stopped giving CSNs: start again by time
        since = None
    return CHANGED_ATTRIBUTE, max([*stamps, since or ""])


def generalized_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


# --- one entry as a contact --------------------------------------------------------------


@dataclass(frozen=True)
class SourceEntry:
    """One entry as read from the source: its DN and attributes (names as the server
    spelled them, values as text)."""

    dn: str
    attributes: Attributes

    @cached_property
    def _by_name(self) -> dict[str, list[str]]:
        return {name.lower(): values for name, values in self.attributes.items()}

    def values(self, attribute: str | None) -> list[str]:
        if not attribute:
            return []
        return [v.strip() for v in self._by_name.get(attribute.lower(), ()) if v and v.strip()]

    def first(self, attribute: str | None) -> str | None:
        found = self.values(attribute)
        return found[0] if found else None

    @property
    def key(self) -> str | None:
        return self.first(KEY_ATTRIBUTE)


class Rejected(ValueError):
    """An entry the DIEF directory cannot take; the message says why."""


# A directory repeats the same values thousands of times (a switchboard number, "fr"): each
# distinct value is checked once per process. The checks are pure, and a value that fails
# is never kept, so it fails again with the same reason.
@lru_cache(maxsize=4096)
def _languages(values: tuple[str, ...]) -> tuple[str, ...]:
    """RFC 2798 preferredLanguage ("fr-FR, en;q=0.8") as ISO 639-1 codes."""
    codes = []
    for value in values:
        for part in value.split(","):
            tag = part.split(";")[0].strip()
            if tag:
                codes.append(tag.split("-")[0].split("_")[0])
    return tuple(domain.languages(codes))


@lru_cache(maxsize=16384)
def _checked_phone(value: str, field: str) -> str:
    return domain.phone(value, field)


@lru_cache(maxsize=16384)
def _checked_email(value: str, field: str) -> str:
    return domain.email(value, field)


def forget_checked_values() -> None:
    """Check every value afresh from now on (as a new process would)."""
    for checked in (_languages, _checked_phone, _checked_email):
        checked.cache_clear()


def contact_fields(entry: SourceEntry, mapping: Mapping[str, str | None]) -> dict[str, Any]:
    """The contact fields ``entry`` says, validated as the API validates them."""
    if not entry.key:
        raise Rejected(f"no {KEY_ATTRIBUTE}: the entry cannot be followed from one run to the next")
    name = entry.first(mapping["name"])
    if not name:
        parts = [entry.first(mapping["given_name"]), entry.first(mapping["surname"])]
        name = " ".join(p for p in parts if p)
    mails = entry.values(mapping["functional_email"])
    if not mails:
        raise Rejected(f"no {mapping['functional_email']}: a contact needs an email address")
    personal = entry.first(mapping["personal_email"]) if mapping["personal_email"] else None
    if personal is None and len(mails) > 1:
        personal = mails[1]
    try:
        fields: dict[str, Any] = {
            "name": domain.text(name or "", "name"),
            "functional_email": _checked_email(mails[0], "mail"),
            "personal_email": _checked_email(personal, "mail") if personal else None,
            "phone": _phone(entry, mapping["phone"]),
            "mobile": _phone(entry, mapping["mobile"]),
            "title": _text(entry, mapping["title"]),
            "department": _text(entry, mapping["department"]),
            "languages": list(_languages(tuple(entry.values(mapping["languages"])))),
        }
    except DiefError as exc:
        raise Rejected(exc.message) from None
    if fields["personal_email"] == fields["functional_email"]:
        fields["personal_email"] = None
    return fields


def _phone(entry: SourceEntry, attribute: str | None) -> str | None:
    value = entry.first(attribute)
    return _checked_phone(value, attribute or "phone") if value else None


def _text(entry: SourceEntry, attribute: str | None) -> str | None:
    value = entry.first(attribute)
    return domain.text(value, attribute or "text", required=False) or None if value else None


# --- the plan of a run -------------------------------------------------------------------


@dataclass(frozen=True)
class Synced:
    """A contact an earlier sync of this source made, as far as the plan needs it."""

    id: Any
    key: str
    fields: Mapping[str, Any]
    archived: bool


@dataclass(frozen=True)
class Detail:
    """One line of a run's diff."""

    action: str  # ADDED, CHANGED, RESTORED, ARCHIVED, REJECTED
    dn: str | None
    key: str | None
    reason: str | None = None
    changed_fields: tuple[str, ...] = ()


@dataclass
class SyncPlan:
    added: list[tuple[SourceEntry, dict[str, Any]]] = field(default_factory=list)
    changed: list[tuple[Synced, SourceEntry, dict[str, Any]]] = field(default_factory=list)
    archived: list[Synced] = field(default_factory=list)
    rejected: list[tuple[SourceEntry, str]] = field(default_factory=list)
    unchanged: int = 0

    @property
    def details(self) -> list[Detail]:
        out = [Detail("REJECTED", e.dn, e.key, reason) for e, reason in self.rejected]
        out += [Detail("ADDED", e.dn, e.key) for e, _ in self.added]
        for synced, entry, fields in self.changed:
            action = "RESTORED" if synced.archived else "CHANGED"
            out.append(Detail(action, entry.dn, entry.key, changed_fields=tuple(sorted(fields))))
        out += [Detail("ARCHIVED", None, s.key) for s in self.archived]
        return out


def _differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    def norm(value: Any) -> Any:
        return list(value) if isinstance(value, list | tuple) else (value or None)

    return {k: after[k] for k in SYNCED_FIELDS if norm(before.get(k)) != norm(after.get(k))}


Checked = tuple[SourceEntry, dict[str, Any] | Rejected]


def checked_entries(
    entries: Iterable[SourceEntry], mapping: Mapping[str, str | None]
) -> list[Checked]:
    """Each entry with its contact fields, or why it cannot be taken. Entry by entry: what
    one entry says does not depend on the others (``plan_sync`` compares them)."""
    out: list[Checked] = []
    for entry in entries:
        try:
            out.append((entry, contact_fields(entry, mapping)))
        except Rejected as exc:
            out.append((entry, exc))
    return out


def plan_sync(
    entries: Iterable[SourceEntry],
    synced: Iterable[Synced],
    mapping: Mapping[str, str | None],
    *,
    full: bool,
    taken_emails: Mapping[str, str] | None = None,
    checked: list[Checked] | None = None,
) -> SyncPlan:
    """What a run would do. ``synced``: every contact made from this source, archived ones
    too (an entry that comes back is restored). ``taken_emails``: email -> key ("" for a
    contact made by hand) of the authority's other contacts, so that two contacts never
    share an address. Only a full run archives (an incremental one sees only changes).
    ``checked``: ``checked_entries(entries, mapping)`` if already made."""
    known = {s.key: s for s in synced}
    taken = dict(taken_emails or {})
    result = SyncPlan()
    seen: set[str] = set()
    for entry, fields in checked if checked is not None else checked_entries(entries, mapping):
        if isinstance(fields, Rejected):
            result.rejected.append((entry, str(fields)))
            if entry.key:
                seen.add(entry.key)  # an unreadable entry is no reason to archive its contact
            continue
        key = entry.key or ""
        if key in seen:
            result.rejected.append((entry, f"{KEY_ATTRIBUTE} {key} was read twice"))
            continue
        seen.add(key)
        clash = _email_clash(fields, key, taken)
        if clash:
            result.rejected.append((entry, clash))
            continue
        for address in (fields["functional_email"], fields["personal_email"]):
            if address:
                taken[address] = key
        existing = known.get(key)
        if existing is None:
            result.added.append((entry, fields))
            continue
        differences = _differences(existing.fields, fields)
        if differences or existing.archived:
            result.changed.append((existing, entry, differences))
        else:
            result.unchanged += 1
    if full:
        result.archived = [s for s in known.values() if s.key not in seen and not s.archived]
    return result


def _email_clash(fields: Mapping[str, Any], key: str, taken: Mapping[str, str]) -> str | None:
    for address in (fields["functional_email"], fields["personal_email"]):
        owner = taken.get(address) if address else None
        if owner is not None and owner != key:
            who = "a contact entered by hand" if owner == "" else "another entry"
            return f"{address} is already used by {who} at this authority"
    return None
