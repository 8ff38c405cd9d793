"""Shaping the client's response from merged subgraph data (pure: no subgraph involved)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from gateway.shaper import Shaper
from gateway.supergraph import Supergraph
from tests.federation_subgraphs import supergraph_sdl
from tests.test_federation_supergraph import STANDARD


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    return Supergraph.parse(STANDARD)


def shape(
    supergraph: Supergraph,
    query: str,
    data: dict,
    variables: dict | None = None,
    failed: list[tuple] | None = None,
) -> tuple[Any, list[dict]]:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {d.name.value: d for d in document.definitions if d not in (operation,)}
    shaper = Shaper(supergraph.api_schema, operation, fragments, variables or {})  # type: ignore[arg-type]
    return shaper.shape(data, failed or [])


def test_only_requested_fields_in_the_client_order_with_aliases_and_typename(
    supergraph: Supergraph,
) -> None:
    data = {
        "topProducts": [
            {"__typename": "Product", "upc": "1", "_dief_upc": "1", "name": "Hammer", "n": "H"}
        ]
    }
    result, errors = shape(
        supergraph,
        "{ topProducts { n: name __typename ...F } } fragment F on Product { upc }",
        data,
    )
    assert errors == []
    assert result == {"topProducts": [{"n": "H", "__typename": "Product", "upc": "1"}]}
    assert list(result["topProducts"][0]) == ["n", "__typename", "upc"]


def test_null_in_a_non_null_field_propagates_to_the_nearest_nullable_parent(
    supergraph: Supergraph,
) -> None:
    data = {"reviews": [{"id": "r1", "product": {"name": None}}, {"id": "r2", "product": None}]}
    result, errors = shape(supergraph, "{ reviews { id product { name } } }", data)
    assert result == {"reviews": [{"id": "r1", "product": None}, {"id": "r2", "product": None}]}
    assert errors == [
        {
            "message": "Cannot return null for non-nullable field Product.name.",
            "locations": [{"line": 1, "column": 26}],
            "path": ["reviews", 0, "product", "name"],
        }
    ]


def test_null_already_explained_by_a_subgraph_error_is_not_reported_twice(
    supergraph: Supergraph,
) -> None:
    data = {"me": {"name": None}}
    result, errors = shape(supergraph, "{ me { name } }", data, failed=[("me", "name")])
    assert result is None
    assert errors == []


def test_enum_value_hidden_from_the_api_is_an_error(supergraph: Supergraph) -> None:
    data = {"topProducts": [{"category": "TOOLS"}, {"category": "SECRET"}]}
    result, errors = shape(supergraph, "{ topProducts { category } }", data)
    assert result == {"topProducts": [{"category": "TOOLS"}, {"category": None}]}
    assert errors == [
        {
            "message": "Enum 'Category' cannot represent value: 'SECRET'",
            "locations": [{"line": 1, "column": 17}],
            "path": ["topProducts", 1, "category"],
        }
    ]


def test_abstract_value_without_a_known_type_is_an_error(supergraph: Supergraph) -> None:
    schema_sdl = supergraph_sdl()
    media = Supergraph.parse(schema_sdl)
    data = {"media": [{"__typename": "Media", "id": "b1"}]}
    result, errors = shape(media, "{ media { id ... on Book { title } } }", data)
    assert result is None
    assert errors[0]["path"] == ["media", 0]
    assert errors[0]["message"].startswith("Abstract type 'Media' must resolve to an Object type")
    for query in ("{ media { id __typename } }", "{ media { ... on Movie { id } } }"):
        result, errors = shape(media, query, data)
        assert result is None and errors[0]["path"] == ["media", 0]
    result, errors = shape(
        media, "{ media { id } }", {"media": [{"__typename": "Nope", "id": "b1"}]}
    )
    assert result is None and errors[0]["path"] == ["media", 0]
    # an interface object's answer where nothing selected depends on the object type
    assert shape(media, "{ media { id } }", data) == ({"media": [{"id": "b1"}]}, [])


def test_skip_and_include_follow_the_variables_the_shaper_was_built_for(
    supergraph: Supergraph,
) -> None:
    query = "query($a: Boolean!) { me { id @include(if: $a) name @skip(if: $a) } }"
    data = {"me": {"id": "1", "name": "Ada"}}
    assert shape(supergraph, query, data, {"a": True})[0] == {"me": {"id": "1"}}
    assert shape(supergraph, query, data, {"a": False})[0] == {"me": {"name": "Ada"}}


def test_leaves_are_serialised_by_the_api_schema(supergraph: Supergraph) -> None:
    result, errors = shape(supergraph, "{ reviews { id } }", {"reviews": [{"id": 7}]})
    assert result == {"reviews": [{"id": "7"}]}
    result, errors = shape(supergraph, "{ hello }", {"hello": {"not": "a string"}})
    assert result is None
    assert errors[0]["path"] == ["hello"]


@pytest.mark.parametrize(
    ("price", "answered"),
    [
        (7, 7),
        (-(2**31), -(2**31)),
        (2**31 - 1, 2**31 - 1),
        (True, 1),  # graphql-core's Int serialises a boolean as 0 or 1
        (7.0, 7),  # a whole float is an Int
        (2**31, None),
        (-(2**31) - 1, None),
        (7.5, None),
        ("7", 7),
    ],
)
def test_an_int_leaf_is_answered_as_graphql_serialises_it(
    supergraph: Supergraph, price: Any, answered: Any
) -> None:
    data = {"topProducts": [{"upc": "1", "price": price}]}
    result, errors = shape(supergraph, "{ topProducts { upc price } }", data)
    if answered is None:  # a non-null Int that cannot be represented: the item is nulled
        assert errors and "Int cannot represent" in errors[0]["message"]
        assert errors[0]["path"] == ["topProducts", 0, "price"] and result is None
    else:
        assert errors == [] and result == {"topProducts": [{"upc": "1", "price": answered}]}
        assert type(result["topProducts"][0]["price"]) is int
