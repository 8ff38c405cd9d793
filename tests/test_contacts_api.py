"""The contacts subgraph over GraphQL, against a real MongoDB-wire server and NATS."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.contacts import handlers
from services.contacts.domain import AttStatus, StatusDates
from tests.conftest import GraphQLClient, TokenFactory, error_codes

PARTIES = {
    "FRA": (
        AttStatus.STATE_PARTY,
        StatusDates(signature=date(2013, 6, 3), ratification=date(2014, 4, 2)),
    ),
    "DEU": (
        AttStatus.STATE_PARTY,
        StatusDates(signature=date(2013, 6, 3), ratification=date(2014, 4, 2)),
    ),
    "ISR": (AttStatus.SIGNATORY, StatusDates(signature=date(2014, 12, 18))),
}


@pytest.fixture
def registry(contacts_app: Any) -> None:
    handlers.seed_states(PARTIES)


STATES = """query($first: Int, $after: String, $filter: StateFilter) {
  states(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { code name status participant } }
  }
}"""


async def test_participant_delegate_lists_states(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    result = await gql(STATES, {"first": 2, "filter": {"participant": True}}, token(state="FRA"))
    assert "errors" not in result, result
    states = result["data"]["states"]
    assert states["totalCount"] == 3
    assert [e["node"]["code"] for e in states["edges"]] == ["DEU", "FRA"]
    assert states["pageInfo"]["hasNextPage"] is True
    page2 = await gql(
        STATES,
        {"first": 2, "after": states["pageInfo"]["endCursor"], "filter": {"participant": True}},
        token(state="FRA"),
    )
    assert [e["node"]["code"] for e in page2["data"]["states"]["edges"]] == ["ISR"]
    assert page2["data"]["states"]["pageInfo"]["hasNextPage"] is False


async def test_non_party_state_is_refused(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    result = await gql(STATES, {}, token(state="USA", participant=False))
    assert error_codes(result) == ["FORBIDDEN"]
    assert result["data"] == {"states": None}


async def test_registry_overrides_a_participant_flag_it_disagrees_with(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    """The contacts service owns the registry: a flag saying 'participant' for a non-party
    State is not enough."""
    result = await gql(STATES, {}, token(state="USA", participant=True))
    assert error_codes(result) == ["FORBIDDEN"]


@pytest.mark.parametrize("roles", [("expert",), ("system",)])
async def test_experts_and_systems_cannot_read_the_directory(
    gql: GraphQLClient, token: TokenFactory, registry: None, roles: tuple[str]
) -> None:
    result = await gql("{ contacts { totalCount } }", {}, token(state=None, roles=roles))
    assert error_codes(result) == ["FORBIDDEN"]
    result = await gql('{ authorities(stateCode: "FRA") { id } }', {}, token(roles=roles))
    assert error_codes(result) == ["FORBIDDEN"]


async def test_experts_cannot_read_the_state_registry(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    result = await gql(STATES, {}, token(state=None, roles=("expert",)))
    assert error_codes(result) == ["FORBIDDEN"]


async def test_the_system_role_reads_the_state_registry_for_the_gateways_cache(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    """ATT statuses are public; the gateway keeps who takes part from this list."""
    result = await gql(STATES, {"first": 200}, token(state=None, roles=("system",)))
    assert "errors" not in result, result
    nodes = [e["node"] for e in result["data"]["states"]["edges"]]
    assert {"code": "FRA", "name": "France", "status": "STATE_PARTY", "participant": True} in nodes


async def test_no_token_is_unauthenticated(gql: GraphQLClient, registry: None) -> None:
    result = await gql(STATES)
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_malformed_cursor_is_a_validation_error(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    result = await gql(STATES, {"after": "not-a-cursor"}, token(state="FRA"))
    assert error_codes(result) == ["VALIDATION"]
    assert result["errors"][0]["extensions"]["field"] == "after"


async def test_unknown_state_is_not_found(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    result = await gql('{ state(code: "FRA") { name } }', token=token(state="FRA"))
    assert result["data"]["state"]["name"] == "France"
    bad = await gql('{ state(code: "XYZ") { name } }', token=token(state="FRA"))
    assert error_codes(bad) == ["VALIDATION"]


CHANGE_STATUS = """mutation($input: StateStatusChangeInput!) {
  stateStatusChange(input: $input) {
    state { code status participant statusHistory { status changedBy } }
  }
}"""


async def test_only_the_secretariat_changes_a_status(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    change = {"code": "USA", "status": "SIGNATORY", "signatureDate": "2013-09-25"}
    refused = await gql(CHANGE_STATUS, {"input": change}, token(state="FRA"))
    assert error_codes(refused) == ["FORBIDDEN"]
    done = await gql(
        CHANGE_STATUS,
        {"input": change},
        token(sub="sec1", roles=("secretariat",), participant=False),
    )
    assert "errors" not in done, done
    state = done["data"]["stateStatusChange"]["state"]
    assert state["participant"] is True
    assert [h["status"] for h in state["statusHistory"]] == ["NON_PARTY", "SIGNATORY"]
    assert state["statusHistory"][-1]["changedBy"] == "sec1"
    # the State's delegate is a participant now
    now_allowed = await gql(STATES, {}, token(state="USA"))
    assert "errors" not in now_allowed


async def test_status_dates_must_match_the_status(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    result = await gql(
        CHANGE_STATUS,
        {"input": {"code": "USA", "status": "STATE_PARTY"}},
        token(roles=("secretariat",)),
    )
    assert error_codes(result) == ["VALIDATION"]
    assert result["errors"][0]["extensions"]["field"] == "ratificationDate"


async def test_withdrawal_removes_access_at_once(
    gql: GraphQLClient, token: TokenFactory, contacts_app: Any
) -> None:
    # A State no other test relies on: its status_changed event may reach the shared stream,
    # where other services' participant registers read it.
    handlers.seed_states({"URY": (AttStatus.SIGNATORY, StatusDates(signature=date(2013, 6, 3)))})
    before = await gql(STATES, {}, token(state="URY"))
    assert "errors" not in before
    await gql(
        CHANGE_STATUS,
        {"input": {"code": "URY", "status": "NON_PARTY"}},
        token(roles=("secretariat",)),
    )
    after = await gql(STATES, {}, token(state="URY"))
    assert error_codes(after) == ["FORBIDDEN"]
