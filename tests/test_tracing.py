"""OpenTelemetry tracing through the real suite: the services and the gateway run as
processes exporting over OTLP/HTTP to a collector this test runs on a free port. A request
sent with a W3C ``traceparent`` is one trace from the gateway through its subgraph fetch to
the subgraph, its MongoDB commands and the event published for it (``traceparent`` in the
NATS message's headers), and the subgraph's log lines carry the trace id next to the
request id; a page of the web console is one trace with the gateway calls it makes. What
a caller sends cannot break it: a malformed ``traceparent`` starts a new
trace, and a capability secret in a path never reaches a span."""

from __future__ import annotations

import gzip
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from services.common import tracing
from services.common.events import event
from services.common.settings import Settings
from services.common.unit_of_work import outbox_entry
from services.dev.servers import LOOPBACK, ServerProcess, free_port
from tests.console_support import start_console
from tests.flows_support import FlowStack, data_of, start_stack

pytestmark = pytest.mark.slow

CREATE = """mutation($input: AuthorityCreateInput!) {
  authorityCreate(input: $input) { authority { id } }
}"""
SUBJECT = "dief.contacts.authority.changed"
SERVER, CLIENT, PRODUCER = 2, 3, 4  # OTLP's SpanKind numbers


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]


class Collector:
    """An OTLP/HTTP trace receiver (protobuf, as the SDK's exporter sends it)."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                collector.receive(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def receive(self, request: ExportTraceServiceRequest) -> None:
        got = []
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "?",
            )
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    got.append(
                        Span(
                            service=service,
                            name=s.name,
                            kind=s.kind,
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_id=s.parent_span_id.hex(),
                            attributes={
                                a.key: a.value.string_value or a.value.int_value
                                for a in s.attributes
                            },
                        )
                    )
        with self.lock:
            self.spans.extend(got)

    def of_trace(self, trace_id: str) -> list[Span]:
        with self.lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def all(self) -> list[Span]:
        with self.lock:
            return list(self.spans)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    c.close()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, mongodb: ServerProcess, collector: Collector
) -> Iterator[FlowStack]:
    s = start_stack(
        tmp_path_factory.mktemp("tracing"),
        mongodb.port,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{LOOPBACK}:{collector.port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: spans leave within a moment
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        },
    )
    yield s
    s.stop()


def _wait_for(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} not within {timeout:.0f} s"
        time.sleep(0.2)


async def _create(stack: FlowStack, headers: dict[str, str], name: str) -> httpx.Response:
    token = stack.token("tracer", state="FRA")
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(
            f"{stack.urls['gateway']}/graphql",
            json={
                "query": CREATE,
                "variables": {
                    "input": {
                        "stateCode": "FRA",
                        "kind": "CUSTOMS",
                        "name": name,
                        "phone": "+33 1 57 53 40 00",
                        "languages": ["fr"],
                        "timeZone": "Europe/Paris",
                    }
                },
            },
            headers={"Authorization": f"Bearer {token}", **headers},
        )


def _log_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


async def test_one_trace_from_the_caller_through_the_gateway_to_mongodb_and_nats(
    stack: FlowStack, collector: Collector
) -> None:
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    answer = await _create(
        stack,
        {"traceparent": f"00-{trace_id}-{caller_span}-01", "X-Request-Id": "trace-req-1"},
        "Douane tracée",
    )
    assert answer.status_code == 200
    data_of(answer.json())

    def complete() -> list[Span] | None:
        spans = collector.of_trace(trace_id)
        kinds = {(s.service, s.kind) for s in spans}
        wanted = {
            ("dief-gateway", SERVER),
            ("dief-gateway", CLIENT),
            ("dief-contacts", SERVER),
            ("dief-contacts", CLIENT),  # MongoDB
            ("dief-contacts", PRODUCER),  # NATS
        }
        return spans if wanted <= kinds else None

    spans = _wait_for(complete, "the whole trace at the collector")
    by_id = {s.span_id: s for s in spans}
    (gateway,) = [s for s in spans if s.service == "dief-gateway" and s.kind == SERVER]
    assert gateway.parent_id == caller_span  # continues the caller's trace
    assert gateway.name == "POST /graphql"
    (fetch,) = [s for s in spans if s.service == "dief-gateway" and s.kind == CLIENT]
    assert fetch.parent_id == gateway.span_id and fetch.name == "POST contacts"
    (contacts,) = [s for s in spans if s.service == "dief-contacts" and s.kind == SERVER]
    assert contacts.parent_id == fetch.span_id  # the fetcher sent its traceparent
    for server in (gateway, contacts):
        assert server.attributes["http.response.status_code"] == 200
    database = [s for s in spans if s.service == "dief-contacts" and s.kind == CLIENT]
    assert any(s.attributes.get("db.system") == "mongodb" for s in database)
    assert all(s.parent_id in by_id for s in database)  # within the request's spans
    # the event was recorded within the request; the relay published it in the same trace
    # (once, unless a publish timed out on a busy machine and was tried again)
    publishes = [s for s in spans if s.kind == PRODUCER]
    assert all(s.name == f"publish {SUBJECT}" for s in publishes)
    assert all(by_id[s.parent_id] is contacts for s in publishes)

    # The message carries the producer span's traceparent.
    nc, js = await stack.jetstream()
    try:
        msg = await js.get_last_msg("DIEF", SUBJECT)
    finally:
        await nc.close()
    assert msg.headers and msg.headers["traceparent"] in {
        f"00-{trace_id}-{s.span_id}-01" for s in publishes
    }

    # The subgraph's log line of the request: its request id and the trace id, side by side.
    def logged() -> list[dict[str, Any]]:
        return [
            line
            for line in _log_lines(stack.root / "contacts.log")
            if line.get("request_id") == "trace-req-1" and line.get("message") == "request"
        ]

    (line,) = _wait_for(logged, "the contacts access log line")
    assert line["trace_id"] == trace_id
    gateway_lines = [
        line
        for line in _log_lines(stack.root / "gateway.log")
        if line.get("request_id") == "trace-req-1"
    ]
    assert gateway_lines and all(line["trace_id"] == trace_id for line in gateway_lines)


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-" + "0" * 32 + "-" + "1" * 16 + "-01",  # the invalid all-zero trace id
        "00-nothex-at-all-01",
        "ff-" + "a" * 32 + "-" + "b" * 16 + "-01",  # version ff is forbidden
        "00-" + "a" * 32 + "-" + "b" * 16 + "-01" + "x" * 4000,  # padded
    ],
)
async def test_a_malformed_traceparent_starts_a_new_trace(
    stack: FlowStack, collector: Collector, traceparent: str
) -> None:
    rid = f"trace-bad-{secrets.token_hex(4)}"
    answer = await _create(stack, {"traceparent": traceparent, "X-Request-Id": rid}, rid)
    assert answer.status_code == 200
    data_of(answer.json())

    def contacts_line() -> list[dict[str, Any]]:
        return [
            line
            for line in _log_lines(stack.root / "contacts.log")
            if line.get("request_id") == rid and line.get("message") == "request"
        ]

    (line,) = _wait_for(contacts_line, "the contacts access log line")
    new_trace = line["trace_id"]
    assert len(new_trace) == 32 and int(new_trace, 16) != 0
    assert new_trace not in traceparent
    spans = _wait_for(
        lambda: (s := collector.of_trace(new_trace)) and len({x.service for x in s}) == 2 and s,
        "the new trace at the collector",
    )
    (gateway,) = [s for s in spans if s.service == "dief-gateway" and s.kind == SERVER]
    assert gateway.parent_id == ""  # a root: nothing of what was sent was taken


async def test_a_capability_secret_in_a_path_never_reaches_a_span(
    stack: FlowStack, collector: Collector
) -> None:
    secret = "dcf_" + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")
    trace_id = secrets.token_hex(16)
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.get(
            f"{stack.urls['gateway']}/meetings/calendar/{secret}.ics",
            headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        )
    assert answer.status_code in (401, 403, 404)

    def through() -> list[Span] | None:
        spans = collector.of_trace(trace_id)
        return spans if any(s.service == "dief-meetings" for s in spans) else None

    spans = _wait_for(through, "the feed request's spans, the gateway's and the subgraph's")
    assert all(secret[4:] not in repr(s) for s in collector.all())
    assert any("dcf_[redacted]" in s.name for s in spans)
    (proxied,) = [s for s in spans if s.service == "dief-gateway" and s.kind == CLIENT]
    (meetings,) = [s for s in spans if s.service == "dief-meetings" and s.kind == SERVER]
    assert meetings.parent_id == proxied.span_id  # the file route sent its traceparent too
    (gateway,) = [s for s in spans if s.service == "dief-gateway" and s.kind == SERVER]
    for server in (gateway, meetings):  # the answer's status, a refusal's too
        assert server.attributes["http.response.status_code"] == answer.status_code


async def test_a_console_page_and_the_gateway_calls_it_makes_are_one_trace(
    stack: FlowStack, collector: Collector
) -> None:
    console = start_console(stack)
    try:
        base = f"http://{LOOPBACK}:{console.port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            form = (await http.get("/signin")).text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert csrf, form[:500]
            signed_in = await http.post(
                "/signin",
                data={
                    "csrf_token": csrf.group(1),
                    "subject": "tracer",
                    "role": "delegate",
                    "state": "FRA",
                    "next": "/",
                },
            )
            assert signed_in.status_code == 303, signed_in.text[:500]
            trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
            page = await http.get(
                "/directory", headers={"traceparent": f"00-{trace_id}-{caller_span}-01"}
            )
            assert page.status_code == 200
    finally:
        console.stop()

    def through() -> list[Span] | None:
        spans = collector.of_trace(trace_id)
        return spans if {"dief-console", "dief-gateway"} <= {s.service for s in spans} else None

    spans = _wait_for(through, "the console's and the gateway's spans")
    (page_span,) = [s for s in spans if s.service == "dief-console" and s.kind == SERVER]
    assert page_span.parent_id == caller_span and page_span.name == "GET /directory"
    gateway = [s for s in spans if s.service == "dief-gateway" and s.kind == SERVER]
    assert gateway and all(s.parent_id == page_span.span_id for s in gateway)


def test_untraced_nothing_is_added() -> None:
    """Without a collector (the default): no span, no traceparent anywhere."""
    assert tracing.configure("contacts", Settings(env="dev")) is False
    assert not tracing.enabled()
    headers: dict[str, str] = {}
    with tracing.client_span("POST contacts", headers):
        pass
    assert headers == {}
    assert tracing.current_traceparent() is None and tracing.current_trace_id() == "-"
    recorded = outbox_entry(event("contacts", "authority", "changed", subject="a-1"))
    assert "traceparent" not in recorded
