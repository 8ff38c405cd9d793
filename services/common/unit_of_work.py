"""Save a change and the events it causes in one MongoDB transaction.

This is the write side of the transactional outbox: a handler loads documents with
mongoengine, decides with the domain, then saves documents and records events through a
``UnitOfWork``. Nothing is written until the block ends without an exception; then every
document write and every outbox entry is committed together, or none is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from mongoengine import Document
from pymongo.client_session import ClientSession

from services.common import mongo
from services.common.events import CloudEvent

OUTBOX = "outbox"


class UnitOfWork:
    def __init__(self, alias: str) -> None:
        self.alias = alias
        self._writes: list[Callable[[ClientSession], None]] = []
        self.events: list[CloudEvent] = []

    def save(self, doc: Document) -> Document:
        """Validate now; write at commit. New documents get their id at once."""
        doc.validate()
        if doc.pk is None:
            doc.pk = ObjectId()
        son = doc.to_mongo()
        collection = type(doc)._get_collection()
        self._writes.append(
            lambda s: collection.replace_one({"_id": son["_id"]}, son, upsert=True, session=s)
        )
        return doc

    def insert(self, doc: Document) -> Document:
        """Like ``save``, but the document must be new (a duplicate id is a conflict)."""
        doc.validate()
        if doc.pk is None:
            doc.pk = ObjectId()
        son = doc.to_mongo()
        collection = type(doc)._get_collection()
        self._writes.append(lambda s: collection.insert_one(son, session=s))
        return doc

    def record(self, event: CloudEvent) -> None:
        self.events.append(event)
        entry = outbox_entry(event)
        outbox = mongo.database(self.alias)[OUTBOX]
        self._writes.append(lambda s: outbox.insert_one(entry, session=s))

    def commit(self) -> None:
        if not self._writes:
            return
        writes = list(self._writes)

        def apply(session: ClientSession) -> None:
            for write in writes:
                write(session)

        with mongo.client(self.alias).start_session() as session:
            session.with_transaction(apply)
        self._writes.clear()


def outbox_entry(event: CloudEvent) -> dict[str, Any]:
    return {
        "_id": event.id,
        "subject": event.nats_subject,
        "payload": event.to_json(),
        "created_at": datetime.now(UTC),
        "sent_at": None,
        "attempts": 0,
    }


@contextmanager
def unit_of_work(alias: str) -> Iterator[UnitOfWork]:
    uow = UnitOfWork(alias)
    yield uow
    uow.commit()
