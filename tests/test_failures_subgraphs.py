"""A subgraph killed, hung or restarted under the gateway: the rest of the answer stands.

The whole suite runs as real processes (``tests.flows_support``); the gateway is set to
time a query's fetch out after 1.5 s and to open a subgraph's circuit breaker after 2
failures in a row, for 3 s. Each test kills, stops or restarts a real process and checks
what callers are told: the fields of the subgraph that is gone are null with a
``SUBGRAPH_UNAVAILABLE`` error at their paths naming it (never its address), everything
else is answered, nothing is ``INTERNAL``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.dev.servers import ServerProcess
from tests.flows_support import FlowStack, _launch, _serve, _wait_ready, start_stack

pytestmark = pytest.mark.slow

# The README's federated query: contacts' States with meetings' presentations, and meetings.
FEDERATED = """{
  states(first: 2, filter: {participant: true}) {
    edges { node { code name participant presentations(first: 3) { totalCount } } }
  }
  meetings(first: 2) { totalCount }
}"""


@pytest.fixture(scope="module")
def stack(mongodb: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowStack]:
    running = start_stack(
        tmp_path_factory.mktemp("failures"),
        mongodb.port,
        {
            "DIEF_GATEWAY_SUBGRAPH_TIMEOUT_SECONDS": "1.5",
            "DIEF_GATEWAY_BREAKER_FAILURES": "2",
            "DIEF_GATEWAY_BREAKER_COOLDOWN_SECONDS": "3",
        },
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def secretariat(stack: FlowStack) -> str:
    return stack.token("sec-1", roles=("secretariat",))


def _unavailable(result: dict[str, Any], subgraph: str) -> list[list]:
    """The paths of the errors, all of which must be SUBGRAPH_UNAVAILABLE for ``subgraph``."""
    for error in result["errors"]:
        assert error["extensions"].get("code") == "SUBGRAPH_UNAVAILABLE", result
        assert error["extensions"] == {"code": "SUBGRAPH_UNAVAILABLE", "subgraph": subgraph}
        assert "127.0.0.1" not in error["message"] and "http" not in error["message"]
    return [e["path"] for e in result["errors"]]


def _meetings_missing(result: dict[str, Any]) -> None:
    """Contacts' part answered in full; meetings' fields null, each with its error."""
    states = result["data"]["states"]["edges"]
    assert [e["node"]["code"] for e in states] == ["CHN", "DEU"]  # the sample's first two
    assert all(e["node"]["name"] and e["node"]["participant"] is True for e in states)
    assert all(e["node"]["presentations"] is None for e in states)
    assert result["data"]["meetings"] is None
    paths = _unavailable(result, "meetings")
    assert ["meetings"] in paths
    assert any(p[:2] == ["states", "edges"] for p in paths)


async def _ready(stack: FlowStack) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(f"{stack.urls['gateway']}/readyz")


async def _until_whole(stack: FlowStack, token: str) -> dict[str, Any]:
    for _ in range(300):
        result = await stack.gateway(FEDERATED, token=token)
        if "errors" not in result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"the answer never came back whole: {result}")


def _restart(stack: FlowStack, name: str) -> None:
    stack.processes[name].stop()
    stack.processes[name] = _serve(stack, name)
    _launch(stack.processes[name])
    _wait_ready(stack, name)


async def test_a_subgraph_killed_during_queries_nulls_only_its_fields(
    stack: FlowStack, secretariat: str
) -> None:
    whole = await stack.gateway(FEDERATED, token=secretariat)
    assert "errors" not in whole, whole

    async def keep_asking() -> list[dict[str, Any]]:
        answers = []
        for _ in range(12):
            answers.append(await stack.gateway(FEDERATED, token=secretariat))
            await asyncio.sleep(0.02)
        return answers

    asking = asyncio.ensure_future(keep_asking())
    await asyncio.sleep(0.05)
    stack.processes["meetings"].kill()
    answers = await asking
    # every answer, whatever the moment: whole, or contacts' part with meetings' fields null
    for answer in answers:
        if "errors" in answer:
            _meetings_missing(answer)
        else:
            assert answer["data"] == whole["data"]
    after = await stack.gateway(FEDERATED, token=secretariat)
    _meetings_missing(after)
    # the breaker is open: meetings is named as unhealthy, the gateway stays ready
    ready = await _ready(stack)
    assert ready.status_code == 200
    assert ready.json()["unhealthySubgraphs"] == ["meetings"]
    assert "127.0.0.1" not in ready.text
    # while it is open, meetings is not even asked: the answer comes at once, still partial
    for _ in range(20):
        open_answer = await stack.gateway(FEDERATED, token=secretariat)
        _meetings_missing(open_answer)
        if "not asked for a while" in open_answer["errors"][0]["message"]:
            break
    else:
        raise AssertionError("the breaker never answered for meetings")

    # back again: after the cool-down a probe reaches it and the answer is whole again
    _restart(stack, "meetings")
    assert (await _until_whole(stack, secretariat))["data"] == whole["data"]
    assert "unhealthySubgraphs" not in (await _ready(stack)).json()


async def test_a_hung_subgraph_times_out_and_the_rest_is_answered(
    stack: FlowStack, secretariat: str
) -> None:
    meetings = stack.processes["meetings"].process
    assert meetings is not None
    os.killpg(meetings.pid, signal.SIGSTOP)
    try:
        result = await stack.gateway(FEDERATED, token=secretariat)
        _meetings_missing(result)
        assert "did not answer in time" in result["errors"][0]["message"]
    finally:
        os.killpg(meetings.pid, signal.SIGCONT)
    await _until_whole(stack, secretariat)


async def test_the_directory_killed_is_unavailable_not_internal(
    stack: FlowStack, secretariat: str
) -> None:
    stack.processes["contacts"].kill()
    try:
        result = await stack.gateway("{ states { totalCount } }", token=secretariat)
        assert result["data"] == {"states": None}
        assert _unavailable(result, "contacts") == [["states"]]
        # meetings' own fields are still answered
        both = await stack.gateway(
            "{ states { totalCount } meetings { totalCount } }", token=secretariat
        )
        assert both["data"] == {"states": None, "meetings": {"totalCount": 0}}
    finally:
        _restart(stack, "contacts")
