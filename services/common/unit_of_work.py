"""Save a change and the events it causes in one MongoDB transaction.

This is the write side of the transactional outbox: a handler loads documents with
mongoengine, decides with the domain, then saves documents and records events through a
``UnitOfWork``. Nothing is written until the block ends without an exception; then every
document write and every outbox entry is committed together, or none is. During a mutation
sent with an ``Idempotency-Key`` the writes are held and committed with its answer
(``services.common.idempotency``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from mongoengine import Document
from pymongo.client_session import ClientSession
from pymongo.collection import Collection

from services.common import catalogue, idempotency, mongo, tracing
from services.common.errors import Conflict
from services.common.events import CloudEvent
from services.common.hot_data import HotData, bump_version

OUTBOX = "outbox"


class UnitOfWork:
    def __init__(self, alias: str) -> None:
        self.alias = alias
        self._writes: list[Callable[[ClientSession], None]] = []
        self._touched: list[HotData[Any]] = []
        self._inserts: dict[str, list[dict[str, Any]]] = {}
        self.events: list[CloudEvent] = []

    def _collection_of(self, doc: Document) -> Collection:
        # From the alias's current database, not mongoengine's per-class cache: the session
        # must come from the same client as every collection written in it.
        return mongo.database(self.alias)[type(doc)._get_collection_name()]

    def save(self, doc: Document) -> Document:
        """Validate now; write at commit.

        A document with a ``version`` field is saved only if nobody changed it since it
        was loaded (optimistic concurrency); otherwise the whole unit is a ``CONFLICT``.
        """
        doc.validate()
        if doc.pk is None:
            doc.pk = ObjectId()
        collection = self._collection_of(doc)
        if "version" not in doc._fields:
            son = doc.to_mongo()
            self._writes.append(
                lambda s: collection.replace_one({"_id": son["_id"]}, son, upsert=True, session=s)
            )
            return doc
        expected = doc.version or 0
        doc.version = expected + 1
        son = doc.to_mongo()
        guard = {
            "_id": son["_id"],
            "version": {"$in": [expected, None]} if expected == 0 else expected,
        }

        def write(session: ClientSession) -> None:
            result = collection.replace_one(guard, son, session=session)
            if result.matched_count == 0:
                raise Conflict(
                    f"This {type(doc).__name__.lower()} was changed by someone else in the "
                    "meantime; reload it and try again."
                )

        self._writes.append(write)
        return doc

    def insert(self, doc: Document) -> Document:
        """Like ``save``, but the document must be new (a duplicate id is a conflict)."""
        doc.validate()
        if doc.pk is None:
            doc.pk = ObjectId()
        son = doc.to_mongo()
        collection = self._collection_of(doc)
        self._writes.append(lambda s: collection.insert_one(son, session=s))
        return doc

    def insert_later(self, doc: Document) -> Document:
        """Like ``insert``, but every document so added to one collection (an audit trail,
        history entries) goes in one ``insert_many`` at commit, in the place of the first."""
        doc.validate()
        if doc.pk is None:
            doc.pk = ObjectId()
        name = type(doc)._get_collection_name()
        if name not in self._inserts:
            self._inserts[name] = []
            collection = self._collection_of(doc)
            batch = self._inserts[name]
            self._writes.append(lambda s: collection.insert_many(batch, ordered=True, session=s))
        self._inserts[name].append(doc.to_mongo())
        return doc

    def touch(self, cache: HotData[Any]) -> None:
        """This unit changes what ``cache`` holds: its version is incremented in the same
        transaction, and this process's copy is dropped once the unit is committed."""
        if cache not in self._touched:
            self._touched.append(cache)
            self._writes.append(lambda s: bump_version(self.alias, cache.name, session=s))

    def record(self, event: CloudEvent) -> None:
        """Add ``event`` to the outbox; it must be declared in the catalogue and match."""
        catalogue.validate(event)
        self.events.append(event)
        entry = outbox_entry(event)
        outbox = mongo.database(self.alias)[OUTBOX]
        self._writes.append(lambda s: outbox.insert_one(entry, session=s))

    def commit(self) -> None:
        if not self._writes:
            return
        writes = list(self._writes)
        holding = idempotency.held.get()
        if holding is not None:  # an idempotent mutation: committed with its answer
            holding.writes.extend(writes)
            self._writes.clear()
            return

        def apply(session: ClientSession) -> None:
            for write in writes:
                write(session)

        try:
            mongo.transaction(self.alias, apply)
        finally:
            # Dropped even if the commit's outcome is unknown: the next read loads again.
            for cache in self._touched:
                cache.invalidate()
        self._writes.clear()


def outbox_entry(event: CloudEvent) -> dict[str, Any]:
    entry = {
        "_id": event.id,
        "subject": event.nats_subject,
        "payload": event.to_json(),
        "created_at": datetime.now(UTC),
        "sent_at": None,
        "attempts": 0,
    }
    traceparent = tracing.current_traceparent()
    if traceparent:  # the relay publishes the event in the trace of the work that made it
        entry["traceparent"] = traceparent
    return entry


@contextmanager
def unit_of_work(alias: str) -> Iterator[UnitOfWork]:
    uow = UnitOfWork(alias)
    yield uow
    uow.commit()
