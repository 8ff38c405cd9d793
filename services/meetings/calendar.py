"""iCalendar (RFC 5545): the invitation's attachment and a participant's feed.

Whole-day events in UTC days, as the Terms of Reference count them. Summaries are
generic: an invitation names the date and venue, never agenda content.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event

PRODID = "-//DIEF Exchange//Meetings//EN"


@dataclass(frozen=True)
class CalendarEntry:
    uid: str
    summary: str
    first_day: date
    last_day: date
    location: str | None = None
    description: str | None = None


def calendar(entries: Iterable[CalendarEntry], stamp: datetime, method: str | None = None) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    for entry in entries:
        ev = Event()
        ev.add("uid", entry.uid)
        ev.add("dtstamp", stamp)
        ev.add("summary", entry.summary)
        ev.add("dtstart", entry.first_day)
        ev.add("dtend", entry.last_day + timedelta(days=1))  # DTEND of a date is exclusive
        ev.add("transp", "TRANSPARENT")
        if entry.location:
            ev.add("location", entry.location)
        if entry.description:
            ev.add("description", entry.description)
        cal.add_component(ev)
    return cal.to_ical()


def invitation_entry(meeting_id: str, first_day: date, last_day: date, venue: str) -> CalendarEntry:
    """Rule 9: the invitation names date and venue; nothing of the agenda."""
    return CalendarEntry(
        uid=f"meeting-{meeting_id}@dief",
        summary="Diversion Information Exchange Forum meeting",
        first_day=first_day,
        last_day=last_day,
        location=venue,
    )
