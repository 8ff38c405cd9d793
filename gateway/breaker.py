"""A circuit breaker per subgraph: a subgraph that keeps failing is answered for at once.

    breakers = Breakers(["contacts", "meetings"], failures=5, cooldown_s=10.0)
    fetch = BreakerFetch(http_fetcher, breakers)     # a `Fetch` like any other

A breaker is closed while its subgraph answers. After `failures` failures in a row (the
subgraph could not be reached, timed out or did not answer with GraphQL) it opens: for
`cooldown_s` every request fails at once with `SubgraphOpen`, without waiting on the
subgraph. Then it lets one request through as a probe (half-open): its success closes the
breaker, its failure opens it for another cool-down; requests that arrive while the probe
runs fail at once. A GraphQL answer with errors is an answer: it never opens a breaker.

`Breakers.unhealthy()` names the subgraphs whose breaker is not closed (for `/readyz`).
The rules are pure and take the clock as an argument, so they are tested without servers.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gateway.fetcher import SubgraphOpen, SubgraphUnavailable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass
class Breaker:
    failures: int = 5
    cooldown_s: float = 10.0
    state: str = CLOSED
    failed_in_row: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def allow(self, now: float) -> bool:
        """May a request go to the subgraph now? (A half-open breaker lets one through.)"""
        if self.state == CLOSED:
            return True
        if self.state == OPEN and now - self.opened_at >= self.cooldown_s:
            self.state = HALF_OPEN
            self.probing = False
        if self.state == HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def succeeded(self) -> None:
        self.state, self.failed_in_row, self.probing = CLOSED, 0, False

    def failed(self, now: float) -> None:
        self.failed_in_row += 1
        if self.state == HALF_OPEN or self.failed_in_row >= self.failures:
            self.state, self.opened_at, self.probing = OPEN, now, False

    def retry_after(self, now: float) -> float:
        return max(0.0, self.cooldown_s - (now - self.opened_at))


class Breakers:
    def __init__(self, names: Iterable[str], failures: int = 5, cooldown_s: float = 10.0) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self._by_name = {name: Breaker(failures, cooldown_s) for name in names}

    def __getitem__(self, name: str) -> Breaker:
        breaker = self._by_name.get(name)
        if breaker is None:
            breaker = self._by_name[name] = Breaker(self.failures, self.cooldown_s)
        return breaker

    def states(self) -> dict[str, str]:
        return {name: b.state for name, b in sorted(self._by_name.items())}

    def unhealthy(self) -> list[str]:
        return [name for name, state in self.states().items() if state != CLOSED]


Fetch = Callable[[str, str, dict], Awaitable[dict]]


class BreakerFetch:
    """Wraps a fetch with the subgraphs' breakers."""

    def __init__(
        self, fetch: Fetch, breakers: Breakers, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.fetch = fetch
        self.breakers = breakers
        self.clock = clock

    async def __call__(self, subgraph: str, query: str, variables: dict) -> dict[str, Any]:
        breaker = self.breakers[subgraph]
        if not breaker.allow(self.clock()):
            raise SubgraphOpen(
                f"{subgraph} failed {breaker.failures} times in a row; retry in "
                f"{breaker.retry_after(self.clock()):.0f} s"
            )
        try:
            result = await self.fetch(subgraph, query, variables)
        except (SubgraphUnavailable, ConnectionError, TimeoutError):
            breaker.failed(self.clock())
            raise
        except BaseException:
            # not the subgraph's fault (e.g. the request was cancelled): no verdict
            breaker.probing = False
            raise
        breaker.succeeded()
        return result
