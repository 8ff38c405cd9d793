"""Idempotent mutations: a retry with the same ``Idempotency-Key`` returns the first answer.

A client that was told a change failed (a timeout, ``UNAVAILABLE``) cannot know whether it
committed. It sends the change again with the same ``Idempotency-Key`` header (the gateway
passes it on): if the first one committed, the first answer comes back and nothing is done
twice; if it did not, the change is made now.

How: while such a mutation runs, every unit of work's writes are held (``Held``) instead of
committed; once the answer is built, the writes, their outbox entries and a record of the
key with that answer are committed in ONE transaction (``commit``). So the answer is
stored exactly when the change is: a retry finds it (``replay``), or finds nothing because
nothing was written. Records are per service and per caller (the principal's subject), and
the same key sent with a different request is a ``CONFLICT``. Two identical requests racing:
one commits, the other's record insert fails and it answers with the first's answer.

One consequence: fields of a held mutation's answer that read the database (not the
changed document itself) see it as it was before the change.
"""

from __future__ import annotations

import hashlib
import json
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo.client_session import ClientSession
from pymongo.errors import DuplicateKeyError

from services.common import mongo

COLLECTION = "idempotency"
MAX_KEY_LENGTH = 200


@dataclass
class Held:
    """The writes of the running mutation, committed with its answer."""

    writes: list[Any] = field(default_factory=list)


held: ContextVar[Held | None] = ContextVar("dief_held_writes", default=None)


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()


def record_id(service: str, subject: str | None, key: str) -> str:
    return hashlib.sha256(f"{service}\0{subject or ''}\0{key}".encode()).hexdigest()


def request_hash(query: str, variables: Any, operation_name: str | None) -> str:
    text = json.dumps([query, variables, operation_name], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def replay(alias: str, rid: str, request: str) -> dict[str, Any] | None:
    """The stored answer of this key, if its change committed; a CONFLICT answer if the key
    was used for another request."""
    found = mongo.database(alias)[COLLECTION].find_one({"_id": rid})
    if found is None:
        return None
    if found["request"] != request:
        return {
            "data": None,
            "errors": [
                {
                    "message": "This Idempotency-Key was used for another request.",
                    "extensions": {"code": "CONFLICT", "field": "Idempotency-Key"},
                }
            ],
        }
    return json.loads(found["response"])


def commit(alias: str, writes: list[Any], rid: str, request: str, response: dict) -> dict:
    """Commit the held writes and the key's record together; the answer to give."""
    record = {
        "_id": rid,
        "request": request,
        "response": json.dumps(response, default=str),
        "at": datetime.now(UTC),
    }
    collection = mongo.database(alias)[COLLECTION]

    def apply(session: ClientSession) -> None:
        collection.insert_one(record, session=session)
        for write in writes:
            write(session)

    try:
        mongo.transaction(alias, apply)
    except DuplicateKeyError:
        first = replay(alias, rid, request)  # the same request committed meanwhile
        if first is not None:
            return first
        raise
    return response


def ensure_indexes(alias: str, keep_days: int = 7) -> None:
    """Records are kept ``keep_days`` (a client retries within minutes, not weeks)."""
    mongo.database(alias)[COLLECTION].create_index("at", expireAfterSeconds=keep_days * 86400)
