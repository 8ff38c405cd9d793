"""Fairness over real HTTP: the cost limit holds for a whole request (batch included), and
one caller's rate or concurrency never takes another caller's share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from graphql import parse

from gateway.fairness import CallerLimiter, TooBusy
from gateway.limits import check_operation, select_operation
from services.common.keys import SigningKey
from services.common.settings import Settings
from services.dev.servers import ServerProcess
from tests.gateway_stack import Gateway, contacts_running, gateway_stack, stack_settings

NOTE = "{ publicNote }"
MAX_COST = 5


@pytest.fixture(scope="module")
def settings(
    mongodb: ServerProcess,
    nats: ServerProcess,
    keys_dir: Path,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    home = tmp_path_factory.mktemp("gateway-fairness")
    return stack_settings(mongodb.port, nats.port, keys_dir, home, "test_gateway_fairness")


@pytest.fixture(scope="module")
async def gw(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    async with (
        contacts_running(settings) as contacts,
        gateway_stack(
            settings,
            contacts,
            tmp_path_factory.mktemp("fair-gateway"),
            gateway_max_cost=MAX_COST,
            gateway_max_batch=20,
            gateway_rate_per_caller=0.01,  # a fresh token every 100 s: the burst is all
            gateway_burst_per_caller=3,
        ) as gateway,
    ):
        yield gateway


def caller(gw: Gateway, name: str) -> str:
    return gw.token(sub=name, state="FRA", roles=["delegate"])


def cost_of(gw: Gateway, query: str) -> int:
    document = parse(query)
    pipeline = gw.parts.pipeline
    return check_operation(
        pipeline.schema, document, select_operation(document, None), {}, pipeline.limits
    )


async def test_a_batch_shares_one_cost_budget(gw: Gateway) -> None:
    each = cost_of(gw, NOTE)
    assert 0 < each <= MAX_COST, "each operation alone is under the limit"
    fits = MAX_COST // each
    batch = [{"query": NOTE} for _ in range(fits + 2)]
    answer = await gw.post(batch, caller(gw, "batcher"))
    assert answer.status_code == 200
    results = answer.json()
    assert all("errors" not in r for r in results[:fits]), results
    for refused in results[fits:]:
        extensions = refused["errors"][0]["extensions"]
        assert (extensions["code"], extensions["limit"]) == ("VALIDATION", "requestCost")
        assert "data" not in refused or refused["data"] is None


async def test_one_callers_rate_leaves_the_others_served(gw: Gateway) -> None:
    greedy = caller(gw, "greedy")
    answers = [await gw.post({"query": NOTE}, greedy) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    refused = answers[3]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    other = await gw.post({"query": NOTE}, caller(gw, "patient"))
    assert other.status_code == 200 and other.json()["data"]["publicNote"]


def test_a_caller_has_so_many_requests_in_flight_and_no_more() -> None:
    now = [0.0]
    limiter = CallerLimiter(max_concurrent=2, rate=1000, burst=1000, clock=lambda: now[0])
    with limiter.slot("sub:a"), limiter.slot("sub:a"):
        with pytest.raises(TooBusy), limiter.slot("sub:a"):
            pass
        with limiter.slot("sub:b"):  # another caller is not held up
            pass
    with limiter.slot("sub:a"):  # freed once they finished
        pass


def test_tokens_come_back_with_time() -> None:
    now = [0.0]
    limiter = CallerLimiter(max_concurrent=5, rate=1.0, burst=1, clock=lambda: now[0])
    with limiter.slot("k"):
        pass
    with pytest.raises(TooBusy) as busy, limiter.slot("k"):
        pass
    assert busy.value.retry_after >= 1
    now[0] += 1.0
    with limiter.slot("k"):
        pass


def test_settings_reach_the_limiter(gw: Gateway) -> None:
    limiter: Any = gw.parts.fairness
    assert (limiter.burst, limiter.rate) == (3, 0.01)
