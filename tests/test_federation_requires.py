"""`@requires` planning: arguments in requirements, requirements inside the requiring
subgraph's own fetch, chains back into it, and `@external` key fields."""

from __future__ import annotations

import pytest

from tests.federation_conformance import (
    Federation,
    external_keys,
    fed1_keys,
    requires_arguments,
    requires_chain,
)

ENTITIES = "query($representations: [_Any!]!) { _entities(representations: $representations) "


@pytest.fixture(scope="module")
def pricing() -> Federation:
    return Federation(requires_arguments)


async def test_two_requirements_of_one_field_with_other_arguments_are_two_fetches(
    pricing: Federation,
) -> None:
    # group C: the USD and EUR prices must never be merged into one value
    result = await pricing.run("{ products { upc estimateUsd estimateEur } }")
    assert result == {
        "data": {
            "products": [
                {"upc": "1", "estimateUsd": 20, "estimateEur": 40},
                {"upc": "2", "estimateUsd": 21, "estimateEur": 42},
            ]
        }
    }
    ship = [c for c in pricing.calls if c[0] == "ship"]
    assert len(ship) == 2
    sent = sorted((r["price"], r["weight"]) for call in ship for r in call[2]["representations"])
    assert sent == [(7, 3), (10, 2), (14, 3), (20, 2)]


async def test_a_client_price_in_another_currency_is_its_own_field(pricing: Federation) -> None:
    result = await pricing.run(
        '{ products { upc price(currency: "EUR") estimateUsd usd: price(currency: "USD") } }'
    )
    assert result == {
        "data": {
            "products": [
                {"upc": "1", "price": 20, "estimateUsd": 20, "usd": 10},
                {"upc": "2", "price": 14, "estimateUsd": 21, "usd": 7},
            ]
        }
    }


async def test_requires_in_a_fetch_already_on_the_requiring_subgraph(pricing: Federation) -> None:
    # group A: shipments comes from ship, but estimateUsd still needs store's fields
    result = await pricing.run("{ shipments { upc estimateUsd } }")
    assert result == {"data": {"shipments": [{"upc": "2", "estimateUsd": 21}]}}
    assert pricing.graphs() == ["ship", "store", "ship"]
    assert pricing.calls[0][1] == "query { shipments { upc __typename } }"
    assert pricing.calls[2][1] == ENTITIES + "{ ... on Product { estimateUsd } } }"
    assert pricing.calls[2][2] == {
        "representations": [{"__typename": "Product", "upc": "2", "price": 7, "weight": 3}]
    }


async def test_requires_under_skip_and_include(pricing: Federation) -> None:
    query = (
        "query($usd: Boolean!, $eur: Boolean!) { products { upc "
        "... @include(if: $usd) { estimateUsd } ... @skip(if: $eur) { name } "
        "... on Product @include(if: $eur) { estimateEur } } }"
    )
    result = await pricing.run(query, {"usd": False, "eur": True})
    assert result == {
        "data": {"products": [{"upc": "1", "estimateEur": 40}, {"upc": "2", "estimateEur": 42}]}
    }
    result = await pricing.run(query, {"usd": True, "eur": False})
    assert result == {
        "data": {
            "products": [
                {"upc": "1", "estimateUsd": 20, "name": "product 1"},
                {"upc": "2", "estimateUsd": 21, "name": "product 2"},
            ]
        }
    }


async def test_a_requires_chain_back_into_the_requiring_subgraph() -> None:
    # group B: alpha's x needs beta's y, which needs alpha's z
    federation = Federation(requires_chain)
    result = await federation.run("{ items { id x } }")
    assert result == {"data": {"items": [{"id": "1", "x": 21}, {"id": "2", "x": 41}]}}
    assert federation.graphs() == ["alpha", "beta", "alpha"]
    assert federation.calls[1][2]["representations"] == [
        {"__typename": "Item", "id": "1", "z": 10},
        {"__typename": "Item", "id": "2", "z": 20},
    ]
    assert federation.calls[2][2]["representations"] == [
        {"__typename": "Item", "id": "1", "y": 20},
        {"__typename": "Item", "id": "2", "y": 40},
    ]
    result = await federation.run("{ items { y z x } }")
    assert result == {"data": {"items": [{"y": 20, "z": 10, "x": 21}, {"y": 40, "z": 20, "x": 41}]}}


async def test_an_external_key_field_is_never_read_from_the_subgraph_that_references_it() -> None:
    # group G: posts says nothing true of User.id; its value there must not be used
    federation = Federation(external_keys)
    result = await federation.run("{ posts { title author { name } } }")
    assert result == {
        "data": None,
        "errors": [
            {
                "message": "The query cannot be planned over the subgraphs: "
                "no subgraph can give a key to fetch User.id.",
                "extensions": {"code": "QUERY_PLAN_FAILED"},
            }
        ],
    }
    assert federation.calls == []
    result = await federation.run("{ users { id name } }")
    assert result == {
        "data": {"users": [{"id": "u1", "name": "Ada"}, {"id": "u2", "name": "Alan"}]}
    }


async def test_a_federation_1_extension_knows_its_external_key_fields() -> None:
    federation = Federation(fed1_keys)
    result = await federation.run("{ posts { title author { id name } } }")
    assert result == {
        "data": {"posts": [{"title": "On engines", "author": {"id": "u2", "name": "Alan"}}]}
    }
    assert federation.graphs() == ["posts", "users"]


async def test_requirements_that_need_entity_fetches_of_their_own_in_a_circle() -> None:
    from tests.federation_conformance import requires_circle

    federation = Federation(requires_circle)
    result = await federation.run("{ feed { byNovice } }")
    assert result == {"data": {"feed": [{"byNovice": True}, {"byNovice": False}]}}
    assert federation.graphs() == ["writing", "reading", "writing", "reading"]
    result = await federation.run("{ feed { id byExpert } }")
    assert result == {
        "data": {"feed": [{"id": "1", "byExpert": False}, {"id": "2", "byExpert": True}]}
    }
    assert federation.graphs() == ["writing", "reading", "writing", "reading", "writing"]
    assert federation.calls[-1][2]["representations"] == [
        {"__typename": "Post", "id": "1", "byNovice": True},
        {"__typename": "Post", "id": "2", "byNovice": False},
    ]


async def test_a_client_alias_in_the_gateways_own_names_is_refused(pricing: Federation) -> None:
    # otherwise the client's value would be read as the price the estimate requires
    for query in (
        "{ products { _dief_price_0: name estimateUsd } }",
        "{ products { ...F } } fragment F on Product { _dief_upc: name estimateEur }",
    ):
        result = await pricing.run(query)
        assert result["data"] is None
        assert result["errors"][0]["extensions"] == {"code": "QUERY_PLAN_FAILED"}
        assert "names starting with _dief_ are the gateway's own" in result["errors"][0]["message"]
        assert pricing.calls == []
