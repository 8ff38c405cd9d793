"""Entity chains over three subgraphs, abstract types returned by entities, lists of lists
with nulls, null entities in the middle of a list, and progressive `@override` labels."""

from __future__ import annotations

import pytest

from tests.federation_conformance import Federation, households


@pytest.fixture(scope="module")
def homes() -> Federation:
    return Federation(households)


CHAIN = (
    "{ people { id name pet { __typename ... on Dog { name vet { name } } "
    "... on Cat { lives } } } }"
)


async def test_an_entity_chain_over_three_subgraphs_with_nulls_in_the_list(
    homes: Federation,
) -> None:
    result = await homes.run(CHAIN)
    assert result == {
        "data": {
            "people": [
                {
                    "id": "p1",
                    "name": "Ada",
                    "pet": {"__typename": "Dog", "name": "Rex", "vet": {"name": "Dr Who"}},
                },
                None,
                # pets does not know p3: its entity is null, and so is what pets gives
                {"id": "p3", "name": "Grace", "pet": None},
                {"id": "p2", "name": "Alan", "pet": {"__typename": "Cat", "lives": 9}},
            ]
        }
    }
    assert homes.graphs() == ["people", "pets", "vets", "people"]
    assert homes.calls[1][2]["representations"] == [
        {"__typename": "Person", "id": "p1"},
        {"__typename": "Person", "id": "p3"},
        {"__typename": "Person", "id": "p2"},
    ]
    assert homes.calls[2][2]["representations"] == [{"__typename": "Dog", "id": "d1"}]
    assert homes.calls[3][2]["representations"] == [{"__typename": "Vet", "id": "v1"}]


async def test_plans_stay_cached(homes: Federation) -> None:
    await homes.run(CHAIN)
    misses, hits = homes.executor.plan_cache_misses, homes.executor.plan_cache_hits
    first = list(homes.calls)
    await homes.run(CHAIN)
    assert (homes.executor.plan_cache_misses, homes.executor.plan_cache_hits) == (
        misses,
        hits + 1,
    )
    assert homes.calls == first


async def test_lists_of_lists_and_progressive_override_labels(homes: Federation) -> None:
    # nickname's override is at percent(100): people; age's label is not on: still pets
    result = await homes.run("{ grid { name nickname age } }")
    assert result == {
        "data": {
            "grid": [
                [{"name": "Alan", "nickname": "alan (people)", "age": 41}, None],
                [],
                [{"name": "Ada", "nickname": "ada (people)", "age": 36}],
            ]
        }
    }
    assert homes.graphs() == ["people", "pets"]
    assert homes.calls[0][1] == "query { grid { name nickname __typename id } }"
    assert homes.calls[1][2]["representations"] == [
        {"__typename": "Person", "id": "p2"},
        {"__typename": "Person", "id": "p1"},
    ]
