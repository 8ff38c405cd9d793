"""The per-subgraph circuit breaker's rules, with a hand-driven clock (no servers)."""

from __future__ import annotations

import pytest

from gateway.breaker import CLOSED, HALF_OPEN, OPEN, Breaker, BreakerFetch, Breakers
from gateway.fetcher import SubgraphOpen, SubgraphTimeout, SubgraphUnreachable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Subgraph:
    """A fetch that answers, fails or refuses as the test says, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.failure: Exception | None = None
        self.answer: dict = {"data": {"a": 1}}

    async def __call__(self, subgraph: str, query: str, variables: dict) -> dict:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return self.answer


def test_opens_after_the_failures_in_a_row_then_lets_one_probe_through() -> None:
    breaker = Breaker(failures=3, cooldown_s=10.0)
    for t in (0.0, 1.0):
        assert breaker.allow(t)
        breaker.failed(t)
    breaker.succeeded()  # a success in between resets the count
    for t in (2.0, 3.0, 4.0):
        assert breaker.allow(t)
        breaker.failed(t)
    assert breaker.state == OPEN
    assert not breaker.allow(13.9)
    assert breaker.allow(14.0)  # the probe
    assert breaker.state == HALF_OPEN
    assert not breaker.allow(14.1)  # only one probe at a time
    breaker.failed(15.0)  # a failed probe: another full cool-down
    assert breaker.state == OPEN
    assert not breaker.allow(24.9)
    assert breaker.allow(25.0)
    breaker.succeeded()
    assert breaker.state == CLOSED
    assert breaker.allow(25.1) and breaker.allow(25.1)


async def test_an_open_breaker_answers_at_once_without_asking_the_subgraph() -> None:
    clock, subgraph = Clock(), Subgraph()
    breakers = Breakers(["meetings", "contacts"], failures=2, cooldown_s=5.0)
    fetch = BreakerFetch(subgraph, breakers, clock)
    subgraph.failure = SubgraphTimeout("meetings did not answer within 5 s")
    for _ in range(2):
        with pytest.raises(SubgraphTimeout):
            await fetch("meetings", "{ a }", {})
    assert breakers.unhealthy() == ["meetings"]
    with pytest.raises(SubgraphOpen, match="meetings"):
        await fetch("meetings", "{ a }", {})
    assert subgraph.calls == 2
    # the subgraph recovers: after the cool-down one probe reaches it and closes the breaker
    subgraph.failure = None
    clock.now += 5.0
    assert await fetch("meetings", "{ a }", {}) == {"data": {"a": 1}}
    assert subgraph.calls == 3
    assert breakers.unhealthy() == []
    assert breakers.states() == {"contacts": "closed", "meetings": "closed"}


async def test_graphql_errors_and_cancellations_never_open_a_breaker() -> None:
    clock, subgraph = Clock(), Subgraph()
    breakers = Breakers(["cases"], failures=1, cooldown_s=5.0)
    fetch = BreakerFetch(subgraph, breakers, clock)
    subgraph.answer = {"data": None, "errors": [{"message": "No such case."}]}
    await fetch("cases", "{ a }", {})
    subgraph.failure = ValueError("a bug of the caller's, not the subgraph's")
    with pytest.raises(ValueError):
        await fetch("cases", "{ a }", {})
    assert breakers.unhealthy() == []
    subgraph.failure = SubgraphUnreachable("cases: ClientConnectorError")
    with pytest.raises(SubgraphUnreachable):
        await fetch("cases", "{ a }", {})
    assert breakers.unhealthy() == ["cases"]
