"""The read side of the outbox: a relay that publishes pending events to JetStream.

Each event is published with ``Nats-Msg-Id`` = its id, in order, each waiting for
JetStream's acknowledgement; the events of a batch are then marked sent together, in one
write. If NATS is down the events wait; if the relay dies between publishing and marking,
the next run publishes again and JetStream's duplicate window drops the copies (consumers
are idempotent too). A failure mid-batch marks what was acknowledged before it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from nats.js import JetStreamContext
from pymongo import UpdateOne

from services.common import mongo
from services.common.tasks import raise_if_cancelled, wait_for_event
from services.common.unit_of_work import OUTBOX

log = logging.getLogger("dief.outbox")


BATCH = 500  # events read, published and marked per round trip to MongoDB


def pending_events(alias: str, limit: int = BATCH) -> list[dict[str, Any]]:
    cursor = (
        mongo.database(alias)[OUTBOX]
        .find({"sent_at": None})
        # the outbox index's own order (sent_at is None throughout): oldest first, and events
        # recorded at the same instant in the order they were written
        .sort([("sent_at", 1), ("created_at", 1)])
        .limit(limit)
    )
    return list(cursor)


def mark_sent(alias: str, sequences: dict[str, int]) -> None:
    """Mark events sent, each with the stream sequence JetStream gave it."""
    if not sequences:
        return
    now = datetime.now(UTC)
    mongo.database(alias)[OUTBOX].bulk_write(
        [
            UpdateOne({"_id": event_id}, {"$set": {"sent_at": now, "stream_seq": seq}})
            for event_id, seq in sequences.items()
        ],
        ordered=False,
    )


def ensure_outbox_indexes(alias: str) -> None:
    mongo.database(alias)[OUTBOX].create_index([("sent_at", 1), ("created_at", 1)])


class OutboxRelay:
    """Publishes what the outbox holds, in order, until stopped."""

    def __init__(self, alias: str, js: JetStreamContext, poll_seconds: float = 0.5) -> None:
        self.alias = alias
        self.js = js
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask for a publish round now (e.g. right after a commit)."""
        self._wake.set()

    async def publish_one(self, entry: dict[str, Any]) -> int:
        ack = await self.js.publish(
            entry["subject"],
            bytes(entry["payload"]),
            timeout=5,
            headers={"Nats-Msg-Id": entry["_id"]},
        )
        return ack.seq

    async def publish_pending(self) -> int:
        """One round: publish and mark every pending event; stop at the first failure."""
        sent = 0
        while True:
            batch = await mongo.run_sync(pending_events, self.alias)
            if not batch:
                return sent
            published: dict[str, int] = {}
            try:
                for entry in batch:
                    published[entry["_id"]] = await self.publish_one(entry)
            finally:  # what JetStream acknowledged is marked, even if a later one failed
                await asyncio.shield(mongo.run_sync(mark_sent, self.alias, published))
            sent += len(published)

    async def run(self) -> None:
        backoff = self.poll_seconds
        while True:
            raise_if_cancelled()
            self._wake.clear()  # before the round: a wake() during it asks for another
            try:
                await self.publish_pending()
                backoff = self.poll_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS or MongoDB away: keep the events, try later
                log.warning("outbox relay round failed, will retry", extra={"error": str(exc)})
                backoff = min(backoff * 2, 10.0)
            await wait_for_event(self._wake, backoff)
