"""Interface text in the Forum's working languages (English, French, Spanish) through
gettext catalogues kept as ``translations/<locale>/LC_MESSAGES/messages.po``; dates and
times in the user's language and time zone (Babel).

The catalogues are compiled in memory when the console starts (Babel's ``write_mo``), so
no compiled file is committed and no build step is needed.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import gettext as gettext_module
import io
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("en", "fr", "es")
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español"}
TRANSLATIONS = Path(__file__).parent / "translations"

locale_var: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default="en")
zone_var: contextvars.ContextVar[str] = contextvars.ContextVar("zone", default="UTC")


@cache
def catalogue(locale: str) -> gettext_module.NullTranslations:
    po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    if locale == "en" or not po.exists():
        return gettext_module.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(message: str) -> str:
    return catalogue(locale_var.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return catalogue(locale_var.get()).ngettext(singular, plural, n)


def negotiate(accept_language: str | None, default: str = "en") -> str:
    """The first working language the browser asks for."""
    if not accept_language:
        return default
    wanted = []
    for part in accept_language.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        wanted.append((weight, tag.strip().lower()[:2]))
    for _, tag in sorted(wanted, key=lambda w: -w[0]):
        if tag in LOCALES:
            return tag
    return default


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def valid_time_zone(name: object) -> bool:
    return isinstance(name, str) and len(name) <= 64 and name in time_zones()


BROWSER_ZONE_COOKIE = "dief_tz"  # set by console.js from Intl.DateTimeFormat


def choose_zone(chosen: str | None, browser: str | None, default: str) -> str:
    """The zone dates are shown in: the user's own choice, else the browser's (a cookie
    the page's script sets, so anything at all: only a known zone name counts), else the
    console's default."""
    if chosen and valid_time_zone(chosen):
        return chosen
    if browser and valid_time_zone(browser):
        return browser
    return default


def _parse(value: object) -> dt.datetime | dt.date | None:
    if isinstance(value, dt.datetime | dt.date):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        if "T" in value:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def format_when(value: object, fmt: str = "medium") -> str:
    """A DateTime in the user's zone and language; a Date as a date."""
    parsed = _parse(value)
    if parsed is None:
        return "" if value is None else str(value)
    locale = Locale.parse(locale_var.get())
    if isinstance(parsed, dt.datetime):
        return format_datetime(parsed, fmt, tzinfo=ZoneInfo(zone_var.get()), locale=locale)
    return format_date(parsed, fmt, locale=locale)


def format_day(value: object) -> str:
    parsed = _parse(value)
    if parsed is None:
        return "" if value is None else str(value)
    if isinstance(parsed, dt.datetime):
        parsed = parsed.astimezone(ZoneInfo(zone_var.get())).date()
    return format_date(parsed, "medium", locale=Locale.parse(locale_var.get()))
