"""Pure rules of the contact directory: no database, no web.

Rule numbers are those of the DIEF Terms of Reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from services.common.errors import Forbidden, ValidationFailed
from services.common.principal import Principal, Role


class AttStatus(StrEnum):
    STATE_PARTY = "STATE_PARTY"
    SIGNATORY = "SIGNATORY"
    NON_PARTY = "NON_PARTY"


class AuthorityKind(StrEnum):
    CUSTOMS = "CUSTOMS"
    POLICE = "POLICE"
    BORDER_GUARD = "BORDER_GUARD"
    LICENSING = "LICENSING"
    PROSECUTION = "PROSECUTION"
    INTELLIGENCE = "INTELLIGENCE"
    OTHER = "OTHER"


class ContactRole(StrEnum):
    NATIONAL_POINT_OF_CONTACT = "NATIONAL_POINT_OF_CONTACT"
    DIEF_ENFORCEMENT_CONTACT = "DIEF_ENFORCEMENT_CONTACT"
    ALTERNATE = "ALTERNATE"


MAX_NAME = 200
MAX_TEXT = 1000
MAX_LANGUAGES = 12


# --- participation (rules 1 and 6) -------------------------------------------------------


def is_participant(status: AttStatus) -> bool:
    """Rules 1 and 6: States Parties and signatory States are the Forum's participants."""
    return status in (AttStatus.STATE_PARTY, AttStatus.SIGNATORY)


@dataclass(frozen=True)
class StatusDates:
    signature: date | None = None
    ratification: date | None = None
    entry_into_force: date | None = None
    withdrawal: date | None = None


def check_status_dates(status: AttStatus, dates: StatusDates) -> None:
    """The dates must tell the same story as the status."""
    if status is AttStatus.STATE_PARTY and dates.ratification is None:
        raise ValidationFailed(
            "A State Party needs its date of ratification, acceptance, approval or accession.",
            field="ratificationDate",
        )
    if status is AttStatus.SIGNATORY and dates.signature is None:
        raise ValidationFailed(
            "A signatory State needs its date of signature.", field="signatureDate"
        )
    if status is not AttStatus.NON_PARTY and dates.withdrawal is not None:
        raise ValidationFailed(
            "A State that withdrew is not a party or a signatory.", field="withdrawalDate"
        )
    if dates.signature and dates.ratification and dates.ratification < dates.signature:
        raise ValidationFailed(
            "Ratification cannot come before signature.", field="ratificationDate"
        )
    if (
        dates.ratification
        and dates.entry_into_force
        and dates.entry_into_force < dates.ratification
    ):
        raise ValidationFailed(
            "Entry into force cannot come before ratification.", field="entryIntoForceDate"
        )


# --- freshness (rule 20) -----------------------------------------------------------------


def is_stale(last_verified_at: datetime | None, now: datetime, stale_after_days: int) -> bool:
    """Rule 20: contact details must be up to date; unverified for too long means stale."""
    if last_verified_at is None:
        return True
    return now - last_verified_at > timedelta(days=stale_after_days)


def stale_before(now: datetime, stale_after_days: int) -> datetime:
    """Contacts last verified before this instant are stale."""
    return now - timedelta(days=stale_after_days)


# --- who may do what (rule 20) -----------------------------------------------------------


def may_read_directory(principal: Principal, participant: bool) -> bool:
    """Rule 20 directory: participants' representatives, the Chair and the Secretariat.

    ``participant`` is the caller's State's status as the registry has it now.
    """
    if principal.is_secretariat or principal.has_role(Role.CHAIR):
        return True
    return principal.represents_state and participant


def may_read_registry(principal: Principal, participant: bool) -> bool:
    """ATT statuses are public: the directory's readers and the system role (the gateway's
    cache of who takes part) may read the State registry."""
    return principal.has_role(Role.SYSTEM) or may_read_directory(principal, participant)


def ensure_may_read_directory(principal: Principal, participant: bool) -> None:
    if not may_read_directory(principal, participant):
        if principal.represents_state:
            raise Forbidden(
                f"{principal.state} is not a participant (State Party or signatory) and may "
                "not read the contact directory."
            )
        raise Forbidden(
            "The contact directory is open to participants' representatives, "
            "the Chair and the Secretariat only."
        )


def ensure_may_manage(principal: Principal, state_code: str, participant: bool) -> None:
    """Rule 20: a State keeps its own contacts; the Secretariat curates them all."""
    if principal.is_secretariat:
        return
    if not principal.represents_state or principal.state != state_code:
        # Said of reads too (a State's sync source and runs): never "may change".
        raise Forbidden(
            f"Only representatives of {state_code} or the Secretariat manage "
            f"{state_code}'s authorities, contacts and directory sync."
        )
    if not participant:
        raise Forbidden(
            f"{state_code} is not a participant (State Party or signatory) and may not keep "
            "contacts here."
        )


def ensure_may_change_status(principal: Principal) -> None:
    if not principal.is_secretariat:
        raise Forbidden("Only the Secretariat records a State's ATT status.")


# --- validation of input -----------------------------------------------------------------


def state_code(value: str, field: str = "stateCode") -> str:
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code) or pycountry.countries.get(alpha_3=code) is None:
        raise ValidationFailed(f"{value!r} is not an ISO 3166-1 alpha-3 country code.", field=field)
    return code


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        raise ValidationFailed(f"{code!r} is not an ISO 3166-1 alpha-3 country code.")
    return getattr(country, "common_name", None) or country.name


def text(value: str, field: str, *, max_length: int = MAX_NAME, required: bool = True) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise ValidationFailed(f"{field} must not be empty.", field=field)
    if len(cleaned) > max_length:
        raise ValidationFailed(f"{field} is longer than {max_length} characters.", field=field)
    if any(ch in cleaned for ch in "\x00\r") or not cleaned.replace("\n", " ").isprintable():
        raise ValidationFailed(f"{field} contains control characters.", field=field)
    return cleaned


def email(value: str, field: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(f"{field}: {exc}", field=field) from exc


def phone(value: str, field: str) -> str:
    """An international number, stored in E.164."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(
            f"{field}: {value!r} is not an international phone number (+<country code>...).",
            field=field,
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(f"{field}: {value!r} is not a valid phone number.", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def language(value: str, field: str = "languages") -> str:
    code = value.strip().lower()
    if not re.fullmatch(r"[a-z]{2}", code) or pycountry.languages.get(alpha_2=code) is None:
        raise ValidationFailed(f"{value!r} is not an ISO 639-1 language code.", field=field)
    return code


def languages(values: list[str], field: str = "languages") -> list[str]:
    """ISO 639-1 codes, without repeats, in the order the State gave them (its order of
    preference: the vCard's LANG;PREF and LDAP's preferredLanguage follow it)."""
    if len(values) > MAX_LANGUAGES:
        raise ValidationFailed(f"{field}: at most {MAX_LANGUAGES} languages.", field=field)
    return list(dict.fromkeys(language(v, field) for v in values))


def time_zone(value: str, field: str = "timeZone") -> str:
    name = value.strip()
    try:
        if name not in _zone_names():
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"{value!r} is not an IANA time zone name.", field=field) from exc
    return name


_ZONES: frozenset[str] | None = None


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        # 'localtime' is the host's /etc/localtime alias, not an IANA zone name.
        _ZONES = frozenset(available_timezones()) - {"localtime", "posixrules"}
    return _ZONES


def pgp_fingerprint(value: str, field: str = "pgpFingerprint") -> str:
    compact = re.sub(r"\s+", "", value).upper()
    if not re.fullmatch(r"[0-9A-F]{40}|[0-9A-F]{64}", compact):
        raise ValidationFailed(
            f"{field} must be 40 (v4) or 64 (v5) hexadecimal digits.", field=field
        )
    return compact


def contact_roles(values: list[ContactRole]) -> list[ContactRole]:
    return sorted(set(values), key=list(ContactRole).index)
