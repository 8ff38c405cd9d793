"""The default HTTP fetch against subgraphs served on loopback ports: headers, timeouts, errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from strawberry.asgi import GraphQL

from gateway.compose import compose
from gateway.executor import Executor
from gateway.fetcher import HttpFetcher, SubgraphError
from gateway.supergraph import Supergraph
from tests.federation_subgraphs import accounts, reviews, sdl_of

SEEN_HEADERS: list[dict[str, str]] = []
SEEN_CLIENTS: list[tuple[str, int]] = []


async def _slow(request: Request) -> Response:
    await asyncio.sleep(1)
    return PlainTextResponse("late")


async def _broken(request: Request) -> Response:
    return PlainTextResponse("bad gateway", status_code=502)


class _RecordHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            SEEN_HEADERS.append({k.decode(): v.decode() for k, v in scope["headers"]})
            SEEN_CLIENTS.append(tuple(scope["client"]))
        await self.app(scope, receive, send)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
async def base_url() -> AsyncIterator[str]:
    app = _RecordHeaders(
        Starlette(
            routes=[
                Route("/slow", _slow, methods=["POST"]),
                Route("/broken", _broken, methods=["POST"]),
                Mount("/accounts", GraphQL(accounts)),
                Mount("/reviews", GraphQL(reviews)),
            ]
        )
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
def supergraph(base_url: str) -> Supergraph:
    return Supergraph.parse(
        compose(
            {
                "accounts": (f"{base_url}/accounts/", sdl_of(accounts)),
                "reviews": (f"{base_url}/reviews/", sdl_of(reviews)),
            }
        )
    )


async def test_fetcher_posts_graphql_with_the_headers_of_each_subgraph(
    supergraph: Supergraph,
) -> None:
    async def headers(subgraph: str) -> dict[str, str]:
        return {"x-principal": f"for-{subgraph}"}

    fetcher = HttpFetcher(supergraph.subgraphs, timeout_s=5.0, headers_factory=headers)
    executor = Executor(supergraph, fetcher)
    SEEN_HEADERS.clear()
    try:
        result = await executor.execute("{ me { name reviews { body } } }")
    finally:
        await fetcher.aclose()
    assert result == {
        "data": {
            "me": {"name": "Ada Lovelace", "reviews": [{"body": "Solid."}, {"body": "Sharp."}]}
        }
    }
    assert [h["x-principal"] for h in SEEN_HEADERS] == ["for-accounts", "for-reviews"]
    assert all(h["content-type"] == "application/json" for h in SEEN_HEADERS)


async def test_slow_subgraph_times_out_with_a_clear_error(
    base_url: str, supergraph: Supergraph
) -> None:
    urls = {**supergraph.subgraphs, "reviews": f"{base_url}/slow"}
    fetcher = HttpFetcher(urls, timeout_s={"accounts": 5.0, "reviews": 0.2})
    executor = Executor(supergraph, fetcher)
    try:
        result = await executor.execute("{ me { name } reviews { body } }")
    finally:
        await fetcher.aclose()
    assert result == {
        "data": None,
        "errors": [
            {
                "message": "The reviews service did not answer in time; retry later.",
                "extensions": {"code": "SUBGRAPH_UNAVAILABLE", "subgraph": "reviews"},
                "path": ["reviews"],
            }
        ],
    }


async def test_answer_that_is_not_graphql_is_a_subgraph_error(base_url: str) -> None:
    fetcher = HttpFetcher({"broken": f"{base_url}/broken"}, timeout_s=5.0)
    try:
        with pytest.raises(SubgraphError, match="HTTP 502"):
            await fetcher("broken", "{ a }", {})
    finally:
        await fetcher.aclose()


async def test_calls_to_a_subgraph_reuse_one_kept_alive_connection(supergraph: Supergraph) -> None:
    fetcher = HttpFetcher(supergraph.subgraphs, timeout_s=5.0)
    SEEN_CLIENTS.clear()
    try:
        for _ in range(3):
            answer = await fetcher("accounts", "{ me { name } }", {})
            assert answer == {"data": {"me": {"name": "Ada Lovelace"}}}
    finally:
        await fetcher.aclose()
    assert len(SEEN_CLIENTS) == 3
    assert len(set(SEEN_CLIENTS)) == 1  # one client port: the same connection each time


async def test_unreachable_subgraph_is_a_clear_error(supergraph: Supergraph) -> None:
    urls = {**supergraph.subgraphs, "reviews": f"http://127.0.0.1:{_free_port()}/graphql"}
    fetcher = HttpFetcher(urls, timeout_s=5.0)
    executor = Executor(supergraph, fetcher)
    try:
        result = await executor.execute("{ me { name } reviews { body } }")
    finally:
        await fetcher.aclose()
    assert result == {
        "data": None,
        "errors": [
            {
                "message": "The reviews service could not be reached; retry later.",
                "extensions": {"code": "SUBGRAPH_UNAVAILABLE", "subgraph": "reviews"},
                "path": ["reviews"],
            }
        ],
    }
