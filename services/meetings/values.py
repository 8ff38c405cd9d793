"""Checks on plain input values shared by the meetings modules."""

from __future__ import annotations

import re

import pycountry

from services.common.errors import ValidationFailed

MAX_TITLE = 300
MAX_TEXT = 4000


def text(
    value: str | None,
    field: str,
    *,
    max_length: int = MAX_TITLE,
    rule: int | None = None,
) -> str:
    """A required, printable text, trimmed."""
    cleaned = (value or "").strip()
    if not cleaned:
        raise ValidationFailed(f"{field} must not be empty.", field=field, rule=rule)
    if len(cleaned) > max_length:
        raise ValidationFailed(
            f"{field} is longer than {max_length} characters.", field=field, rule=rule
        )
    if "\x00" in cleaned or not cleaned.replace("\n", " ").replace("\r", " ").isprintable():
        raise ValidationFailed(f"{field} contains control characters.", field=field, rule=rule)
    return cleaned


def state_code(value: str, field: str = "state") -> str:
    """An ISO 3166-1 alpha-3 code, upper case."""
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code) or pycountry.countries.get(alpha_3=code) is None:
        raise ValidationFailed(f"{value!r} is not an ISO 3166-1 alpha-3 country code.", field=field)
    return code
