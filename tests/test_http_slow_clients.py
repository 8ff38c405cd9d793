"""Slow clients cannot hold a server: real ``dief serve`` processes (contacts and the
gateway) with short read timeouts and a cap of six connections still sending their request,
attacked with raw sockets that send their headers or body a byte at a time. Each is closed
(408) long before it could finish; a fair upload that takes longer than the body timeout is
not; normal requests are served meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx
import pytest

from services.common.http_guard import BODY, HEADERS, extended, to_evict
from services.dev.servers import LOOPBACK, ServerProcess
from tests.serve_support import base_env, serve, subgraph_urls, url

CAP = 6
SLOW = 10
EVERY = 0.25  # seconds between two bytes of a slow client
TOO_MANY = b"Too many requests are being received"
LATE = b"The request was not received in time."
HEADER = (
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow-loris\r\n"
    + b"X-Padding: "
    + b"a" * 160
    + b"\r\n\r\n"
)  # ~50 s at one byte per EVERY


@pytest.fixture(scope="module")
def parts(
    tmp_path_factory: pytest.TempPathFactory, mongodb: ServerProcess, nats: ServerProcess
) -> Iterator[dict[str, ServerProcess]]:
    root = tmp_path_factory.mktemp("slow-clients")
    env = base_env(
        root / "home",
        mongodb.port,
        nats.port,
        DIEF_CONTACTS_DB="slow_clients_contacts",
        DIEF_HTTP_HEADER_TIMEOUT_SECONDS="5",
        DIEF_HTTP_BODY_TIMEOUT_SECONDS="2",
        DIEF_HTTP_BODY_MIN_BYTES_PER_SECOND="1000",
        DIEF_HTTP_MAX_HEADER_BYTES="4096",
        DIEF_HTTP_MAX_SLOW_CONNECTIONS=str(CAP),
    )
    started: dict[str, ServerProcess] = {}
    try:
        started["contacts"] = serve("contacts", root, env)
        gateway_env = {
            **env,
            "DIEF_GATEWAY_SUBGRAPH_URLS": subgraph_urls({"contacts": url(started["contacts"])}),
        }
        started["gateway"] = serve("gateway", root, gateway_env)
        yield started
    finally:
        for process in reversed(started.values()):
            process.stop()


async def _trickle(port: int, head: bytes, slow: bytes) -> tuple[bytes, int]:
    """Send ``head`` at once and ``slow`` a byte every EVERY seconds until the server closes;
    what it answered and how many slow bytes went out."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    answer = asyncio.ensure_future(reader.read())  # everything until the server closes
    sent = 0
    try:
        writer.write(head)
        for byte in slow:
            if answer.done():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            sent += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(answer), EVERY)
    except OSError:
        pass  # closed under us
    try:
        response = await asyncio.wait_for(answer, 60)
    except OSError:
        response = b""
    writer.close()
    return response, sent


async def test_slow_headers_are_closed_and_the_slowest_go_first_past_the_cap(
    parts: dict[str, ServerProcess],
) -> None:
    port = parts["contacts"].port
    slow: list[asyncio.Future[tuple[bytes, int]]] = []
    for _ in range(SLOW):  # one after the other: the server sees them in this order
        slow.append(asyncio.ensure_future(_trickle(port, b"", HEADER)))
        await asyncio.sleep(0.1)
    async with httpx.AsyncClient(base_url=url(parts["contacts"]), timeout=30) as http:
        # served while ten slow clients are at it
        assert (await http.get("/healthz")).status_code == 200
        answer = await http.post("/graphql", json={"query": "{ __typename }"})
        assert answer.status_code == 200
        assert answer.json() == {"data": {"__typename": "Query"}}
    results = await asyncio.gather(*slow)
    for response, sent in results:
        assert response.startswith(b"HTTP/1.1 408 "), response
        assert sent < len(HEADER)  # closed long before its headers were complete
    # past the cap of six, the four opened first were closed as soon as the others came
    assert [TOO_MANY in response for response, _ in results[: SLOW - CAP]] == [True] * (SLOW - CAP)
    assert sum(LATE in response for response, _ in results) >= 1  # the others ran out of time


async def test_a_slow_body_is_closed_a_fair_upload_is_not(parts: dict[str, ServerProcess]) -> None:
    port = parts["contacts"].port
    body = b'{"query": "{ __typename }"}' + b" " * 400
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    response, sent = await _trickle(port, head, body)  # ~100 s at one byte per EVERY
    # the 408, or nothing when a byte crossed the server's close: the reset that the kernel
    # then sends drops the answer before the client reads it; either way the body was cut
    assert response == b"" or response.startswith(b"HTTP/1.1 408 "), response
    assert response == b"" or LATE in response
    assert sent < len(body)
    # 24 kB in 2 kB pieces, longer in all than the body timeout (2 s) but at a fair rate
    fair = b'{"query": "{ __typename }"}' + b" " * (24 * 1024)
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    writer.write(head.replace(b"%d" % len(body), b"%d" % len(fair)))
    for start in range(0, len(fair), 2048):
        writer.write(fair[start : start + 2048])
        await writer.drain()
        await asyncio.sleep(EVERY)
    answer = await asyncio.wait_for(reader.readuntil(b'"Query"}}'), 60)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 "), answer


async def test_headers_past_the_limit_get_431(parts: dict[str, ServerProcess]) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, parts["contacts"].port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 8192)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 60)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer


async def test_the_gateway_closes_a_slow_client_and_serves_others(
    parts: dict[str, ServerProcess],
) -> None:
    slow = asyncio.ensure_future(_trickle(parts["gateway"].port, b"", HEADER))
    async with httpx.AsyncClient(base_url=url(parts["gateway"]), timeout=30) as http:
        assert (await http.get("/healthz")).status_code == 200
    response, sent = await slow
    assert response.startswith(b"HTTP/1.1 408 "), response
    assert sent < len(HEADER)


def test_what_is_closed_past_the_cap_and_how_a_body_earns_time() -> None:
    reading = [(BODY, "upload"), (HEADERS, "a"), (HEADERS, "b"), (BODY, "c"), (HEADERS, "d")]
    assert to_evict(reading, 5) == []
    assert to_evict(reading, 3) == ["a", "b"]  # those still in their headers first
    assert to_evict(reading, 1) == ["a", "b", "d", "upload"]
    assert extended(10.0, 2000, 1000.0) == 12.0
    assert extended(10.0, 1, 1000.0) == pytest.approx(10.001)
