"""Abstract types across subgraphs: `@interfaceObject`s that cannot be resolved, and
queries that cannot be planned failing whole instead of being cut down."""

from __future__ import annotations

import pytest

from tests.federation_conformance import Federation, non_resolvable_interface_object


@pytest.fixture(scope="module")
def nodes() -> Federation:
    return Federation(non_resolvable_interface_object)


async def test_interface_fields_of_an_interface_object_come_from_it_alone(
    nodes: Federation,
) -> None:
    # group K: no type condition, no __typename: the owner is not asked for the type
    result = await nodes.run("{ b { id field } }")
    assert result == {"data": {"b": {"id": "n1", "field": "foo"}}}
    assert nodes.calls == [("pantry", "query { b { id field } }", {})]


async def test_a_field_only_a_non_resolvable_interface_object_has_is_a_planning_error(
    nodes: Federation,
) -> None:
    # group K: Bread.field lives only on pantry's Node, which no _entities call reaches
    result = await nodes.run("{ bread { id field } }")
    assert result == {
        "data": None,
        "errors": [
            {
                "message": "The query cannot be planned over the subgraphs: "
                "no subgraph can resolve Bread.field as an entity.",
                "extensions": {"code": "QUERY_PLAN_FAILED"},
            }
        ],
    }
    assert nodes.calls == []
    result = await nodes.run("{ bread { id ... on Bread { name } } }")
    assert result == {"data": {"bread": {"id": "n2", "name": "bread n2"}}}
    assert nodes.graphs() == ["bakery"]


async def test_one_response_name_typed_differently_in_sibling_fragments_is_aliased() -> None:
    # group H: shapes types Circle.size Int! and Square.size Int; sent as they are, shapes
    # would refuse the query
    from tests.federation_conformance import conflicting_types

    federation = Federation(conflicting_types)
    result = await federation.run(
        "{ shapes { ... on Circle { id size } ... on Square { id size } } }"
    )
    assert result == {
        "data": {
            "shapes": [
                {"id": "c1", "size": 3},
                {"id": "s1", "size": None},
                {"id": "s2", "size": 4},
            ]
        }
    }
    assert federation.calls == [
        (
            "shapes",
            "query { shapes { __typename ... on Circle { id size } "
            "... on Square { id _dief_size_Square: size } } }",
            {},
        )
    ]


async def test_differently_typed_fields_of_entities_of_two_types_in_one_fetch_are_aliased() -> None:
    from tests.federation_conformance import conflicting_types

    federation = Federation(conflicting_types)
    result = await federation.run(
        "{ gallery { ... on Circle { id size } ... on Square { id size } } }"
    )
    assert result == {"data": {"gallery": [{"id": "s2", "size": 4}, {"id": "c1", "size": 3}]}}
    assert federation.graphs() == ["gallery", "shapes"]
    assert federation.calls[1][1] == (
        "query($representations: [_Any!]!) { _entities(representations: $representations) "
        "{ ... on Circle { size } ... on Square { _dief_size_Square: size } } }"
    )


async def test_requires_on_an_interface_object_field() -> None:
    from tests.federation_conformance import interface_object_requires

    federation = Federation(interface_object_requires())
    result = await federation.run("{ media { id blurb ... on Movie { minutes } } }")
    assert result == {
        "data": {
            "media": [
                {"id": "b1", "blurb": "Dune: 4 letters"},
                {"id": "m1", "blurb": "Alien: 5 letters", "minutes": 117},
            ]
        }
    }
    assert federation.graphs() == ["media", "scores"]
    assert federation.calls[1][2]["representations"] == [
        {"__typename": "Media", "id": "b1", "title": "Dune"},
        {"__typename": "Media", "id": "m1", "title": "Alien"},
    ]
