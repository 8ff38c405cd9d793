"""The contacts service as a Federation v2 subgraph."""

from __future__ import annotations

from typing import Any

import pytest

from services.contacts import handlers
from tests.conftest import GraphQLClient, TokenFactory, error_codes
from tests.test_contacts_api import PARTIES


@pytest.fixture
def registry(contacts_app: Any) -> None:
    handlers.seed_states(PARTIES)


async def test_subgraph_sdl_declares_federation_2_entities_and_authorisation(
    gql: GraphQLClient,
) -> None:
    result = await gql("{ _service { sdl } }")
    sdl = result["data"]["_service"]["sdl"]
    assert 'url: "https://specs.apollo.dev/federation/v2.9"' in sdl
    assert 'type State @key(fields: "code") @authenticated' in sdl
    assert 'type Contact @key(fields: "id") @authenticated' in sdl
    assert 'type Authority @key(fields: "id") @authenticated' in sdl
    assert '@policy(policies: [["secretariat"]])' in sdl


ENTITIES = """query($reps: [_Any!]!) {
  _entities(representations: $reps) { ... on State { code name participant } }
}"""


async def test_entities_resolve_states_by_code_for_participants(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    reps = [{"__typename": "State", "code": "FRA"}, {"__typename": "State", "code": "ISR"}]
    result = await gql(ENTITIES, {"reps": reps}, token(state="DEU"))
    assert "errors" not in result, result
    assert result["data"]["_entities"] == [
        {"code": "FRA", "name": "France", "participant": True},
        {"code": "ISR", "name": "Israel", "participant": True},
    ]


async def test_entities_are_refused_to_non_participants(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    reps = [{"__typename": "State", "code": "FRA"}]
    result = await gql(ENTITIES, {"reps": reps}, token(state="USA", participant=False))
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["data"]["_entities"] == [None]
