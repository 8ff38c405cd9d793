"""The read side of the outbox: a relay that publishes pending events to JetStream.

Each event is in the stream once, whatever the restarts and the number of replicas:

- One relay per service at a time: a replica relays only while it holds the service's
  ``outbox-relay`` lease (``services.common.lease``, ``DIEF_OUTBOX_LEASE_SECONDS``); the
  others stand by and take over when it expires (its holder died or hung). The holder
  starts a publish only with at least ``PUBLISH_TIMEOUT + 1`` seconds of lease left (a
  third of a shorter lease).
- Before a batch is published its entries are marked attempted, with the last sequence of
  the service's subjects (``dief.<service>.>``) at that moment (``after_seq``). Each event
  goes out with ``Nats-Msg-Id`` = its id, in order, each waiting for JetStream's
  acknowledgement, and fenced: ``Nats-Expected-Last-Subject-Sequence`` says which message
  of the service's subjects must be the last one, so a publish fails if any other relay
  published in between (two replicas that both believe they hold the lease, after a pause
  longer than it, cannot interleave). The batch is then marked sent, in one write (what was
  acknowledged before a failure is marked too).
- An entry found attempted but not sent (its relay died between publishing and marking,
  lost its lease or was fenced off) is looked for in the stream from its ``after_seq`` on
  before anything is published again: one found there is marked sent with its sequence,
  only the others are published. So a restart after any delay publishes nothing twice;
  JetStream's duplicate window (``DIEF_STREAM_DUPLICATE_WINDOW_SECONDS``) is a last line.

Consumers are idempotent too (``services.common.messaging``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import nats.js.errors
from nats.js import JetStreamContext
from pymongo import UpdateOne

from services.common import mongo, tracing
from services.common.lease import Lease
from services.common.tasks import raise_if_cancelled, wait_for_event
from services.common.unit_of_work import OUTBOX

log = logging.getLogger("dief.outbox")


BATCH = 500  # events read, published and marked per round trip to MongoDB
PUBLISH_TIMEOUT = 5.0
LEASE = "outbox-relay"
WRONG_LAST_SEQUENCE = 10071  # JetStream's error code when the fence does not hold


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


def mark_attempted(alias: str, event_ids: list[str], after_seq: int) -> None:
    """About to publish: if this relay dies, whoever comes next looks in the stream first."""
    mongo.database(alias)[OUTBOX].update_many(
        {"_id": {"$in": event_ids}},
        {"$set": {"attempted_at": datetime.now(UTC), "after_seq": after_seq}},
    )


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


def prune_sent(alias: str, keep_days: float) -> int:
    """Forget events sent more than ``keep_days`` ago (the stream has them); how many."""
    cutoff = datetime.now(UTC) - timedelta(days=keep_days)
    done = mongo.database(alias)[OUTBOX].delete_many({"sent_at": {"$ne": None, "$lt": cutoff}})
    return done.deleted_count


def ensure_outbox_indexes(alias: str) -> None:
    mongo.database(alias)[OUTBOX].create_index([("sent_at", 1), ("created_at", 1)])


async def already_in_stream(
    js: JetStreamContext, stream: str, wanted: set[str], from_seq: int, last: int
) -> dict[str, int]:
    """Which of the event ids ``wanted`` the stream holds from ``from_seq`` to ``last``,
    with their sequences (read message by message: only the headers matter)."""
    found: dict[str, int] = {}
    seq = max(from_seq, 1)
    while seq <= last and len(found) < len(wanted):
        try:
            msg = await js.get_msg(stream, seq=seq, subject="dief.>", next=True)
        except nats.js.errors.NotFoundError:
            break
        event_id = (msg.headers or {}).get("Nats-Msg-Id")
        if event_id in wanted and msg.seq is not None:
            found[event_id] = msg.seq
        seq = (msg.seq or seq) + 1
    return found


class OutboxRelay:
    """Publishes what the outbox holds, in order, while it holds the lease, until stopped."""

    def __init__(
        self,
        alias: str,
        js: JetStreamContext,
        poll_seconds: float = 0.5,
        *,
        stream: str = "DIEF",
        lease_seconds: float = 15.0,
    ) -> None:
        self.alias = alias
        self.js = js
        self.poll_seconds = poll_seconds
        self.stream = stream
        self.lease = Lease(
            alias, LEASE, ttl_seconds=lease_seconds, skew_seconds=min(1.0, lease_seconds / 4)
        )
        # a publish starts only with this much lease left (short leases are for tests)
        self._margin = min(PUBLISH_TIMEOUT + 1, lease_seconds / 3)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask for a publish round now (e.g. right after a commit)."""
        self._wake.set()

    @property
    def subjects(self) -> str:
        return f"dief.{self.alias}.>"

    async def publish_one(self, entry: dict[str, Any], last: int | None = None) -> int:
        """Publish one entry; with ``last``, only if that is still the last message of the
        service's subjects (else ``nats.js.errors.BadRequestError``, code 10071)."""
        headers = {"Nats-Msg-Id": entry["_id"]}
        if last is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(last)
            headers["Nats-Expected-Last-Subject-Sequence-Subject"] = self.subjects
        # the trace the event was recorded in, if any, continues with its publication
        with tracing.producer_span(entry["subject"], entry.get("traceparent"), headers):
            ack = await self.js.publish(
                entry["subject"], bytes(entry["payload"]), timeout=PUBLISH_TIMEOUT, headers=headers
            )
        return ack.seq

    async def last_sequence(self) -> int:
        """The sequence of the last message on the service's subjects (0: none yet)."""
        try:
            return (await self.js.get_last_msg(self.stream, self.subjects)).seq or 0
        except nats.js.errors.NotFoundError:
            return 0

    def _may_publish(self) -> bool:
        return self.lease.held(margin=self._margin)

    async def _renew(self) -> bool:
        had = self.lease.held()
        taken = await mongo.run_sync(self.lease.take)
        if taken and not had:
            log.info("outbox relay lease taken", extra={"holder": self.lease.holder})
        elif had and not taken:
            log.warning("outbox relay lease lost", extra={"holder": self.lease.holder})
        return taken

    async def publish_pending(self) -> int:
        """One round: publish and mark every pending event; stop at the first failure, or
        at once when another replica holds the lease."""
        sent = 0
        while True:
            if not self._may_publish() and not await self._renew():
                return sent
            # read before the outbox: whatever anyone publishes after it breaks the fence,
            # whatever was published before it was marked attempted before we read
            last = await self.last_sequence()
            batch = await mongo.run_sync(pending_events, self.alias)
            if not batch:
                return sent
            batch = await self._not_in_stream(batch, last)
            if not batch:
                continue
            await mongo.run_sync(mark_attempted, self.alias, [e["_id"] for e in batch], last)
            published: dict[str, int] = {}
            fenced = False
            try:
                for entry in batch:
                    if not self._may_publish() and not await self._renew():
                        break  # another replica has the lease: the rest is its job
                    try:
                        seq = await self.publish_one(entry, last)
                    except nats.js.errors.BadRequestError as exc:
                        if exc.err_code != WRONG_LAST_SEQUENCE:
                            raise
                        fenced = True  # someone published meanwhile: check again first
                        break
                    published[entry["_id"]] = seq
                    if entry["subject"].startswith(self.subjects[:-1]):
                        last = seq
            finally:  # what JetStream acknowledged is marked, even if a later one failed
                await asyncio.shield(mongo.run_sync(mark_sent, self.alias, published))
            sent += len(published)
            if fenced:
                log.info("outbox relay fenced off by another publisher; checking again")
                return sent

    async def _not_in_stream(self, batch: list[dict[str, Any]], last: int) -> list[dict[str, Any]]:
        """The batch less the attempted entries the stream already holds (marked sent)."""
        doubtful = [e for e in batch if e.get("attempted_at") is not None]
        if not doubtful:
            return batch
        start = min(int(e.get("after_seq") or 0) for e in doubtful) + 1
        found = await already_in_stream(
            self.js, self.stream, {e["_id"] for e in doubtful}, start, last
        )
        if found:
            await mongo.run_sync(mark_sent, self.alias, found)
            log.info(
                "events already in the stream marked sent",
                extra={"events": len(found), "checked": len(doubtful)},
            )
        return [e for e in batch if e["_id"] not in found]

    async def run(self) -> None:
        backoff = self.poll_seconds
        try:
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
                    # a replica that cannot publish (NATS away from it) lets another one
                    await self._release()
                await wait_for_event(self._wake, backoff)
        finally:
            await self._release()

    async def _release(self) -> None:
        if not self.lease.held():
            return
        try:
            await asyncio.shield(mongo.run_sync(self.lease.release))
        except Exception as exc:
            log.warning("outbox lease not released", extra={"error": str(exc)})
