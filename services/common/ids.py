"""Global ids (``base64("Type:local-id")``), opaque to clients, checked on the way in."""

from __future__ import annotations

import base64
import binascii

from bson import ObjectId
from bson.errors import InvalidId

from services.common.errors import ValidationFailed


def to_global_id(type_name: str, local_id: object) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{local_id}".encode()).decode()


def from_global_id(global_id: str, expected_type: str, *, field: str = "id") -> ObjectId:
    """The ObjectId inside a global id of ``expected_type``; anything else is VALIDATION."""
    try:
        decoded = base64.b64decode(global_id.encode(), altchars=b"-_", validate=True).decode()
        type_name, _, local = decoded.partition(":")
        if type_name != expected_type:
            raise ValueError(type_name)
        return ObjectId(local)
    except (ValueError, binascii.Error, UnicodeDecodeError, InvalidId) as exc:
        raise ValidationFailed(f"{field} is not a valid {expected_type} id.", field=field) from exc
