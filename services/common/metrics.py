"""Prometheus metrics of a subgraph service, in a registry of its own (one per app): the
HTTP requests it answered, how long they took, the events still waiting in its outbox and
whether it holds a NATS connection; ``/metrics`` serves them, and the events its consumers
parked as dead letters (``services.common.event_metrics``)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pymongo.errors import PyMongoError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common import event_metrics, mongo
from services.common.response_status import ResponseStatus
from services.common.runtime import ServiceRuntime
from services.common.unit_of_work import OUTBOX

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.registry = CollectorRegistry()
        service = runtime.service
        self.requests = Counter(
            "dief_service_requests",
            "HTTP requests a service answered, by method and status.",
            ["service", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dief_service_request_seconds",
            "Time a service took to answer an HTTP request.",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "dief_outbox_pending",
            "Events written to the service's outbox and not yet published to NATS.",
            ["service"],
            registry=self.registry,
        )
        self.nats_connected = Gauge(
            "dief_service_nats_connected",
            "1 while the service holds a NATS connection.",
            ["service"],
            registry=self.registry,
        )
        self._latency = self.latency.labels(service)

    def observe(self, method: str, status: int, seconds: float) -> None:
        self.requests.labels(self.runtime.service, method, str(status)).inc()
        self._latency.observe(seconds)

    async def endpoint(self, _: Request) -> Response:
        service = self.runtime.service
        try:
            pending = await mongo.run_sync(_count_pending, self.runtime.alias)
        except PyMongoError:  # MongoDB unreachable: the gauge is left out, not made up
            self.outbox_pending.clear()
        else:
            self.outbox_pending.labels(service).set(pending)
        self.nats_connected.labels(service).set(1 if self.runtime.nats.connected else 0)
        text = generate_latest(self.registry) + generate_latest(event_metrics.REGISTRY)
        return Response(text, media_type=CONTENT_TYPE_LATEST)


def _count_pending(alias: str) -> int:
    return mongo.database(alias)[OUTBOX].count_documents({"sent_at": None}, maxTimeMS=2000)


class MetricsMiddleware:
    """Counts every HTTP request by method and status, and times it (``/metrics`` too)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = ResponseStatus(send)
        try:
            await self.app(scope, receive, status.send)
        finally:
            self.metrics.observe(scope["method"], status.code, time.perf_counter() - started)
