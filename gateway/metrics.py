"""Prometheus metrics of the gateway, in a registry of its own (one per app instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dief_gateway_requests",
            "GraphQL requests served, by operation type and outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dief_gateway_request_seconds",
            "Time to answer a GraphQL request.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.subgraph_fetches = Counter(
            "dief_gateway_subgraph_fetches",
            "Requests the gateway made to subgraphs, by subgraph and outcome.",
            ["subgraph", "outcome"],
            registry=self.registry,
        )
        self.merged_fetches = Counter(
            "dief_gateway_subgraph_fetches_merged",
            "Subgraph fetches answered by an identical fetch of the same caller in flight.",
            ["subgraph"],
            registry=self.registry,
        )
        self.subgraph_latency = Histogram(
            "dief_gateway_subgraph_seconds",
            "Time a subgraph took to answer.",
            ["subgraph"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.plan_cache = Gauge(
            "dief_gateway_plan_cache",
            "Query plan cache lookups since start, by result (hit or miss).",
            ["result"],
            registry=self.registry,
        )
        self.participants = Gauge(
            "dief_gateway_participant_states",
            "States the gateway's registry cache holds as participants.",
            registry=self.registry,
        )

        self.registry_ready = Gauge(
            "dief_gateway_participant_registry_ready",
            "1 once the participant registry is loaded (the gateway is not ready before).",
            registry=self.registry,
        )

        self.nats_connected = Gauge(
            "dief_gateway_nats_connected",
            "1 while the gateway holds a NATS connection (following participation changes).",
            registry=self.registry,
        )

    def observe_plan_cache(self, hits: int, misses: int) -> None:
        self.plan_cache.labels("hit").set(hits)
        self.plan_cache.labels("miss").set(misses)

    def render(self) -> bytes:
        return generate_latest(self.registry)
