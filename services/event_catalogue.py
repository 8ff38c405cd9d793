"""Every service's event declarations, loaded together (for docs, checks and tools)."""

from __future__ import annotations

import importlib

from services.common.catalogue import EventType, event_types

EVENT_MODULES = {
    "contacts": "services.contacts.events",
    "meetings": "services.meetings.events",
    "cases": "services.cases.events",
}


def load_all() -> list[EventType]:
    """The event types of every service (and nothing declared elsewhere, e.g. by tests)."""
    for module in EVENT_MODULES.values():
        importlib.import_module(module)
    return [e for e in event_types() if e.service in EVENT_MODULES]
