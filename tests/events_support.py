"""Helpers for the event tests: a NATS server of one's own, polling, and stream reading."""

from __future__ import annotations

import asyncio
import inspect
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.dev.servers import ServerProcess, free_port, nats_server, nats_url


@dataclass
class OwnNats:
    """A nats-server for one test, which the test may stop and start again on the same
    port with the same store directory (so JetStream keeps its streams)."""

    root: Path
    port: int = field(default_factory=free_port)
    server: ServerProcess | None = None

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def url(self) -> str:
        return nats_url(self.port)

    @property
    def running(self) -> bool:
        return (
            self.server is not None
            and self.server.process is not None
            and self.server.process.poll() is None
        )

    def start(self) -> OwnNats:
        assert not self.running, "already running"
        self.server = nats_server(
            self.store_dir, port=self.port, log_path=self.root / "server.log"
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


async def connect(url: str) -> NATS:
    """A plain test client: fail fast rather than retry forever."""
    return await nats.connect(
        servers=[url],
        name="dief-tests",
        connect_timeout=2,
        max_reconnect_attempts=5,
        reconnect_time_wait=0.2,
    )


async def eventually(
    check: Callable[[], Any], timeout: float = 10.0, what: str = "condition", interval: float = 0.05
) -> Any:
    """Poll ``check`` (plain or async) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:.0f}s (last: {result!r})")
        await asyncio.sleep(interval)


def unique_name(prefix: str, length: int = 10) -> str:
    """Lower-case letters only, so the name can be an entity in a DIEF subject."""
    return prefix + "".join(secrets.choice(string.ascii_lowercase) for _ in range(length))


async def drain_messages(
    sub: JetStreamContext.PullSubscription,
    *,
    at_least: int = 1,
    timeout: float = 10.0,
    settle: float = 0.3,
) -> list[Msg]:
    """Fetch (and ack) messages until ``at_least`` arrived, then keep listening ``settle``
    seconds more so that an unexpected extra message would be seen too."""
    got: list[Msg] = []
    deadline = time.monotonic() + timeout
    while len(got) < at_least and time.monotonic() < deadline:
        got += await _fetch(sub, min(1.0, max(deadline - time.monotonic(), 0.05)))
    settle_until = time.monotonic() + settle
    while time.monotonic() < settle_until:
        got += await _fetch(sub, max(settle_until - time.monotonic(), 0.05))
    return got


async def _fetch(sub: JetStreamContext.PullSubscription, timeout: float) -> list[Msg]:
    try:
        msgs = await sub.fetch(50, timeout=timeout)
    except (TimeoutError, nats.errors.TimeoutError):
        return []
    for msg in msgs:
        await msg.ack()
    return msgs


async def reader(
    js: JetStreamContext,
    subject: str,
    *,
    stream: str = "DIEF",
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL,
) -> tuple[JetStreamContext.PullSubscription, str]:
    """A uniquely named durable pull consumer of ``subject``; returns it and its name
    (delete it with ``js.delete_consumer(stream, name)``)."""
    name = unique_name("evtest_")
    config = ConsumerConfig(
        durable_name=name,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=deliver_policy,
        filter_subject=subject,
    )
    sub = await js.pull_subscribe(subject, durable=name, stream=stream, config=config)
    return sub, name


async def messages_on(js: JetStreamContext, subject: str, *, stream: str = "DIEF") -> int:
    """How many messages the stream holds on exactly ``subject``."""
    info = await js.stream_info(stream, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def consumer_caught_up(url: str, durable: str, timeout: float = 60.0) -> None:
    """Wait until ``durable`` has handled every event already in the DIEF stream.

    A service's participant consumer is durable and the session's stream is shared: status
    changes other test modules made (a State withdrawn, then back) must be applied before a
    test starts, not halfway through it."""
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()

        async def settled() -> bool:
            try:
                info = await js.consumer_info("DIEF", durable)
            except NotFoundError:  # the service has not created it yet
                return False
            return info.num_pending == 0 and info.num_ack_pending == 0

        await eventually(settled, timeout=timeout, what=f"{durable} caught up")
    finally:
        await nc.close()


async def outbox_published(alias: str, timeout: float = 60.0) -> None:
    """Wait until the running service of ``alias`` relayed everything its outbox holds
    (e.g. the contacts seed's announcements of the participant States)."""
    from services.common import mongo
    from services.common.unit_of_work import OUTBOX

    def published() -> bool:
        return mongo.database(alias)[OUTBOX].count_documents({"sent_at": None}) == 0

    async def done() -> bool:
        return await mongo.run_sync(published)

    await eventually(done, timeout=timeout, what=f"the {alias} outbox published")
