"""Identical subgraph fetches in flight are sent once, and only for one caller
(``gateway.inflight``). The subgraph here is a fetch that holds every request until the
test lets it answer, so "at the same time" is certain, not a matter of timing."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.inflight import InflightMerge
from gateway.principal_tokens import Call, current_call
from services.common.principal import Principal, Role

QUERY = "query { states(first: 3) { edges { node { code } } } }"
MUTATION = 'mutation { contactVerify(input: {id: "x"}) { contact { id } } }'

ALICE = Principal(subject="alice", roles=frozenset({Role.DELEGATE}), state="FRA", participant=True)


class HeldSubgraph:
    """Records each request and answers only when released; each answer names the caller
    whose request was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any], Principal | None]] = []
        self.release = asyncio.Event()  # lets reads answer
        self.release_writes = asyncio.Event()  # lets mutations answer
        self.fail: Exception | None = None

    async def __call__(self, subgraph: str, query: str, variables: dict) -> dict[str, Any]:
        call = current_call.get()
        principal = call.principal if call else None
        self.requests.append((subgraph, query, variables, principal))
        await (self.release_writes if query.startswith("mutation") else self.release).wait()
        if self.fail is not None:
            raise self.fail
        return {"data": {"for": principal.subject if principal else None, "items": [1, 2]}}


def as_caller(principal: Principal | None, rid: str, work: Callable[[], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        current_call.set(Call(principal, rid))
        return await work()

    return asyncio.ensure_future(run())


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_identical_concurrent_fetches_of_one_caller_are_sent_once() -> None:
    subgraph = HeldSubgraph()
    merge = InflightMerge(subgraph)
    tasks = [
        as_caller(ALICE, f"r{i}", lambda: merge("contacts", QUERY, {"first": 3})) for i in range(5)
    ]
    await _settle()
    assert len(subgraph.requests) == 1
    subgraph.release.set()
    answers = await asyncio.gather(*tasks)
    assert all(a == {"data": {"for": "alice", "items": [1, 2]}} for a in answers)
    assert (merge.sent, merge.merged) == (1, 4)
    # each caller has its own copy to change
    answers[1]["data"]["items"].append(3)
    assert answers[0]["data"]["items"] == [1, 2] and answers[2]["data"]["items"] == [1, 2]
    # done: the next one is sent again
    await as_caller(ALICE, "r9", lambda: merge("contacts", QUERY, {"first": 3}))
    assert len(subgraph.requests) == 2


@pytest.mark.parametrize(
    "other",
    [
        dataclasses.replace(ALICE, subject="bob"),  # another person of the same State
        dataclasses.replace(ALICE, state="DEU"),  # the same subject for another State
        dataclasses.replace(ALICE, roles=frozenset({Role.SECRETARIAT})),
        dataclasses.replace(ALICE, participant=False),  # France withdrew meanwhile
        dataclasses.replace(ALICE, scopes=frozenset({"participant"})),
        None,  # anonymous
    ],
)
async def test_two_callers_never_share_a_fetch(other: Principal | None) -> None:
    subgraph = HeldSubgraph()
    merge = InflightMerge(subgraph)
    mine = as_caller(ALICE, "r1", lambda: merge("contacts", QUERY, {"first": 3}))
    theirs = as_caller(other, "r2", lambda: merge("contacts", QUERY, {"first": 3}))
    await _settle()
    assert [r[3] for r in subgraph.requests] == [ALICE, other]
    subgraph.release.set()
    assert (await mine)["data"]["for"] == "alice"
    assert (await theirs)["data"]["for"] == (other.subject if other else None)
    assert merge.merged == 0


async def test_other_documents_variables_or_subgraphs_are_not_merged() -> None:
    subgraph = HeldSubgraph()
    merge = InflightMerge(subgraph)
    calls = [
        ("contacts", QUERY, {"first": 3}),
        ("contacts", QUERY, {"first": 4}),
        ("contacts", QUERY.replace("code", "name"), {"first": 3}),
        ("meetings", QUERY, {"first": 3}),
    ]
    tasks = [as_caller(ALICE, "r", lambda c=c: merge(*c)) for c in calls]
    await _settle()
    assert len(subgraph.requests) == 4
    subgraph.release.set()
    await asyncio.gather(*tasks)


async def test_mutations_are_never_merged_and_later_reads_do_not_join_older_fetches() -> None:
    subgraph = HeldSubgraph()
    merge = InflightMerge(subgraph)
    writes = [as_caller(ALICE, f"w{i}", lambda: merge("contacts", MUTATION, {})) for i in range(2)]
    early_read = as_caller(ALICE, "r1", lambda: merge("contacts", QUERY, {}))
    await _settle()
    assert len(subgraph.requests) == 3
    subgraph.release_writes.set()
    await asyncio.gather(*writes)
    # the read in flight since before the write finished is still waiting: a read sent
    # now does not take its answer, which may not show the write
    late_read = as_caller(ALICE, "r2", lambda: merge("contacts", QUERY, {}))
    await _settle()
    assert len(subgraph.requests) == 4
    subgraph.release.set()
    await asyncio.gather(early_read, late_read)
    assert merge.merged == 0


async def test_reads_of_a_request_that_wrote_are_sent_on_their_own() -> None:
    subgraph = HeldSubgraph()
    subgraph.release_writes.set()
    merge = InflightMerge(subgraph)

    async def write_then_read() -> Any:
        await merge("contacts", MUTATION, {})
        return await merge("contacts", QUERY, {})

    writer = as_caller(ALICE, "w", write_then_read)
    await _settle()
    reader = as_caller(ALICE, "r", lambda: merge("contacts", QUERY, {}))
    await _settle()
    assert len(subgraph.requests) == 3  # the write, the writer's read, the other read
    subgraph.release.set()
    await asyncio.gather(writer, reader)
    assert merge.merged == 0


async def test_a_failure_reaches_every_caller_waiting_and_a_departed_leader_is_replaced() -> None:
    subgraph = HeldSubgraph()
    merge = InflightMerge(subgraph)
    tasks = [as_caller(ALICE, f"r{i}", lambda: merge("cases", QUERY, {})) for i in range(3)]
    await _settle()
    subgraph.fail = ConnectionError("cases went away")
    subgraph.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert len(subgraph.requests) == 1

    subgraph = HeldSubgraph()
    merge = InflightMerge(subgraph)
    leader = as_caller(ALICE, "r1", lambda: merge("cases", QUERY, {}))
    await _settle()
    follower = as_caller(ALICE, "r2", lambda: merge("cases", QUERY, {}))
    await _settle()
    leader.cancel()  # the first caller hung up
    await _settle()
    subgraph.release.set()
    assert (await follower)["data"]["for"] == "alice"
    assert len(subgraph.requests) == 2  # the follower sent its own
    with pytest.raises(asyncio.CancelledError):
        await leader


def test_the_gateway_merges_unless_told_not_to(tmp_path: Any, keys_dir: Any) -> None:
    from gateway.app import Gateway
    from gateway.supergraph import Supergraph
    from services.common.settings import Settings

    supergraph = (Path(__file__).resolve().parent.parent / "gateway/supergraph.graphql").read_text()

    def gateway(merge: bool) -> Gateway:
        settings = Settings(
            env="dev",
            home=tmp_path,
            principal_jwks=str(keys_dir / "jwks.json"),
            gateway_merge_inflight=merge,
        )
        return Gateway(settings, Supergraph.parse(supergraph), fetch=HeldSubgraph())

    assert isinstance(gateway(True).executor.fetch, InflightMerge)
    assert not isinstance(gateway(False).executor.fetch, InflightMerge)
