"""Prometheus metrics of a process's event consumers, in a registry of their own that every
service's ``/metrics`` serves beside its HTTP metrics (``services.common.metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry()

dead_lettered = Counter(
    "dief_events_dead_lettered",
    "Events a consumer gave up on after its last delivery and parked on "
    "dief.<service>.deadletter.<consumer>.",
    ["service", "consumer"],
    registry=REGISTRY,
)
