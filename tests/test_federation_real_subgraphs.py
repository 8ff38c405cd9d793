"""Our own three subgraphs compose into a supergraph the planner routes across."""

from __future__ import annotations

import pytest

from gateway.compose import compose
from gateway.executor import Executor
from gateway.supergraph import Supergraph
from tests.federation_subgraphs import sdl_of


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    from services.cases.schema import schema as cases
    from services.contacts.schema import schema as contacts
    from services.meetings.schema import schema as meetings

    subgraphs = {
        name: (f"http://{name}.test/graphql", sdl_of(schema))
        for name, schema in (("contacts", contacts), ("meetings", meetings), ("cases", cases))
    }
    return Supergraph.parse(compose(subgraphs))


async def _never_called(subgraph: str, query: str, variables: dict) -> dict:
    raise AssertionError("planning only")


def test_states_are_owned_by_contacts_and_referenced_by_the_others(supergraph: Supergraph) -> None:
    assert supergraph.keys("State", "contacts") == ["code"]
    assert supergraph.field_graphs("State", "name") == ["contacts"]
    assert supergraph.type_directives("State") == {"authenticated": True}
    assert "join__Graph" not in supergraph.api_schema.type_map


def test_a_presentation_with_its_states_and_case_takes_one_fetch_per_subgraph_and_path(
    supergraph: Supergraph,
) -> None:
    executor = Executor(supergraph, _never_called)
    plan = executor.plan(
        '{ presentation(id: "p1") { title presentingState { name } case { id } } }'
    )
    assert plan.describe() == [
        ("meetings", "query", ()),
        ("contacts", "entities", ("presentation", "presentingState")),
        ("cases", "entities", ("presentation",)),
    ]
    meetings, contacts, cases = plan.steps
    assert meetings.document == (
        'query { presentation(id: "p1") { title presentingState { __typename code } '
        "__typename id presentingStateCode } }"
    )  # presentingStateCode: what cases' Presentation.case requires (rule 13)
    assert contacts.document.endswith("{ ... on State { name } } }")
    assert cases.document.endswith("{ ... on Presentation { case { id } } } }")
    assert contacts.deps == {0} and cases.deps == {0}
