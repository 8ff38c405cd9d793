"""OpenTelemetry tracing: off unless an OTLP/HTTP collector is named.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set,
``configure`` installs a tracer provider that batches spans to the collector (the SDK's own
``OTEL_*`` variables apply: ``OTEL_TRACES_SAMPLER``, ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_BSP_*``, ``OTEL_SERVICE_NAME``) and traces MongoDB commands (pymongo's command
listener: the command's name and database, never the documents). Then:

- each HTTP request to a service or the gateway is a server span that continues the W3C
  ``traceparent`` it came with (``TracingMiddleware``; a malformed one starts a new trace),
  and every log line written meanwhile carries the trace id next to the request id;
- the gateway's fetch of each subgraph is a client span whose ``traceparent`` goes along;
- an event recorded in the outbox keeps the ``traceparent`` of the work that recorded it;
  the relay publishes it with the message (a producer span in that trace), and consumers
  handle it in a consumer span of the same trace.

Only ``traceparent``/``tracestate`` travel (no baggage: nothing a caller sends rides along
to the subgraphs). Background work (the relay's polls, lease renewals) starts no trace of
its own: a client span without a parent is not recorded.

Unset, nothing is installed: each of these places tests one thing and goes on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.response_status import ResponseStatus
from services.common.settings import Settings

_PROPAGATOR = TraceContextTextMapPropagator()
_NOTHING: AbstractContextManager[None] = contextlib.nullcontext()
_tracer: Tracer | None = None
# probes and scrapes, every few seconds: no trace of their own
UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})


def enabled() -> bool:
    return _tracer is not None


def configure(service: str, settings: Settings) -> bool:
    """Trace this process if a collector is configured; whether it is now traced."""
    global _tracer
    if _tracer is not None:
        return True
    if not settings.otel_exporter_otlp_endpoint:
        return False
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME") or f"dief-{service}",
            "service.namespace": "dief",
        }
    )
    provider = TracerProvider(resource=resource, sampler=_no_orphan_clients())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    PymongoInstrumentor().instrument(tracer_provider=provider)
    _tracer = provider.get_tracer("dief")
    return True


def _no_orphan_clients() -> Any:
    """The SDK's sampler (``OTEL_TRACES_SAMPLER``; parent-based, always on by default),
    except that a client span with no parent (a database call of background work) is
    dropped."""
    from opentelemetry.sdk.trace import sampling

    try:
        inner = sampling._get_from_env_or_default()
    except Exception:  # an unknown sampler name: the SDK's default
        inner = sampling.ParentBased(sampling.ALWAYS_ON)

    class NoOrphanClients(sampling.Sampler):
        def should_sample(
            self,
            parent_context: Any,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Any = None,
            links: Sequence[Any] | None = None,
            trace_state: Any = None,
        ) -> sampling.SamplingResult:
            if kind is SpanKind.CLIENT and not (
                trace.get_current_span(parent_context).get_span_context().is_valid
            ):
                return sampling.SamplingResult(sampling.Decision.DROP)
            return inner.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"NoOrphanClients{{{inner.get_description()}}}"

    return NoOrphanClients()


# --- what the logs and the outbox keep ------------------------------------------------------


def current_trace_id() -> str:
    """The trace id of the span being worked in (32 hex digits), or ``-``."""
    if _tracer is None:
        return "-"
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else "-"


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span being worked in (None: not traced)."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def inject(headers: MutableMapping[str, str]) -> None:
    """Put the current span's ``traceparent`` in ``headers`` (untraced: nothing)."""
    if _tracer is not None:
        _PROPAGATOR.inject(headers)


# --- spans ----------------------------------------------------------------------------------


def client_span(
    name: str, headers: MutableMapping[str, str], attributes: Mapping[str, Any] | None = None
) -> AbstractContextManager[Any]:
    """A client span around an outgoing request; its ``traceparent`` goes in ``headers``."""
    if _tracer is None:
        return _NOTHING
    return _injecting(_tracer, name, SpanKind.CLIENT, None, headers, attributes)


def producer_span(
    subject: str, traceparent: str | None, headers: MutableMapping[str, str]
) -> AbstractContextManager[Any]:
    """Publishing an event recorded under ``traceparent``: a producer span of that trace,
    whose ``traceparent`` goes in the message's ``headers`` (untraced: the recorded one)."""
    if not traceparent:
        return _NOTHING
    if _tracer is None:
        headers["traceparent"] = traceparent
        return _NOTHING
    parent = _PROPAGATOR.extract({"traceparent": traceparent})
    attributes = {"messaging.system": "nats", "messaging.destination.name": subject}
    return _injecting(_tracer, f"publish {subject}", SpanKind.PRODUCER, parent, headers, attributes)


def consumer_span(consumer: str, headers: Mapping[str, str] | None) -> AbstractContextManager[Any]:
    """Handling an event that came with a ``traceparent``: a consumer span of its trace."""
    if _tracer is None or not headers or "traceparent" not in headers:
        return _NOTHING
    parent = _PROPAGATOR.extract({k.lower(): v for k, v in headers.items()})
    return _tracer.start_as_current_span(
        f"handle {consumer}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={"messaging.system": "nats", "messaging.consumer.group.name": consumer},
    )


@contextlib.contextmanager
def _injecting(
    tracer: Tracer,
    name: str,
    kind: SpanKind,
    parent: Any,
    headers: MutableMapping[str, str],
    attributes: Mapping[str, Any] | None,
) -> Any:
    with tracer.start_as_current_span(
        name, context=parent, kind=kind, attributes=dict(attributes or {})
    ) as span:
        _PROPAGATOR.inject(headers)
        yield span


class TracingMiddleware:
    """Each HTTP request a server span (probes and scrapes aside), continuing the caller's
    ``traceparent``. The span is named by the method and the path as ``redact`` gives it (no
    capability secret, no query string)."""

    def __init__(self, app: ASGIApp, redact: Callable[[str], str] = lambda path: path) -> None:
        self.app = app
        self.redact = redact

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _tracer is None or scope["path"] in UNTRACED:
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        path = self.redact(scope["path"])
        method = scope["method"]
        status = ResponseStatus(send)
        with _tracer.start_as_current_span(
            f"{method} {path}",
            context=_PROPAGATOR.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:
            try:
                await self.app(scope, receive, status.send)
            finally:
                span.set_attribute("http.response.status_code", status.code)
                if status.code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
