"""Checks on the values a provider enters for a case, before anything is written."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import pycountry

from services.cases.domain import Audience, AudienceKind, Section, check_audience
from services.common.errors import ValidationFailed
from services.common.languages import UN_LANGUAGES

MAX_TITLE = 300
MAX_TEXT = 50_000
MAX_NOTE = 10_000
MAX_LIST = 200
LANGUAGES = UN_LANGUAGES  # rule 23


class ActorRole(StrEnum):
    BROKER = "BROKER"
    CARRIER = "CARRIER"
    END_USER = "END_USER"
    MANUFACTURER = "MANUFACTURER"
    INTERMEDIARY = "INTERMEDIARY"
    OFFICIAL = "OFFICIAL"


class ActorKind(StrEnum):
    PERSON = "PERSON"
    COMPANY = "COMPANY"


class RouteRole(StrEnum):
    ORIGIN = "ORIGIN"
    TRANSIT = "TRANSIT"
    DESTINATION = "DESTINATION"
    POINT_OF_DISPATCH = "POINT_OF_DISPATCH"


class ArrangementStatus(StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


def text(value: str | None, field: str, *, max_length: int = MAX_TEXT) -> str:
    """A required, printable text, trimmed."""
    cleaned = optional_text(value, field, max_length=max_length)
    if not cleaned:
        raise ValidationFailed(f"{field} must not be empty.", field=field)
    return cleaned


def optional_text(value: str | None, field: str, *, max_length: int = MAX_TEXT) -> str | None:
    cleaned = (value or "").strip()
    if len(cleaned) > max_length:
        raise ValidationFailed(f"{field} is longer than {max_length} characters.", field=field)
    if "\x00" in cleaned or not re.sub(r"[\n\r\t]", " ", cleaned).isprintable():
        raise ValidationFailed(f"{field} contains control characters.", field=field)
    return cleaned or None


def state_code(value: str, field: str) -> str:
    """An ISO 3166-1 alpha-3 code of a country that exists."""
    code = (value or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code) or pycountry.countries.get(alpha_3=code) is None:
        raise ValidationFailed(f"{value!r} is not a known State (ISO 3166-1 alpha-3).", field=field)
    return code


def state_codes(values: Iterable[str], field: str) -> list[str]:
    codes = [state_code(v, field) for v in values]
    if len(codes) > MAX_LIST:
        raise ValidationFailed(f"{field} names too many States.", field=field)
    return sorted(set(codes))


def language(value: str, field: str = "language") -> str:
    code = (value or "").strip().lower()
    if code not in LANGUAGES:
        raise ValidationFailed(
            f"{field} must be one of the UN languages: {', '.join(LANGUAGES)}.", field=field
        )
    return code


def bounded_list(values: list[object] | None, field: str) -> list[object]:
    values = list(values or [])
    if len(values) > MAX_LIST:
        raise ValidationFailed(f"{field} has more than {MAX_LIST} entries.", field=field)
    return values


@dataclass(frozen=True)
class AudienceValue:
    kind: AudienceKind
    states: tuple[str, ...] = ()
    include_secretariat: bool = False


def audience(value: AudienceValue, provider: str, field: str) -> Audience:
    """Rule 15: a checked audience; the provider need not name itself."""
    states = frozenset(state_codes(value.states, f"{field}.states")) - {provider}
    named = Audience(AudienceKind(value.kind), states, value.include_secretariat)
    if value.kind is AudienceKind.NAMED_STATES and not states:
        raise ValidationFailed(
            "A NAMED_STATES audience names at least one other State.",
            field=f"{field}.states",
            rule=15,
        )
    try:
        return check_audience(named, provider)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field=f"{field}.states", rule=15) from exc


def section_audiences(
    values: list[tuple[Section, AudienceValue]], provider: str
) -> dict[Section, Audience]:
    result: dict[Section, Audience] = {}
    for section, value in values:
        if section in result:
            raise ValidationFailed(
                f"The audience of {section.value} is given twice.", field="sectionAudiences"
            )
        result[section] = audience(value, provider, f"sectionAudiences.{section.value}")
    return result


def date_range(after: date | None, before: date | None, field: str) -> None:
    if after is not None and before is not None and after > before:
        raise ValidationFailed(f"{field}: the start of the range is after its end.", field=field)
