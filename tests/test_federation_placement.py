"""Where fields are fetched: shared root fields, types without a key below an entity,
`@provides` choosing the subgraph, and a field's own type in each subgraph."""

from __future__ import annotations

from tests.federation_conformance import (
    Federation,
    provides_choice,
    shared_root,
    value_below_entity,
)

ENTITIES = "query($representations: [_Any!]!) { _entities(representations: $representations) "


async def test_a_shared_root_field_without_a_key_is_fetched_from_each_subgraph_it_needs() -> None:
    # group D: region only east resolves, uptime only west
    federation = Federation(shared_root)
    result = await federation.run("{ info { version region uptime } }")
    assert result == {"data": {"info": {"version": "1.2", "region": "east", "uptime": 99}}}
    assert sorted(federation.calls) == [
        ("east", "query { info { version region } }", {}),
        ("west", "query { info { uptime } }", {}),
    ]
    result = await federation.run("{ info { uptime } }")
    assert result == {"data": {"info": {"uptime": 99}}}
    assert federation.calls == [("west", "query { info { uptime } }", {})]
    result = await federation.run("{ first: info { region } second: info { uptime version } }")
    assert result == {
        "data": {"first": {"region": "east"}, "second": {"uptime": 99, "version": "1.2"}}
    }


async def test_a_field_of_a_type_without_a_key_comes_through_its_parent_entity() -> None:
    # group E: Details has no key; colour only specs resolves, through Product
    federation = Federation(value_below_entity)
    result = await federation.run("{ catalog { id details { size colour } } }")
    assert result == {
        "data": {
            "catalog": [
                {"id": "1", "details": {"size": "S", "colour": "red"}},
                {"id": "2", "details": {"size": "L", "colour": "blue"}},
            ]
        }
    }
    assert federation.calls == [
        ("catalog", "query { catalog { id details { size } __typename } }", {}),
        (
            "specs",
            ENTITIES + "{ ... on Product { details { colour } } } }",
            {
                "representations": [
                    {"__typename": "Product", "id": "1"},
                    {"__typename": "Product", "id": "2"},
                ]
            },
        ),
    ]


async def test_provides_makes_the_root_field_go_where_no_entity_fetch_is_needed() -> None:
    # group F: a_list comes first, but only b_provides answers label without a hop
    federation = Federation(provides_choice)
    result = await federation.run("{ topItems { id label } }")
    assert result == {
        "data": {"topItems": [{"id": "1", "label": "one!"}, {"id": "2", "label": "two!"}]}
    }
    assert federation.calls == [("b_provides", "query { topItems { id label } }", {})]
    result = await federation.run("{ topItems { id } }")
    assert result == {"data": {"topItems": [{"id": "1"}, {"id": "2"}]}}
    assert federation.graphs() == ["a_list"]


async def test_a_field_typed_differently_in_a_subgraph_gets_only_fragments_valid_there() -> None:
    # group J: shelf types featured as Book, so it must not be sent `... on Movie`
    from tests.federation_conformance import covariant_types

    federation = Federation(covariant_types)
    result = await federation.run(
        "{ featured { id ... on Book { shelf } ... on Movie { minutes } } }"
    )
    assert result == {"data": {"featured": {"id": "b7", "shelf": 3}}}
    assert federation.calls == [
        ("shelf", "query { featured { __typename ... on Book { id shelf } } }", {})
    ]
    result = await federation.run("{ featured { __typename id } media { id } }")
    assert result == {
        "data": {
            "featured": {"__typename": "Movie", "id": "m1"},
            "media": [{"id": "b1"}, {"id": "m1"}],
        }
    }
    assert federation.graphs() == ["library"]


async def test_a_shared_root_field_is_fetched_from_three_subgraphs_each_for_its_part() -> None:
    from tests.federation_conformance import shared_root_parts

    federation = Federation(shared_root_parts)
    result = await federation.run("{ offers { id title amount stock } }")
    assert result == {"data": {"offers": [{"id": "o1", "title": "Lamp", "amount": 30, "stock": 4}]}}
    assert sorted(federation.calls) == [
        ("prices", "query { offers { id amount } }", {}),
        ("stock", "query { offers { stock } }", {}),
        ("titles", "query { offers { title } }", {}),
    ]
