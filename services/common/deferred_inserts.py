"""Inserts gathered over one request and written together when its answer is made: the
audit entries of every read of a request in one ``insert_many`` per collection, however
many resolvers read.

    with-in a request:   insert_later(ALIAS, AuditEntry, [entry.to_mongo(), ...])
    the GraphQL view:    collect() before executing, flush() where the answer is made

Outside a collecting request (a REST download, a handler called directly) the documents
are inserted at once. The view flushes before the answer leaves the service: if the
write fails, the caller gets the failure instead of the content (nothing read goes out
unrecorded); content that was never returned may still have been recorded, never the
reverse.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import mongoengine

from services.common import mongo


@dataclass
class Collector:
    """What one request will insert, by (alias, document class), in the order added."""

    pending: dict[tuple[str, type[mongoengine.Document]], list[Mapping[str, Any]]] = field(
        default_factory=dict
    )
    written: bool = False

    def add(
        self, alias: str, document: type[mongoengine.Document], docs: list[Mapping[str, Any]]
    ) -> None:
        if self.written:  # work still running after the answer: recorded at once
            mongo.collection(alias, document).insert_many(docs)
            return
        # setdefault and extend are atomic: resolvers in several threads may add at once
        self.pending.setdefault((alias, document), []).extend(docs)

    def write(self) -> None:
        """One ``insert_many`` per collection; what is added later is inserted at once."""
        self.written = True
        pending, self.pending = self.pending, {}
        for (alias, document), docs in pending.items():
            if docs:
                mongo.collection(alias, document).insert_many(list(docs))


_current: ContextVar[Collector | None] = ContextVar("dief_deferred_inserts", default=None)


def insert_later(
    alias: str, document: type[mongoengine.Document], docs: list[Mapping[str, Any]]
) -> None:
    """Insert ``docs`` with the request's answer, or now outside a collecting request."""
    if not docs:
        return
    collector = _current.get()
    if collector is None:
        mongo.collection(alias, document).insert_many(docs)
    else:
        collector.add(alias, document, docs)


def collect() -> Collector:
    """Start gathering this request's inserts (the view calls it before executing)."""
    collector = Collector()
    _current.set(collector)
    return collector


def taken() -> Collector | None:
    """This request's collector, which stops gathering (the view calls it once the result
    is there, then writes what it holds before answering)."""
    collector = _current.get()
    _current.set(None)
    return collector
