"""The default subgraph fetch: HTTP POST over one pooled aiohttp session (keep-alive).

    fetcher = HttpFetcher(subgraphs, timeout_s=5.0, mutation_timeout_s=10.0,
                          headers_factory=lambda name: {...})
    response = await fetcher("contacts", query, variables)   # the subgraph's JSON
    await fetcher.aclose()

`timeout_s` (one number, or one per subgraph) bounds a query's fetch; `mutation_timeout_s`
(default: the same) a mutation's, which may be longer since it writes.
`headers_factory(subgraph_name)` (sync or async) gives the headers of each request, e.g. the
principal token and request id; when the gateway is traced each fetch is a client span and
its `traceparent` goes along (``services.common.tracing``).
A subgraph that answers without a GraphQL JSON body raises `SubgraphError`; one that does
not answer in time `SubgraphTimeout`; one that cannot be connected to (or drops the
connection) `SubgraphUnreachable`. The executor turns each into an error of the response
that names the subgraph.

The session is made on first use, in the running event loop (an aiohttp session belongs to
one loop). An ``httpx.AsyncClient`` may be given instead, e.g. one mounted on in-process ASGI
apps; it is used as it is and not closed here.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import httpx
import orjson

from gateway.uploads import UploadRef, uploads_in, without_uploads
from services.common import tracing

HeadersFactory = Callable[[str], Mapping[str, str] | Awaitable[Mapping[str, str]]]

JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


# A connection that broke under a request: closed or reset by the subgraph (a refused
# connection, ClientConnectorError, is one of them to aiohttp but is not retried).
BROKEN_CONNECTION = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
# An answer cut short: the subgraph went away while it was sending it (killed mid-body).
UNFINISHED_ANSWER = aiohttp.ClientPayloadError


class SubgraphUnavailable(Exception):
    """A subgraph gave no GraphQL answer; the message names it, never its address."""


class SubgraphError(SubgraphUnavailable):
    """A subgraph answered, but not with a GraphQL response."""


class SubgraphTimeout(SubgraphUnavailable, TimeoutError):
    """A subgraph did not answer within its timeout."""


class SubgraphUnreachable(SubgraphUnavailable, ConnectionError):
    """No connection to a subgraph, or the connection broke before it answered."""


class SubgraphOpen(SubgraphUnavailable):
    """The subgraph's circuit breaker is open: it failed too often to be asked now."""


class HttpFetcher:
    def __init__(
        self,
        subgraphs: dict[str, str],
        timeout_s: float | dict[str, float] = 10.0,
        headers_factory: HeadersFactory | None = None,
        client: httpx.AsyncClient | None = None,
        max_connections: int = 100,
        mutation_timeout_s: float | dict[str, float] | None = None,
        idle_s: float = 4.0,
    ) -> None:
        self.subgraphs = dict(subgraphs)
        self.timeouts = _per_subgraph(timeout_s, subgraphs)
        self.mutation_timeouts = (
            dict(self.timeouts)
            if mutation_timeout_s is None
            else _per_subgraph(mutation_timeout_s, subgraphs)
        )
        self.headers_factory = headers_factory
        self.client = client
        self.max_connections = max_connections
        self.idle_s = idle_s
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, limit_per_host=0, keepalive_timeout=self.idle_s
            )
            self._session = aiohttp.ClientSession(
                connector=connector, skip_auto_headers=("User-Agent",)
            )
            self._loop = loop
        return self._session

    async def __call__(self, subgraph: str, query: str, variables: dict) -> dict[str, Any]:
        url = self.subgraphs[subgraph]
        headers = dict(JSON_HEADERS)
        if self.headers_factory is not None:
            made = self.headers_factory(subgraph)
            headers.update(await made if inspect.isawaitable(made) else made)  # type: ignore[arg-type]
        # traced: a client span per fetch, its W3C traceparent in the request's headers
        with tracing.client_span(f"POST {subgraph}", headers, {"dief.subgraph": subgraph}):
            return await self._post(subgraph, url, query, variables, headers)

    async def _post(
        self, subgraph: str, url: str, query: str, variables: dict, headers: dict[str, str]
    ) -> dict[str, Any]:
        files = list(uploads_in(variables)) if variables else []
        if files:
            return await self._multipart(subgraph, url, query, variables, files, headers)
        payload = orjson.dumps({"query": query, "variables": variables})
        mutation = _is_mutation(query)
        timeout = (self.mutation_timeouts if mutation else self.timeouts).get(subgraph, 10.0)
        try:
            if self.client is not None:
                answer = await self.client.post(
                    url, content=payload, headers=headers, timeout=timeout
                )
                status, raw = answer.status_code, answer.content
            else:
                status, raw = await self._pooled_post(url, payload, headers, timeout, mutation)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise SubgraphTimeout(f"{subgraph} did not answer within {timeout:g} s") from exc
        except (aiohttp.ClientConnectionError, UNFINISHED_ANSWER, httpx.TransportError) as exc:
            raise SubgraphUnreachable(f"{subgraph}: {type(exc).__name__}") from exc
        return _graphql_body(subgraph, status, raw)

    async def _pooled_post(
        self, url: str, payload: bytes, headers: dict[str, str], timeout: float, mutation: bool
    ) -> tuple[int, bytes]:
        """POST over the pool. A query whose kept-alive connection the subgraph closed as it
        was reused (the server's idle close crossing the request) is sent once more on a new
        connection; a mutation never is (it may have been received)."""
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        for attempt in (1, 2):
            try:
                async with self._session_here().post(
                    url, data=payload, headers=headers, timeout=client_timeout
                ) as response:
                    return response.status, await response.read()
            except BROKEN_CONNECTION as exc:
                if mutation or attempt == 2 or isinstance(exc, aiohttp.ClientConnectorError):
                    raise
        raise AssertionError("unreachable")

    async def _multipart(
        self,
        subgraph: str,
        url: str,
        query: str,
        variables: dict,
        files: list[tuple[str, UploadRef]],
        headers: dict[str, str],
    ) -> dict[str, Any]:
        """A call whose variables hold files: the GraphQL multipart request specification,
        each file streamed from its spool (``gateway.uploads``)."""
        headers = {k: v for k, v in headers.items() if k != "content-type"}
        refs: list[UploadRef] = []
        mapping: dict[str, list[str]] = {}
        for path, ref in files:
            if ref not in refs:
                refs.append(ref)
            mapping.setdefault(str(refs.index(ref)), []).append(path)
        operations = orjson.dumps({"query": query, "variables": without_uploads(variables)})
        timeout = self.mutation_timeouts.get(subgraph, 10.0)  # files come with mutations
        for ref in refs:
            ref.file.seek(0)
        try:
            if self.client is not None:
                answer = await self.client.post(
                    url,
                    data={"operations": operations.decode(), "map": orjson.dumps(mapping).decode()},
                    files={
                        str(i): (ref.filename, ref.file, ref.content_type)
                        for i, ref in enumerate(refs)
                    },
                    headers=headers,
                    timeout=timeout,
                )
                status, raw = answer.status_code, answer.content
            else:
                form = aiohttp.FormData(quote_fields=False)
                form.add_field("operations", operations.decode())
                form.add_field("map", orjson.dumps(mapping).decode())
                for i, ref in enumerate(refs):
                    form.add_field(
                        str(i), ref.file, filename=ref.filename, content_type=ref.content_type
                    )
                async with self._session_here().post(
                    url, data=form, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
                ) as response:
                    status, raw = response.status, await response.read()
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise SubgraphTimeout(f"{subgraph} did not answer within {timeout:g} s") from exc
        except (aiohttp.ClientConnectionError, UNFINISHED_ANSWER, httpx.TransportError) as exc:
            raise SubgraphUnreachable(f"{subgraph}: {type(exc).__name__}") from exc
        return _graphql_body(subgraph, status, raw)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


def _per_subgraph(seconds: float | dict[str, float], names: Mapping[str, str]) -> dict[str, float]:
    given = seconds if isinstance(seconds, dict) else dict.fromkeys(names, seconds)
    return {name: float(s) for name, s in given.items()}


def _is_mutation(query: str) -> bool:
    return query.lstrip().startswith("mutation")


def _graphql_body(subgraph: str, status: int, raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
        raise SubgraphError(f"{subgraph} answered HTTP {status} without GraphQL")
    return body
