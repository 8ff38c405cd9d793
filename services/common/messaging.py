"""The connection to NATS, the DIEF stream, and a durable, idempotent consumer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError
from pymongo.errors import BulkWriteError

from services.common import event_metrics, mongo, tracing
from services.common.events import CloudEvent
from services.common.tasks import raise_if_cancelled

log = logging.getLogger("dief.messaging")

DUPLICATE_WINDOW_SECONDS = 120.0
PROCESSED = "processed_events"
DEAD_LETTER = "deadletter"  # dief.<service>.deadletter.<durable>: events a consumer gave up on


def dead_letter_subject(service: str, durable: str) -> str:
    """Within the service's own subjects (the only ones it may publish on)."""
    return f"dief.{service}.{DEAD_LETTER}.{durable}"


def redacted(url: str) -> str:
    """``url`` (or a comma-separated list of a cluster's URLs) without passwords, for logs."""
    if "," in url:
        return ",".join(redacted(one) for one in url.split(","))
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class _ConnectionReporter:
    """Logs NATS connection trouble without a line for every retry (one per 30 s)."""

    def __init__(self, url: str) -> None:
        self.url = redacted(url)
        self._last = 0.0

    async def error(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last >= 30:
            self._last = now
            log.warning(
                "NATS connection trouble; retrying",
                extra={"error": str(exc) or type(exc).__name__, "url": self.url},
            )

    async def disconnected(self) -> None:
        log.warning("disconnected from NATS; events wait in the outbox", extra={"url": self.url})

    async def reconnected(self) -> None:
        log.info("reconnected to NATS", extra={"url": self.url})


async def connect_nats(url: str, name: str) -> NATS:
    """Connect, waiting for the server as long as it takes; after that the client
    reconnects by itself, forever."""
    reporter = _ConnectionReporter(url)
    return await nats.connect(
        servers=url.split(","),  # a cluster's servers, comma-separated
        name=name,
        connect_timeout=2,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=reporter.error,
        disconnected_cb=reporter.disconnected,
        reconnected_cb=reporter.reconnected,
    )


async def ensure_stream(
    js: JetStreamContext,
    name: str,
    max_age_days: int,
    replicas: int = 1,
    duplicate_window_seconds: float = DUPLICATE_WINDOW_SECONDS,
) -> None:
    """Create the stream of ``dief.>`` or bring its configuration up to date."""
    config = StreamConfig(
        name=name,
        num_replicas=replicas,
        subjects=["dief.>"],
        storage=StorageType.FILE,
        max_age=max_age_days * 86400.0,
        duplicate_window=duplicate_window_seconds,
        description="DIEF Exchange events (CloudEvents 1.0, JSON)",
    )
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)


class NatsLink:
    """Keeps trying to reach NATS in the background until it succeeds."""

    def __init__(
        self,
        url: str,
        name: str,
        stream: str,
        max_age_days: int,
        replicas: int = 1,
        duplicate_window_seconds: float = DUPLICATE_WINDOW_SECONDS,
    ) -> None:
        self.url = url
        self.duplicate_window_seconds = duplicate_window_seconds
        self.replicas = replicas
        self.name = name
        self.stream = stream
        self.max_age_days = max_age_days
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self.ready = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def run(self) -> None:
        delay = 0.2
        while self.nc is None:
            nc: NATS | None = None
            try:
                nc = await connect_nats(self.url, self.name)
                js = nc.jetstream()
                await ensure_stream(
                    js,
                    self.stream,
                    self.max_age_days,
                    self.replicas,
                    self.duplicate_window_seconds,
                )
                self.nc, self.js = nc, js
            except Exception as exc:
                if nc is not None and not nc.is_closed:
                    with contextlib.suppress(Exception):
                        await nc.close()
                log.warning(
                    "NATS not reachable yet", extra={"error": str(exc), "url": redacted(self.url)}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.ready.set()

    async def close(self) -> None:
        # close, not drain: publishes are awaited acks (nothing is left to flush), and a
        # message a consumer has not acked yet is redelivered to whoever resumes the durable.
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()


Handler = Callable[[CloudEvent], Awaitable[None]]


def consumer_options(settings: Any) -> dict[str, Any]:
    """A ``DurableConsumer``'s ack wait and delivery limit from the settings."""
    return {
        "ack_wait_seconds": settings.consumer_ack_wait_seconds,
        "max_deliver": settings.consumer_max_deliver,
    }


@dataclass(frozen=True)
class Delivered:
    """An event as a batch handler gets it: with its sequence in the stream."""

    event: CloudEvent
    stream_seq: int


BatchHandler = Callable[[list[Delivered]], Awaitable[None]]


def _key(consumer: str, event_id: str) -> str:
    return f"{consumer}:{event_id}"


def _was_handled(alias: str, consumer: str, event_id: str) -> bool:
    return bool(_handled_among(alias, consumer, [event_id]))


def _handled_among(alias: str, consumer: str, event_ids: list[str]) -> set[str]:
    """Which of ``event_ids`` this consumer handled before."""
    keys = {_key(consumer, event_id): event_id for event_id in event_ids}
    found = mongo.database(alias)[PROCESSED].find({"_id": {"$in": list(keys)}}, {"_id": 1})
    return {keys[doc["_id"]] for doc in found}


def prune_processed(alias: str, keep_days: float) -> int:
    """Forget which events were handled more than ``keep_days`` ago; how many. Keep them as
    long as the stream may deliver those events again (its retention)."""
    cutoff = datetime.now(UTC) - timedelta(days=keep_days)
    return mongo.database(alias)[PROCESSED].delete_many({"at": {"$lt": cutoff}}).deleted_count


def _mark_handled(alias: str, consumer: str, *event_ids: str) -> None:
    now = datetime.now(UTC)
    docs = [{"_id": _key(consumer, event_id), "at": now} for event_id in event_ids]
    try:
        mongo.database(alias)[PROCESSED].insert_many(docs, ordered=False)
    except BulkWriteError as exc:  # handled twice (another replica, a redelivery): still once
        errors = exc.details.get("writeErrors", ())
        if exc.details.get("writeConcernErrors") or any(e.get("code") != 11000 for e in errors):
            raise


class DurableConsumer:
    """Handles each event of ``subject_filter`` once, acking after the handler succeeds.

    Several replicas of a service share one durable name, so JetStream gives each message
    to one of them; the processed-ids collection skips redeliveries and re-publications.

    With ``handler``, events are handled one by one; with ``batch_handler``, each fetched
    batch (the events not handled before, in stream order) is handled in one call, and
    acked, or redelivered, as a whole.

    A message not acked within ``ack_wait_seconds`` (a hung replica) goes to another. An
    event whose handling fails is redelivered after ``retry_delay_seconds``, at most
    ``max_deliver`` times in all: then it is parked on ``dief.<service>.deadletter.<durable>`` (the
    event as it was, with ``Dief-Original-Subject`` and ``Dief-Error`` headers), logged as
    an error, and no longer delivered, so the events after it are not held up for ever.
    """

    def __init__(
        self,
        js: JetStreamContext,
        *,
        alias: str,
        durable: str,
        subject_filter: str,
        handler: Handler | None = None,
        batch_handler: BatchHandler | None = None,
        stream: str = "DIEF",
        deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
        ack_wait_seconds: float = 30.0,
        max_deliver: int = 5,
        retry_delay_seconds: float = 1.0,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise TypeError("give a handler or a batch_handler")
        self.js = js
        self.alias = alias
        self.durable = durable
        self.subject_filter = subject_filter
        self.handler = handler
        self.batch_handler = batch_handler
        self.stream = stream
        self.deliver_policy = deliver_policy
        self.ack_wait_seconds = ack_wait_seconds
        self.max_deliver = max_deliver
        self.retry_delay_seconds = retry_delay_seconds

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=self.deliver_policy,
            filter_subject=self.subject_filter,
            ack_wait=self.ack_wait_seconds,
            max_deliver=-1,  # counted here: the last failure parks the event
        )
        return await self.js.pull_subscribe(
            self.subject_filter, durable=self.durable, stream=self.stream, config=config
        )

    async def handle(self, event: CloudEvent) -> bool:
        """Run the handler unless this event was handled before; True if it ran."""
        # Marked after the handler: a crash in between means one more delivery, never a
        # lost one, so handlers must be idempotent.
        if self.handler is None:
            raise TypeError("this consumer handles batches")
        if await mongo.run_sync(_was_handled, self.alias, self.durable, event.id):
            return False
        await self.handler(event)
        await mongo.run_sync(_mark_handled, self.alias, self.durable, event.id)
        return True

    async def handle_batch(self, batch: list[Delivered]) -> int:
        """Run the batch handler on the events not handled before; how many it got."""
        if self.batch_handler is None:
            raise TypeError("this consumer handles events one by one")
        # a redelivery may come out of order: the handler gets the stream's order
        unique = sorted({d.event.id: d for d in batch}.values(), key=lambda d: d.stream_seq)
        ids = [d.event.id for d in unique]
        done = await mongo.run_sync(_handled_among, self.alias, self.durable, ids)
        fresh = [d for d in unique if d.event.id not in done]
        if fresh:
            await self.batch_handler(fresh)
            await mongo.run_sync(
                _mark_handled, self.alias, self.durable, *[d.event.id for d in fresh]
            )
        return len(fresh)

    async def run(self, batch: int = 50) -> None:
        sub = None
        while True:
            raise_if_cancelled()
            try:
                if sub is None:
                    sub = await self._subscribe()
                msgs = await sub.fetch(batch, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer not ready, retrying", extra={"error": str(exc)})
                sub = None
                await asyncio.sleep(1)
                continue
            received = await _events_of(msgs)
            if self.batch_handler is not None:
                await self._run_batch(received)
                continue
            for msg, event in received:
                try:
                    with tracing.consumer_span(self.durable, msg.headers):
                        await self.handle(event)
                except Exception as exc:
                    await self._failed(msg, event, exc)
                    continue
                await msg.ack()

    async def _failed(self, msg: Msg, event: CloudEvent, exc: Exception) -> None:
        """Redeliver later, or park the event after its last delivery."""
        if msg.metadata.num_delivered < self.max_deliver:
            log.warning(
                "event handler failed; it will be redelivered",
                extra={"event_id": event.id, "error": repr(exc)[:200]},
            )
            await msg.nak(delay=self.retry_delay_seconds)
            return
        await self.js.publish(
            dead_letter_subject(self.alias, self.durable),
            msg.data,
            stream=self.stream,
            headers={
                "Nats-Msg-Id": f"dead:{self.durable}:{event.id}",
                "Dief-Original-Subject": msg.subject,
                "Dief-Error": repr(exc)[:500],
            },
        )
        event_metrics.dead_lettered.labels(self.alias, self.durable).inc()
        log.error(
            "event parked on the dead-letter subject after its last delivery",
            extra={
                "event_id": event.id,
                "consumer": self.durable,
                "deliveries": msg.metadata.num_delivered,
                "error": repr(exc)[:200],
            },
        )
        await msg.term()

    async def _run_batch(self, received: list[tuple[Msg, CloudEvent]]) -> None:
        if not received:
            return
        batch = [Delivered(event, msg.metadata.sequence.stream) for msg, event in received]
        try:
            await self.handle_batch(batch)
        except Exception as exc:
            log.exception(
                "batch handler failed; the batch will be redelivered",
                extra={"events": len(batch), "first_event_id": batch[0].event.id},
            )
            for msg, event in received:
                await self._failed(msg, event, exc)
            return
        for msg, _ in received:
            await msg.ack()


async def _events_of(msgs: list[Msg]) -> list[tuple[Msg, CloudEvent]]:
    """The fetched messages with their events; a message that is not one is dropped."""
    received = []
    for msg in msgs:
        if f".{DEAD_LETTER}." in msg.subject:  # parked by a consumer: not to handle again
            await msg.ack()
            continue
        try:
            received.append((msg, CloudEvent.from_json(msg.data)))
        except (ValueError, KeyError) as exc:
            log.error(
                "dropping a message that is not a DIEF event",
                extra={"error": str(exc), "subject": msg.subject},
            )
            await msg.term()
    return received
