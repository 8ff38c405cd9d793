"""Identical subgraph fetches in flight at the same time are sent once.

    fetch = InflightMerge(fetch)        # any fetch(subgraph, query, variables)

Two fetches are the same when they go to the same subgraph with the same document and the
same variables **for the same caller**: the principal of the request (subject, State,
roles, participation, scopes, as the subgraph will see them in its principal token) is part
of the key, so a subgraph's answer for one caller never reaches another. Never merged:

- mutations, and every later fetch of a request that sent one (they must see its writes);
- a fetch started before a mutation of the same caller finished: when it finishes, that
  caller's fetches in flight are no longer joined, so the caller reads its own writes;
- variables that are not plain JSON (files being uploaded).

The first caller's fetch is the one sent (with its request id); the others wait for it and
each gets its own copy of the answer (callers change what they get back while shaping
it). If the first caller goes away before the answer comes, the others send their own.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from gateway.principal_tokens import Call, current_call

Fetch = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def is_mutation(document: str) -> bool:
    return document.lstrip().startswith("mutation")


class _Flight:
    __slots__ = ("followers", "future")

    def __init__(self, future: asyncio.Future[bytes]) -> None:
        self.future = future
        self.followers = 0


class InflightMerge:
    def __init__(self, fetch: Fetch, on_merged: Callable[[str], None] | None = None) -> None:
        self.fetch = fetch
        self.on_merged = on_merged  # called with the subgraph's name for each merged fetch
        self._flights: dict[tuple[Any, ...], _Flight] = {}
        self._wrote: weakref.WeakSet[Call] = weakref.WeakSet()
        self.sent = 0  # fetches sent to a subgraph through here
        self.merged = 0  # fetches answered by another caller's identical fetch

    def _key(self, call: Call | None, subgraph: str, query: str, variables: dict) -> tuple | None:
        if call is not None and call in self._wrote:
            return None
        try:
            values = orjson.dumps(variables) if variables else b""
        except TypeError:  # not plain JSON (an upload): sent as it is
            return None
        return (call.principal if call is not None else None, subgraph, query, values)

    async def __call__(self, subgraph: str, query: str, variables: dict) -> dict[str, Any]:
        call = current_call.get()
        if is_mutation(query):
            return await self._mutate(call, subgraph, query, variables)
        key = self._key(call, subgraph, query, variables)
        if key is None:
            self.sent += 1
            return await self.fetch(subgraph, query, variables)
        flight = self._flights.get(key)
        if flight is not None:
            return await self._follow(flight, subgraph, query, variables)
        flight = _Flight(asyncio.get_running_loop().create_future())
        self._flights[key] = flight
        self.sent += 1
        try:
            result = await self.fetch(subgraph, query, variables)
        except asyncio.CancelledError:
            self._land(key, flight)
            flight.future.cancel()
            raise
        except BaseException as exc:
            self._land(key, flight)
            if flight.followers:
                flight.future.set_exception(exc)
                flight.future.exception()  # the followers raise it; nothing left unread
            raise
        self._land(key, flight)
        if flight.followers:
            flight.future.set_result(orjson.dumps(result))
        return result

    def _land(self, key: tuple, flight: _Flight) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]

    async def _follow(
        self, flight: _Flight, subgraph: str, query: str, variables: dict
    ) -> dict[str, Any]:
        flight.followers += 1
        try:
            raw = await asyncio.shield(flight.future)
        except asyncio.CancelledError:
            if not flight.future.cancelled():
                raise  # this caller went away
            self.sent += 1  # the first caller went away: send our own
            return await self.fetch(subgraph, query, variables)
        self.merged += 1
        if self.on_merged is not None:
            self.on_merged(subgraph)
        return orjson.loads(raw)

    async def _mutate(
        self, call: Call | None, subgraph: str, query: str, variables: dict
    ) -> dict[str, Any]:
        if call is not None:
            self._wrote.add(call)
        self.sent += 1
        try:
            return await self.fetch(subgraph, query, variables)
        finally:
            # this caller's reads already in flight may predate the write: not joined again
            principal = call.principal if call is not None else None
            for key in [k for k in self._flights if k[0] == principal]:
                del self._flights[key]
