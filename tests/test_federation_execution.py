"""Federated execution over small strawberry subgraphs: exact data and exact subgraph calls."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from gateway.executor import Executor
from gateway.supergraph import Supergraph
from tests.federation_subgraphs import PRODUCTS, USERS, RecordingFetcher, supergraph_sdl

ENTITIES = "query($representations: [_Any!]!) { _entities(representations: $representations) "


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    return Supergraph.parse(supergraph_sdl())


@pytest.fixture
def fetcher() -> RecordingFetcher:
    return RecordingFetcher()


@pytest.fixture
def executor(supergraph: Supergraph, fetcher: RecordingFetcher) -> Executor:
    return Executor(supergraph, fetcher)


def reps(call: tuple[str, str, dict]) -> list[dict]:
    return call[2]["representations"]


async def test_root_field_goes_to_its_subgraph_alone(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ me { id name } }")
    assert result == {"data": {"me": {"id": "1", "name": "Ada Lovelace"}}}
    assert fetcher.calls == [("accounts", "query { me { id name } }", {})]


async def test_entity_fields_come_from_other_subgraphs_in_one_batched_request(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ topProducts { name reviews { body } } }")
    assert result == {
        "data": {
            "topProducts": [
                {"name": "Hammer", "reviews": [{"body": "Solid."}]},
                {"name": "Kite", "reviews": [{"body": "Flies well."}]},
                {"name": "Saw", "reviews": [{"body": "Sharp."}]},
            ]
        }
    }
    assert fetcher.calls == [
        ("products", "query { topProducts { name __typename upc } }", {}),
        (
            "reviews",
            ENTITIES + "{ ... on Product { reviews { body } } } }",
            {
                "representations": [
                    {"__typename": "Product", "upc": "1"},
                    {"__typename": "Product", "upc": "2"},
                    {"__typename": "Product", "upc": "3"},
                ]
            },
        ),
    ]


async def test_representations_are_deduplicated(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ reviews { author { id name } } }")
    names = [r["author"]["name"] for r in result["data"]["reviews"]]
    assert names == ["Ada Lovelace", "Alan Turing", "Ada Lovelace", "Alan Turing"]
    assert fetcher.graphs() == ["reviews", "accounts"]
    assert reps(fetcher.calls[1]) == [
        {"__typename": "User", "id": "1"},
        {"__typename": "User", "id": "2"},
    ]


async def test_requires_sends_the_required_fields_in_the_representation(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute('{ product(upc: "1") { shippingEstimate } }')
    assert result == {"data": {"product": {"shippingEstimate": 12 + 6 * 10}}}
    assert fetcher.calls[0] == (
        "products",
        'query { product(upc: "1") { __typename upc price weight } }',
        {},
    )
    assert fetcher.calls[1] == (
        "inventory",
        ENTITIES + "{ ... on Product { shippingEstimate } } }",
        {"representations": [{"__typename": "Product", "upc": "1", "price": 12, "weight": 6}]},
    )
    assert len(fetcher.calls) == 2


async def test_required_fields_from_a_third_subgraph_are_fetched_first(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    query = "{ reviews { product { shippingEstimate } } }"
    result = await executor.execute(query)
    assert result["data"] == {
        "reviews": [
            {"product": {"shippingEstimate": 72}},
            {"product": {"shippingEstimate": 50}},
            {"product": {"shippingEstimate": 60}},
            {"product": None},
        ]
    }
    assert fetcher.graphs() == ["reviews", "products", "inventory"]
    assert fetcher.calls[1][1] == ENTITIES + "{ ... on Product { price weight } } }"
    assert reps(fetcher.calls[2]) == [
        {"__typename": "Product", "upc": "1", "price": 12, "weight": 6},
        {"__typename": "Product", "upc": "2", "price": 30, "weight": 2},
        {"__typename": "Product", "upc": "3", "price": 20, "weight": 4},
    ]


async def test_provided_fields_are_not_fetched_again(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ reviews { author { username } } }")
    assert [r["author"]["username"] for r in result["data"]["reviews"]] == [
        "ada",
        "alan",
        "ada",
        "alan",
    ]
    assert fetcher.calls == [("reviews", "query { reviews { author { username } } }", {})]


async def test_unprovided_fields_of_a_provided_entity_use_the_key(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ reviews { author { username name } } }")
    assert result["data"]["reviews"][1] == {"author": {"username": "alan", "name": "Alan Turing"}}
    assert fetcher.calls[0][1] == "query { reviews { author { username __typename id } } }"
    assert fetcher.graphs() == ["reviews", "accounts"]


async def test_shareable_field_stays_in_the_subgraph_already_fetching(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ users { username } }")
    assert result == {"data": {"users": [{"username": "ada"}, {"username": "alan"}]}}
    assert fetcher.graphs() == ["accounts"]


async def test_shared_root_field_joins_a_planned_fetch(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ hello topProducts(first: 1) { name } }")
    assert result == {"data": {"hello": "hello from products", "topProducts": [{"name": "Hammer"}]}}
    assert fetcher.calls == [("products", "query { topProducts(first: 1) { name } hello }", {})]
    fetcher.calls.clear()
    result = await executor.execute("{ me { id } hello }")
    assert result == {"data": {"me": {"id": "1"}, "hello": "hello from accounts"}}
    assert fetcher.graphs() == ["accounts"]


async def test_overridden_field_is_resolved_by_the_overriding_subgraph(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute('{ product(upc: "2") { name delivery } }')
    assert result == {"data": {"product": {"name": "Kite", "delivery": "inventory"}}}
    assert fetcher.graphs() == ["products", "inventory"]
    assert fetcher.calls[1][1] == ENTITIES + "{ ... on Product { delivery } } }"


async def test_inaccessible_field_is_neither_exposed_nor_selectable(
    supergraph: Supergraph, executor: Executor, fetcher: RecordingFetcher
) -> None:
    assert "email" not in supergraph.api_schema.get_type("User").fields  # type: ignore[union-attr]
    assert "email" in supergraph.schema.get_type("User").fields  # type: ignore[union-attr]
    result = await executor.execute("{ me { email } }")
    assert result["errors"][0]["message"] == "Cannot query field 'email' on type 'User'."
    assert result["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert "data" not in result
    assert fetcher.calls == []


async def test_interface_members_and_interface_object_fields(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    query = """{ media { __typename id title rating
        ... on Book { authorName } ... on Movie { minutes } } }"""
    result = await executor.execute(query)
    assert result == {
        "data": {
            "media": [
                {
                    "__typename": "Book",
                    "id": "b1",
                    "title": "Dune",
                    "rating": 5,
                    "authorName": "Herbert",
                },
                {"__typename": "Movie", "id": "m1", "title": "Alien", "rating": 3, "minutes": 117},
            ]
        }
    }
    assert fetcher.graphs() == ["media", "reviews"]
    assert fetcher.calls[1] == (
        "reviews",
        ENTITIES + "{ ... on Media { rating } } }",
        {
            "representations": [
                {"__typename": "Media", "id": "b1"},
                {"__typename": "Media", "id": "m1"},
            ]
        },
    )


async def test_union_members_resolved_by_different_subgraphs(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    query = """{ search(term: "d") { __typename
        ... on Book { title } ... on Product { name inStock } } }"""
    result = await executor.execute(query)
    assert result == {
        "data": {
            "search": [
                {"__typename": "Book", "title": "Dune"},
                {"__typename": "Product", "name": "Kite", "inStock": False},
            ]
        }
    }
    assert fetcher.calls[0] == (
        "media",
        'query { search(term: "d") { __typename ... on Book { title } '
        "... on Product { __typename upc } } }",
        {},
    )
    assert sorted(fetcher.graphs()[1:]) == ["inventory", "products"]
    assert all(reps(c) == [{"__typename": "Product", "upc": "2"}] for c in fetcher.calls[1:])


async def test_typename_is_answered_everywhere_without_a_fetch(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ __typename me { __typename t: __typename } }")
    assert result == {"data": {"__typename": "Query", "me": {"__typename": "User", "t": "User"}}}
    assert fetcher.calls == [("accounts", "query { me { __typename } }", {})]


async def test_fragments_aliases_and_variables(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    query = """query Q($u: String!) {
      p: product(upc: $u) { ...P ... on Product { r: reviews { b: body } } }
    }
    fragment P on Product { upc nm: name }"""
    result = await executor.execute(query, {"u": "2"}, "Q")
    assert result == {"data": {"p": {"upc": "2", "nm": "Kite", "r": [{"b": "Flies well."}]}}}
    assert fetcher.calls[0] == (
        "products",
        "query($u: String!) { p: product(upc: $u) { upc nm: name __typename } }",
        {"u": "2"},
    )
    assert fetcher.calls[1][1] == ENTITIES + "{ ... on Product { r: reviews { b: body } } } }"


async def test_alias_hiding_a_key_field_does_not_confuse_representations(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute('{ product(upc: "1") { upc: name reviews { body } } }')
    assert result == {"data": {"product": {"upc": "Hammer", "reviews": [{"body": "Solid."}]}}}
    assert fetcher.calls[0][1] == (
        'query { product(upc: "1") { upc: name __typename _dief_upc: upc } }'
    )
    assert reps(fetcher.calls[1]) == [{"__typename": "Product", "upc": "1"}]


async def test_include_and_skip_change_the_plan_and_the_fetches(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    query = """query($with: Boolean!) {
      product(upc: "1") { name reviews @include(if: $with) { body } inStock @skip(if: $with) }
    }"""
    result = await executor.execute(query, {"with": True})
    assert result == {"data": {"product": {"name": "Hammer", "reviews": [{"body": "Solid."}]}}}
    assert fetcher.graphs() == ["products", "reviews"]
    fetcher.calls.clear()
    result = await executor.execute(query, {"with": False})
    assert result == {"data": {"product": {"name": "Hammer", "inStock": True}}}
    assert fetcher.graphs() == ["products", "inventory"]
    assert (executor.plan_cache_misses, executor.plan_cache_hits) == (2, 0)
    await executor.execute(query, {"with": False})
    assert (executor.plan_cache_misses, executor.plan_cache_hits) == (2, 1)


async def test_mutations_run_strictly_in_order_with_their_entity_fetches(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    query = """mutation {
      a: productAdd(upc: "90", name: "Glue") { name inStock }
      b: userRename(id: "2", name: "A. M. Turing") { name reviews { body } }
      c: productAdd(upc: "91", name: "Tape") { upc }
      d: productAdd(upc: "92", name: "Rope") { upc }
    }"""
    try:
        result = await executor.execute(query)
    finally:
        for upc in ("90", "91", "92"):
            PRODUCTS.pop(upc, None)
        USERS["2"]["name"] = "Alan Turing"
    assert result == {
        "data": {
            "a": {"name": "Glue", "inStock": True},
            "b": {
                "name": "A. M. Turing",
                "reviews": [{"body": "Flies well."}, {"body": "Lost the receipt."}],
            },
            "c": {"upc": "91"},
            "d": {"upc": "92"},
        }
    }
    assert fetcher.graphs() == ["products", "inventory", "accounts", "reviews", "products"]
    assert fetcher.calls[0][1].startswith('mutation { a: productAdd(upc: "90"')
    assert fetcher.calls[4][1] == (
        'mutation { c: productAdd(upc: "91", name: "Tape") { upc } '
        'd: productAdd(upc: "92", name: "Rope") { upc } }'
    )


async def test_independent_fetches_run_in_parallel(
    supergraph: Supergraph, fetcher: RecordingFetcher
) -> None:
    in_flight, peak = 0, 0

    async def slow_fetch(subgraph: str, query: str, variables: dict) -> dict:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return await fetcher(subgraph, query, variables)

    executor = Executor(supergraph, slow_fetch)
    result = await executor.execute('{ me { name } reviews { body } product(upc: "2") { name } }')
    assert result["data"]["me"] == {"name": "Ada Lovelace"}
    assert sorted(fetcher.graphs()) == ["accounts", "products", "reviews"]
    assert peak == 3


async def test_null_key_is_skipped_and_the_rest_is_fetched(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ reviews { id product { name } } }")
    assert result == {
        "data": {
            "reviews": [
                {"id": "r1", "product": {"name": "Hammer"}},
                {"id": "r2", "product": {"name": "Kite"}},
                {"id": "r3", "product": {"name": "Saw"}},
                {"id": "r4", "product": None},
            ]
        }
    }
    assert len(reps(fetcher.calls[1])) == 3


async def test_entity_error_lands_at_the_client_path_and_the_rest_is_kept(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ topProducts { name inStock } }")
    assert result["data"] == {
        "topProducts": [
            {"name": "Hammer", "inStock": True},
            {"name": "Kite", "inStock": False},
            {"name": "Saw", "inStock": None},
        ]
    }
    assert result["errors"] == [
        {"message": "Stock of product 3 is unknown", "path": ["topProducts", 2, "inStock"]}
    ]
    assert len(fetcher.calls) == 2


async def test_unreachable_subgraph_is_an_error_and_other_data_is_kept(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    fetcher.down.add("products")
    result = await executor.execute('{ me { name } product(upc: "1") { name } }')
    assert result == {
        "data": {"me": {"name": "Ada Lovelace"}, "product": None},
        "errors": [
            {
                "message": "The products service could not be reached; retry later.",
                "extensions": {"code": "SUBGRAPH_UNAVAILABLE", "subgraph": "products"},
                "path": ["product"],
            }
        ],
    }
    assert sorted(fetcher.graphs()) == ["accounts", "products"]


async def test_unreachable_entity_subgraph_nulls_only_its_fields(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    fetcher.down.add("reviews")
    result = await executor.execute('{ product(upc: "1") { name reviews { body } } }')
    assert result["data"] == {"product": None}
    assert [e["extensions"] for e in result["errors"]] == [
        {"code": "SUBGRAPH_UNAVAILABLE", "subgraph": "reviews"}
    ]
    assert result["errors"][0]["path"] == ["product"]


async def test_plan_cache_hits_for_the_same_document_and_operation(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    for _ in range(3):
        await executor.execute("query A { me { id } } query B { users { id } }", None, "B")
    await executor.execute("query A { me { id } } query B { users { id } }", None, "A")
    assert (executor.plan_cache_misses, executor.plan_cache_hits) == (2, 2)
    assert fetcher.graphs() == ["accounts"] * 4


async def test_invalid_documents_and_variables_never_reach_a_subgraph(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ me { ")
    assert result["errors"][0]["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}
    result = await executor.execute("{ nope }")
    assert result["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    result = await executor.execute("query($u: String!) { product(upc: $u) { name } }", {})
    assert result["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    result = await executor.execute("query A { me { id } } query B { me { id } }")
    assert result["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert fetcher.calls == []


async def test_introspection_is_answered_from_the_api_schema(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute('{ __type(name: "User") { fields { name } } }')
    assert result == {
        "data": {
            "__type": {
                "fields": [{"name": n} for n in ("id", "name", "username", "points", "reviews")]
            }
        }
    }
    assert fetcher.calls == []


async def test_interface_object_field_gets_its_real_type_from_the_interface_owner(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    query = """{ topRated { __typename id rating title
        ... on Book { authorName } ... on Movie { minutes } } }"""
    result = await executor.execute(query)
    assert result == {
        "data": {
            "topRated": [
                {
                    "__typename": "Book",
                    "id": "b1",
                    "rating": 5,
                    "title": "Dune",
                    "authorName": "Herbert",
                },
                {"__typename": "Movie", "id": "m1", "rating": 3, "title": "Alien", "minutes": 117},
            ]
        }
    }
    assert fetcher.calls == [
        ("reviews", "query { topRated { id rating __typename } }", {}),
        (
            "media",
            ENTITIES + "{ ... on Media { title __typename } ... on Book { authorName } "
            "... on Movie { minutes } } }",
            {
                "representations": [
                    {"__typename": "Media", "id": "b1"},
                    {"__typename": "Media", "id": "m1"},
                ]
            },
        ),
    ]


async def test_field_selected_on_one_member_only_comes_back_from_the_interface_object(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ media { id ... on Movie { rating } } }")
    assert result == {"data": {"media": [{"id": "b1"}, {"id": "m1", "rating": 3}]}}
    assert fetcher.graphs() == ["media", "reviews"]
    assert reps(fetcher.calls[1]) == [{"__typename": "Media", "id": "m1"}]


async def test_entity_known_by_another_key_uses_the_key_its_subgraph_resolves(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ me { points } }")
    assert result == {"data": {"me": {"points": 300}}}
    assert fetcher.calls == [
        ("accounts", "query { me { __typename username } }", {}),
        (
            "loyalty",
            ENTITIES + "{ ... on User { points } } }",
            {"representations": [{"__typename": "User", "username": "ada"}]},
        ),
    ]


async def test_provided_field_serves_as_a_key(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ reviews { author { points } } }")
    points = [r["author"]["points"] for r in result["data"]["reviews"]]
    assert points == [300, 400, 300, 400]
    assert fetcher.calls[0] == (
        "reviews",
        "query { reviews { author { __typename username } } }",
        {},
    )
    assert fetcher.graphs() == ["reviews", "loyalty"]


async def test_key_the_parent_lacks_is_fetched_from_a_third_subgraph_first(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute("{ reviews { product { popularity } } }")
    assert result == {
        "data": {
            "reviews": [
                {"product": {"popularity": 6}},
                {"product": {"popularity": 4}},
                {"product": {"popularity": 3}},
                {"product": None},
            ]
        }
    }
    assert fetcher.graphs() == ["reviews", "products", "loyalty"]
    assert fetcher.calls[1][1] == ENTITIES + "{ ... on Product { name } } }"
    assert reps(fetcher.calls[2]) == [
        {"__typename": "Product", "name": "Hammer"},
        {"__typename": "Product", "name": "Kite"},
        {"__typename": "Product", "name": "Saw"},
    ]


async def test_variables_used_in_an_entity_fetch_are_declared_and_sent(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    query = "query($m: Int) { topProducts(first: 2) { reviews(minLength: $m) { body } } }"
    result = await executor.execute(query, {"m": 7})
    assert result == {
        "data": {"topProducts": [{"reviews": []}, {"reviews": [{"body": "Flies well."}]}]}
    }
    assert fetcher.calls[1] == (
        "reviews",
        "query($representations: [_Any!]!, $m: Int) { _entities(representations: "
        "$representations) { ... on Product { reviews(minLength: $m) { body } } } }",
        {
            "representations": [
                {"__typename": "Product", "upc": "1"},
                {"__typename": "Product", "upc": "2"},
            ],
            "m": 7,
        },
    )


async def test_plan_cache_is_least_recently_used(
    supergraph: Supergraph, fetcher: RecordingFetcher
) -> None:
    executor = Executor(supergraph, fetcher, plan_cache_size=2)
    for query in (
        "{ me { id } }",
        "{ users { id } }",
        "{ me { id } }",
        "{ hello }",
        "{ users { id } }",
    ):
        await executor.execute(query)
    # "users" was evicted by "hello" (the least recently used then), "me" was kept
    assert (executor.plan_cache_misses, executor.plan_cache_hits) == (4, 1)


async def test_subgraph_refusing_the_whole_request_explains_every_null_once(
    supergraph: Supergraph,
) -> None:
    async def refusing(subgraph: str, query: str, variables: dict) -> dict:
        return {
            "data": None,
            "errors": [{"message": "Not allowed", "extensions": {"code": "FORBIDDEN"}}],
        }

    result = await Executor(supergraph, refusing).execute("{ me { id } users { id } }")
    assert result == {
        "data": None,
        "errors": [{"message": "Not allowed", "extensions": {"code": "FORBIDDEN"}}],
    }


async def test_nested_fragments_on_unions_and_interfaces_with_conditions(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    query = """query($full: Boolean!) {
      search(term: "x") { ...S }
    }
    fragment S on SearchResult {
      ... on Media { title ...R @include(if: $full) }
      ... on Product @skip(if: $full) { upc }
      ... on Product { name }
    }
    fragment R on Media { rating }"""
    result = await executor.execute(query, {"full": True})
    assert result == {"data": {"search": [{"title": "Dune", "rating": 5}, {"name": "Kite"}]}}
    assert sorted(fetcher.graphs()) == ["media", "products", "reviews"]
    fetcher.calls.clear()
    result = await executor.execute(query, {"full": False})
    assert result == {"data": {"search": [{"title": "Dune"}, {"upc": "2", "name": "Kite"}]}}
    assert fetcher.graphs() == ["media", "products"]


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


async def test_fetches_see_the_callers_context_variables(
    supergraph: Supergraph, fetcher: RecordingFetcher
) -> None:
    seen: list[tuple[str, str]] = []

    async def fetch(subgraph: str, query: str, variables: dict) -> dict:
        seen.append((subgraph, REQUEST_ID.get()))
        return await fetcher(subgraph, query, variables)

    executor = Executor(supergraph, fetch)
    REQUEST_ID.set("req-42")
    await executor.execute('{ me { name } product(upc: "1") { reviews { body } inStock } }')
    assert sorted(seen) == [
        ("accounts", "req-42"),
        ("inventory", "req-42"),
        ("products", "req-42"),
        ("reviews", "req-42"),
    ]


async def test_nested_required_fields_are_sent_as_nested_objects(
    executor: Executor, fetcher: RecordingFetcher
) -> None:
    result = await executor.execute(
        "{ topProducts(first: 2) { name packaging dimensions { mass } } }"
    )
    assert result == {
        "data": {
            "topProducts": [
                {"name": "Hammer", "packaging": "large box", "dimensions": {"mass": 6}},
                {"name": "Kite", "packaging": "small box", "dimensions": {"mass": 2}},
            ]
        }
    }
    assert fetcher.calls[0][1] == (
        "query { topProducts(first: 2) { name __typename upc dimensions { size mass } } }"
    )
    assert reps(fetcher.calls[1]) == [
        {"__typename": "Product", "upc": "1", "dimensions": {"size": "large"}},
        {"__typename": "Product", "upc": "2", "dimensions": {"size": "small"}},
    ]
