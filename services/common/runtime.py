"""A running service's connections and background tasks, started and stopped as one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from services.common import hot_data, idempotency, mongo
from services.common.hot_data import HotData
from services.common.keys import ensure_dev_key
from services.common.messaging import DurableConsumer, NatsLink, prune_processed
from services.common.outbox import OutboxRelay, ensure_outbox_indexes, prune_sent
from services.common.principal import PrincipalVerifier
from services.common.settings import Settings

log = logging.getLogger("dief.runtime")

ConsumerFactory = Callable[["ServiceRuntime"], DurableConsumer]


@dataclass
class ServiceRuntime:
    service: str
    settings: Settings
    on_start: list[Callable[[], None]] = field(default_factory=list)
    consumers: list[ConsumerFactory] = field(default_factory=list)
    # Copies in memory each process drops when an event on the subject arrives (a plain
    # subscription: every process hears every event, where a durable hands it to one).
    invalidate_on: dict[str, list[HotData]] = field(default_factory=dict)
    verifier: PrincipalVerifier = field(init=False)
    nats: NatsLink = field(init=False)
    relay: OutboxRelay | None = None
    _health: mongo.HealthProbe | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.settings
        if s.is_dev and not s.principal_jwks:
            ensure_dev_key(s.keys_dir)
        self.verifier = PrincipalVerifier(
            s.principal_jwks_path,
            issuer=s.principal_issuer,
            audience=s.principal_audience,
            algorithms=s.principal_algorithms,
            leeway_seconds=s.principal_leeway_seconds,
        )
        self.nats = NatsLink(
            s.nats_url,
            f"dief-{self.service}",
            s.stream_name,
            s.stream_max_age_days,
            s.stream_replicas,
            s.stream_duplicate_window_seconds,
        )

    @property
    def alias(self) -> str:
        return self.service

    async def start(self) -> None:
        mongo.connect(
            self.alias,
            self.settings.mongodb_uri,
            self.settings.database_for(self.service),
            self.settings.mongodb_transaction_seconds,
        )
        await mongo.run_sync(ensure_outbox_indexes, self.alias)
        await mongo.run_sync(idempotency.ensure_indexes, self.alias)
        for hook in self.on_start:
            await mongo.run_sync(hook)
        self._spawn(self._check_hot_data())
        self._spawn(self._start_messaging())
        self._spawn(self._prune())

    async def _check_hot_data(self) -> None:
        """The safety net of ``services.common.hot_data``: drop copies whose version moved."""
        while True:
            await asyncio.sleep(self.settings.hot_data_check_seconds)
            await mongo.run_sync(hot_data.check_all, self.alias)

    async def _start_messaging(self) -> None:
        await self.nats.run()
        assert self.nats.js is not None
        self.relay = OutboxRelay(
            self.alias,
            self.nats.js,
            self.settings.outbox_poll_seconds,
            stream=self.settings.stream_name,
            lease_seconds=self.settings.outbox_lease_seconds,
        )
        self._spawn(self.relay.run())
        assert self.nats.nc is not None
        for subject, caches in self.invalidate_on.items():
            await self.nats.nc.subscribe(subject, cb=_invalidator(caches))
        for make_consumer in self.consumers:
            self._spawn(make_consumer(self).run())

    async def _prune(self, every_seconds: float = 3600.0) -> None:
        """Sent outbox entries and records of handled events do not grow for ever."""
        s = self.settings
        while True:
            try:
                sent = await mongo.run_sync(prune_sent, self.alias, s.outbox_keep_days)
                handled = await mongo.run_sync(
                    prune_processed, self.alias, s.processed_keep_days or s.stream_max_age_days
                )
                if sent or handled:
                    log.info("pruned", extra={"outbox": sent, "processed": handled})
            except Exception as exc:  # the database away: next time
                log.warning("pruning failed", extra={"error": str(exc)})
            await asyncio.sleep(every_seconds)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        task.add_done_callback(self._report_crash)
        self._tasks.append(task)

    @staticmethod
    def _report_crash(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("background task stopped", exc_info=task.exception())

    def wake_relay(self) -> None:
        if self.relay is not None:
            self.relay.wake()

    async def ready(self) -> dict[str, bool]:
        return (await self.readiness())[1]

    async def readiness(self) -> tuple[bool, dict[str, bool]]:
        """Ready means able to serve requests: the database answers (within a bound, off the
        request pool). NATS away is reported but does not make the service unready: the
        outbox keeps the events until it is back."""
        if self._health is None:
            self._health = mongo.HealthProbe(self.alias)
        checks = {"mongodb": await self._health.ok(), "nats": self.nats.connected}
        return checks["mongodb"], checks

    async def stop(self, timeout: float = 5.0) -> None:
        """Cancel background work and close NATS; never wait longer than ``timeout`` each."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=timeout)
            for task in stuck:
                log.error("background task did not stop", extra={"task": repr(task)})
        self._tasks.clear()
        try:
            await asyncio.wait_for(self.nats.close(), timeout)
        except TimeoutError:
            log.error("NATS connection did not close in time")


def _invalidator(caches: list[HotData]) -> Callable[[object], Awaitable[None]]:
    async def invalidate(_: object) -> None:
        for cache in caches:
            cache.invalidate()

    return invalidate
