"""The CloudEvents 1.0 envelope (JSON) every service publishes.

Subjects are ``dief.<service>.<entity>.<event>``; the CloudEvents ``type`` is the same
string. Events are thin: ids, kinds and dates, never confidential content.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SUBJECT_PATTERN = re.compile(r"^dief\.[a-z]+\.[a-z_]+\.[a-z_]+$")
SPEC_VERSION = "1.0"


@dataclass(frozen=True)
class CloudEvent:
    type: str
    source: str
    subject: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if not SUBJECT_PATTERN.match(self.type):
            raise ValueError(f"event type {self.type!r} is not dief.<service>.<entity>.<event>")

    @property
    def nats_subject(self) -> str:
        return self.type

    def to_dict(self) -> dict[str, Any]:
        return {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": self.data,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        doc = json.loads(raw)
        if doc.get("specversion") != SPEC_VERSION:
            raise ValueError("not a CloudEvents 1.0 envelope")
        return cls(
            type=doc["type"],
            source=doc["source"],
            subject=doc.get("subject", ""),
            data=doc.get("data") or {},
            id=doc["id"],
            time=datetime.fromisoformat(doc["time"].replace("Z", "+00:00")),
        )


def event(service: str, entity: str, name: str, subject: str, **data: Any) -> CloudEvent:
    """A new event of ``dief.<service>.<entity>.<name>`` about ``subject``."""
    return CloudEvent(
        type=f"dief.{service}.{entity}.{name}",
        source=f"/dief/{service}",
        subject=subject,
        data=data,
    )
