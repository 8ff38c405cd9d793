"""The subgraphs' non-GraphQL endpoints (files, feeds, uploads), served by the gateway under
the same paths and streamed both ways to the owning subgraph.

The routes are the ones each subgraph publishes (``services/<name>/routes.py``, see
``services.common.routes``). A request goes through the same caller check as GraphQL: the
caller's JWT verified (a bad one is ``401``), participation from the registry, and the
subgraph is called with a principal token the gateway signs, never the caller's JWT. A
capability route (a URL that is its own credential, e.g. a personal calendar feed) is
called without a principal. A request body is refused with ``413`` past the route's limit
(the service's own setting) before the subgraph sees more of it; neither the request nor the
answer is held whole in memory. A subgraph that does not answer within the subgraph timeout
is ``504``, one that cannot be reached ``502``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from services.common import tracing
from services.common.errors import Unauthenticated
from services.common.logs import current_request_id
from services.common.routes import HttpRoute, routes_of

if TYPE_CHECKING:
    from gateway.app import Gateway

log = logging.getLogger("dief.gateway.files")

CHUNK = 64 * 1024
# What a subgraph's answer keeps on its way out; hop-by-hop and server headers are dropped.
ANSWER_HEADERS = (
    "content-type",
    "content-length",
    "content-disposition",
    "content-language",
    "cache-control",
    "x-content-type-options",
    "etag",
    "last-modified",
)
REQUEST_HEADERS = ("content-type", "content-length", "accept", "accept-language")


def refusal(status: int, message: str, code: str, **extra: str) -> JSONResponse:
    """The same shape as the services' own refusals on these routes."""
    return JSONResponse({"error": message, "code": code, **extra}, status_code=status)


def too_large(limit: int) -> JSONResponse:
    if limit == 0:
        return refusal(413, "This endpoint takes no request body.", "VALIDATION", field="body")
    return refusal(
        413, f"The file is larger than the {limit} bytes allowed.", "VALIDATION", field="file"
    )


def base_url(graphql_url: str) -> str:
    return graphql_url.removesuffix("/").removesuffix("/graphql")


class FileProxy:
    """The published routes of every subgraph of the supergraph, as gateway routes."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.timeout = gateway.settings.gateway_subgraph_timeout_seconds
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def published(self) -> list[tuple[str, HttpRoute]]:
        return [
            (name, route) for name in self.gateway.supergraph.subgraphs for route in routes_of(name)
        ]

    def routes(self) -> list[Route]:
        return [
            Route(route.path, self._endpoint(name, route), methods=list(route.methods))
            for name, route in self.published()
        ]

    def _endpoint(self, subgraph: str, route: HttpRoute) -> Any:
        limit = route.max_body_bytes(self.gateway.settings)

        async def endpoint(request: Request) -> Response:
            return await self.forward(request, subgraph, route, limit)

        endpoint.__name__ = f"{subgraph}_{route.handler}"
        return endpoint

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=100, keepalive_timeout=self.gateway.settings.gateway_subgraph_idle_seconds
                ),
                skip_auto_headers=("User-Agent",),
                auto_decompress=False,
            )
            self._loop = loop
        return self._session

    async def forward(
        self, request: Request, subgraph: str, route: HttpRoute, limit: int
    ) -> Response:
        declared = request.headers.get("content-length")
        if declared and (not declared.isdigit() or int(declared) > limit):
            return too_large(limit)
        headers = {k: v for k in REQUEST_HEADERS if (v := request.headers.get(k)) is not None}
        request_id = current_request_id()
        headers["x-request-id"] = request_id
        if not route.capability:
            try:
                principal = await self.gateway.caller(request)
            except Unauthenticated as exc:
                return JSONResponse(
                    {"error": exc.message, "code": "UNAUTHENTICATED"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if principal is not None:
                token = self.gateway.signer.sign(principal, request_id, subgraph)
                headers["authorization"] = f"Bearer {token}"
        overflow = False

        async def body() -> AsyncIterator[bytes]:
            nonlocal overflow
            seen = 0
            async for chunk in request.stream():
                seen += len(chunk)
                if seen > limit:
                    overflow = True
                    raise ValueError("request body over the route's limit")
                if chunk:
                    yield chunk

        sends_body = request.method in ("POST", "PUT", "PATCH")
        if not sends_body:
            headers.pop("content-type", None)
            headers.pop("content-length", None)
        url = base_url(self.gateway.supergraph.subgraphs[subgraph]) + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout, sock_read=self.timeout
        )
        try:
            span = tracing.client_span(
                f"{request.method} {subgraph}", headers, {"dief.subgraph": subgraph}
            )
            with span:  # traced: the subgraph's span continues this one
                answer = await self._session_here().request(
                    request.method,
                    url,
                    data=body() if sends_body else None,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                )
        except Exception as exc:
            if overflow:
                return too_large(limit)
            if isinstance(exc, TimeoutError):
                return refusal(
                    504, f"{subgraph} did not answer within {self.timeout:g} s.", "UNAVAILABLE"
                )
            if isinstance(exc, aiohttp.ClientError):
                log.warning("file route: %s unreachable: %s", subgraph, exc)
                return refusal(502, f"{subgraph} cannot be reached.", "UNAVAILABLE")
            raise
        if overflow:  # the subgraph answered before the whole body was read
            answer.release()
            return too_large(limit)
        out = {k: v for k in ANSWER_HEADERS if (v := answer.headers.get(k)) is not None}
        return StreamingResponse(
            _chunks(answer),
            status_code=answer.status,
            headers=out,
            background=BackgroundTask(answer.release),
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


async def _chunks(answer: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    try:
        async for chunk in answer.content.iter_chunked(CHUNK):
            yield chunk
    finally:
        answer.release()
