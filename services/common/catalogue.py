"""The catalogue of events: every event type declared once, with the schema of its data.

Services declare their events at import time (``declare``). The unit of work refuses to
record an event that is not declared or whose data does not match its schema, so nothing
undeclared or malformed ever reaches the stream. The AsyncAPI document is generated from
these declarations (``dief events docs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from services.common.events import SUBJECT_PATTERN, CloudEvent


class EventData(BaseModel):
    """Base of every event's ``data``: closed (no extra fields), immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class EventType:
    type: str
    service: str
    summary: str
    why: str
    data: type[EventData]

    @property
    def subject(self) -> str:
        return self.type


class UndeclaredEvent(ValueError):
    pass


class MalformedEvent(ValueError):
    pass


_CATALOGUE: dict[str, EventType] = {}


def declare(
    service: str, entity: str, name: str, *, summary: str, why: str, data: type[EventData]
) -> EventType:
    """Declare ``dief.<service>.<entity>.<name>``; declaring the same type twice is an error
    unless it is the very same declaration (a module imported twice)."""
    event_type = EventType(f"dief.{service}.{entity}.{name}", service, summary, why, data)
    if not SUBJECT_PATTERN.match(event_type.type):
        raise ValueError(f"{event_type.type!r} is not dief.<service>.<entity>.<event>")
    existing = _CATALOGUE.get(event_type.type)
    if existing is not None and existing != event_type:
        raise ValueError(f"{event_type.type} is declared twice")
    _CATALOGUE[event_type.type] = event_type
    return event_type


def event_types() -> list[EventType]:
    return sorted(_CATALOGUE.values(), key=lambda e: e.type)


def lookup(type_name: str) -> EventType:
    try:
        return _CATALOGUE[type_name]
    except KeyError:
        raise UndeclaredEvent(f"{type_name} is not in the event catalogue") from None


def validate(event: CloudEvent) -> None:
    """Raise unless ``event`` is declared and its data matches the declared schema."""
    event_type = lookup(event.type)
    if event.source != f"/dief/{event_type.service}":
        raise MalformedEvent(f"{event.type} must come from /dief/{event_type.service}")
    try:
        event_type.data.model_validate(event.data)
    except ValidationError as exc:
        raise MalformedEvent(f"{event.type}: {exc}") from exc


def data_schema(event_type: EventType) -> dict[str, Any]:
    return event_type.data.model_json_schema()


# Words that name content no event may carry (rules 14 and 15, personal data of contacts).
CONFIDENTIAL_WORDS = (
    "name",
    "email",
    "mail",
    "phone",
    "mobile",
    "title",
    "summary",
    "content",
    "text",
    "note",
    "description",
    "detail",
    "agenda",
    "involved",
    "audience",
    "person",
    "address",
    "comment",
    "reason",
    "justification",
    "condition",
    "actor",
    "document",
    "response",
)
SAFE_FORMATS = {"date", "date-time", "uuid"}


def confidentiality_findings(event_type: EventType) -> list[str]:
    """Fields of an event's data that could carry confidential content.

    A field is safe only if its name names no content and its values are closed: a
    boolean, a number, an enum or constant, a date, or a string held to a pattern.
    """
    schema = event_type.data.model_json_schema()
    definitions = schema.get("$defs", {})
    findings = []
    for field, spec in schema.get("properties", {}).items():
        lowered = field.lower()
        for word in CONFIDENTIAL_WORDS:
            if word in lowered:
                findings.append(f"{event_type.type}: field {field!r} names {word!r}")
        if not _closed(spec, definitions):
            findings.append(f"{event_type.type}: field {field!r} is free-form")
    if schema.get("additionalProperties", True) is not False:
        findings.append(f"{event_type.type}: data accepts fields that are not declared")
    return findings


def _closed(spec: dict[str, Any], definitions: dict[str, Any]) -> bool:
    if "$ref" in spec:
        return _closed(definitions[spec["$ref"].rsplit("/", 1)[-1]], definitions)
    if "enum" in spec or "const" in spec:
        return True
    if "anyOf" in spec:
        return all(_closed(option, definitions) for option in spec["anyOf"])
    kind = spec.get("type")
    if kind in ("boolean", "integer", "number", "null"):
        return True
    if kind == "string":
        return "pattern" in spec or spec.get("format") in SAFE_FORMATS
    return False
