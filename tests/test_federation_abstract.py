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
