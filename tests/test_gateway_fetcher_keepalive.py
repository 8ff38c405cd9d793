"""The gateway's pooled subgraph connections (gateway/fetcher.py) against a real HTTP/1.1
server on a free loopback port that, like a subgraph closing an idle kept-alive
connection at the moment it is reused, drops a connection under its second request.

A query is sent once more on a new connection and answered; a mutation is not re-sent;
a connection idle longer than ``idle_s`` is not reused at all.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from gateway.fetcher import HttpFetcher, SubgraphUnreachable


@dataclass
class ClosingServer:
    """Answers the first request of each connection (keep-alive) and closes the
    connection under any later one, without answering it."""

    url: str = ""
    connections: int = 0
    received: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                match = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
                body = await reader.readexactly(int(match.group(1)) if match else 0)
                self.received.append(body)
                if answered:
                    break  # closed under the request, as an idle close crossing it
                answered += 1
                answer = b'{"data":{"n":%d}}' % len(self.received)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"connection: keep-alive\r\ncontent-length: %d\r\n\r\n" % len(answer) + answer
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[ClosingServer]:
    state = ClosingServer()
    listening = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}/graphql"
    async with listening:
        yield state


async def test_a_query_on_a_connection_closed_under_it_is_sent_again_and_answered(
    server: ClosingServer,
) -> None:
    fetcher = HttpFetcher({"sg": server.url}, timeout_s=5.0)
    try:
        assert await fetcher("sg", "{ n }", {}) == {"data": {"n": 1}}
        # the pooled connection is reused, and dropped under the request: sent again
        assert await fetcher("sg", "{ n }", {}) == {"data": {"n": 3}}
    finally:
        await fetcher.aclose()
    assert len(server.received) == 3 and server.connections == 2


async def test_a_mutation_on_a_connection_closed_under_it_is_not_sent_again(
    server: ClosingServer,
) -> None:
    fetcher = HttpFetcher({"sg": server.url}, timeout_s=5.0)
    try:
        await fetcher("sg", "{ n }", {})
        with pytest.raises(SubgraphUnreachable, match="sg"):
            await fetcher("sg", 'mutation { write(x: "once") }', {})
    finally:
        await fetcher.aclose()
    assert [b"once" in body for body in server.received] == [False, True]
    assert server.connections == 1


async def test_a_connection_idle_longer_than_its_bound_is_not_reused(
    server: ClosingServer,
) -> None:
    fetcher = HttpFetcher({"sg": server.url}, timeout_s=5.0, idle_s=0.2)
    try:
        assert await fetcher("sg", "{ n }", {}) == {"data": {"n": 1}}
        await asyncio.sleep(0.6)
        assert await fetcher("sg", "{ n }", {}) == {"data": {"n": 2}}
    finally:
        await fetcher.aclose()
    assert len(server.received) == 2 and server.connections == 2


async def test_an_answer_cut_short_is_the_subgraph_unreachable() -> None:
    """A subgraph killed while it sends its answer: the body ends before its length."""

    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        match = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
        await reader.readexactly(int(match.group(1)) if match else 0)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            b'content-length: 400\r\n\r\n{"data":{"n":'
        )
        await writer.drain()
        writer.close()

    listening = await asyncio.start_server(cut, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        fetcher = HttpFetcher({"sg": f"http://127.0.0.1:{port}/graphql"}, timeout_s=5.0)
        try:
            with pytest.raises(SubgraphUnreachable, match="sg: ClientPayloadError"):
                await fetcher("sg", "{ n }", {})
        finally:
            await fetcher.aclose()
