"""The default subgraph fetch: HTTP POST with one shared, pooled httpx client.

    fetcher = HttpFetcher(subgraphs, timeout_s=5.0, headers_factory=lambda name: {...})
    response = await fetcher("contacts", query, variables)   # the subgraph's JSON
    await fetcher.aclose()

`headers_factory(subgraph_name)` (sync or async) gives the headers of each request, e.g. the
principal token and request id. A subgraph that answers without a GraphQL JSON body raises
`SubgraphError`; timeouts and connection failures raise httpx's exceptions. The executor turns
both into errors of the response.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

HeadersFactory = Callable[[str], Mapping[str, str] | Awaitable[Mapping[str, str]]]


class SubgraphError(Exception):
    """A subgraph answered, but not with a GraphQL response."""


class HttpFetcher:
    def __init__(
        self,
        subgraphs: dict[str, str],
        timeout_s: float | dict[str, float] = 10.0,
        headers_factory: HeadersFactory | None = None,
        client: httpx.AsyncClient | None = None,
        max_connections: int = 100,
    ) -> None:
        self.subgraphs = dict(subgraphs)
        self.timeouts = (
            timeout_s if isinstance(timeout_s, dict) else dict.fromkeys(subgraphs, timeout_s)
        )
        self.headers_factory = headers_factory
        self.client = client or httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            )
        )

    async def __call__(self, subgraph: str, query: str, variables: dict) -> dict[str, Any]:
        url = self.subgraphs[subgraph]
        headers: Mapping[str, str] = {}
        if self.headers_factory is not None:
            made = self.headers_factory(subgraph)
            headers = await made if inspect.isawaitable(made) else made  # type: ignore[assignment]
        response = await self.client.post(
            url,
            json={"query": query, "variables": variables},
            headers=dict(headers),
            timeout=self.timeouts.get(subgraph, 10.0),
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
            raise SubgraphError(f"{subgraph} answered HTTP {response.status_code} without GraphQL")
        return body

    async def aclose(self) -> None:
        await self.client.aclose()
