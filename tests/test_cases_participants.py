"""Rules 1 and 6 in the case exchange: participation comes from the contacts registry, not
the token. A State that withdraws loses every read, list and change here as soon as the
contacts service's ``dief.contacts.state.status_changed`` event arrives, although its
representatives' tokens still say "participant"; it gets them back when it rejoins.
Real MongoDB-wire server and NATS; the events go through the DIEF stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.cases.handlers import PARTICIPANTS
from services.common.events import event
from services.common.messaging import connect_nats, ensure_stream
from services.common.mongo import run_sync
from services.common.principal import Principal, Role, sign_principal
from tests import cases_support
from tests.cases_support import CREATE, GET, LIST, UPDATE, Cases, case_input, codes, share_case
from tests.events_support import consumer_caught_up, eventually

cases_settings = cases_support.cases_settings
cases = cases_support.cases

# States no other case test uses, so that their status changes touch nothing else.
PROVIDER = "ESP"
READER = "POL"
NON_PARTY = "BRA"
UNKNOWN = "ISL"  # announced by no test: the register never heard of it

REQUEST = """mutation($c: ID!, $j: String!) {
  useRequestCreate(caseId: $c, use: INVESTIGATION, justification: $j) { id } }"""
CASE_TITLE = "query($id: ID!) { case(id: $id) { id title } }"


class Clock:
    """Each status change a little later than the one before (the register keeps the
    latest change, whatever order the events arrive in)."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def next(self) -> str:
        self.at += timedelta(seconds=1)
        return self.at.isoformat()


CLOCK = Clock()


async def status_changed(cases: Cases, state: str, participant: bool) -> None:
    """Publish what the contacts service publishes when a State's status changes."""
    status, before = ("STATE_PARTY", "NON_PARTY") if participant else ("NON_PARTY", "STATE_PARTY")
    ev = event(
        "contacts",
        "state",
        "status_changed",
        subject=state,
        stateCode=state,
        status=status,
        previousStatus=before,
        participant=participant,
        changedAt=CLOCK.next(),
    )
    nc = await connect_nats(cases.settings.nats_url, "test-contacts")
    try:
        js = nc.jetstream()
        await ensure_stream(js, cases.settings.stream_name, 1)
        await js.publish(ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id})
    finally:
        await nc.close()


async def call(
    cases: Cases,
    state: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    participant: bool = True,
) -> dict[str, Any]:
    """A delegate of ``state`` whose token says ``participant`` (as signed before any
    status change: it stays valid until it expires)."""
    principal = Principal(
        subject=f"{state.lower()}-delegate",
        roles=frozenset({Role.DELEGATE}),
        state=state,
        participant=participant,
    )
    token = sign_principal(
        principal,
        cases.key,
        issuer=cases.settings.principal_issuer,
        audience=cases.settings.principal_audience,
    )
    response = await cases.http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def data(result: dict[str, Any]) -> Any:
    assert "errors" not in result, result
    return result["data"]


def listed(result: dict[str, Any]) -> tuple[set[str], int]:
    found = data(result)["cases"]
    return {e["node"]["id"] for e in found["edges"]}, found["totalCount"]


@pytest.fixture(scope="module")
async def world(cases: Cases) -> dict[str, str]:
    """A case of ESP shared with POL, a draft of POL's own, and a case of France (the
    default provider) shared with all participants. ESP and POL join first: the register
    hears of them as it hears of every participant, from the contacts service."""
    for state in (PROVIDER, READER):
        await status_changed(cases, state, participant=True)
    await consumer_caught_up(cases.settings.nats_url, PARTICIPANTS.durable)
    named = {"kind": "NAMED_STATES", "states": [READER]}
    esp = data(
        await call(cases, PROVIDER, CREATE, {"input": case_input("Esp case", audience=named)})
    )
    esp_id = esp["caseCreate"]["case"]["id"]
    data(await call(cases, PROVIDER, cases_support.SHARE, {"id": esp_id}))
    pol = data(await call(cases, READER, CREATE, {"input": case_input("Pol draft")}))
    fra = await share_case(cases, "provider", "Open case", audience={"kind": "ALL_PARTICIPANTS"})
    return {"esp": esp_id, "pol": pol["caseCreate"]["case"]["id"], "fra": fra}


async def refused_everywhere(cases: Cases, world: dict[str, str]) -> None:
    """What a withdrawn State's representative gets, token still saying participant."""
    for case_id in (world["esp"], world["pol"], world["fra"]):
        got = await call(cases, READER, GET, {"id": case_id})
        assert codes(got) == ["FORBIDDEN"], got
        assert "Esp case" not in str(got) and "Open case" not in str(got)
    assert listed(await call(cases, READER, LIST, {"first": 50})) == (set(), 0)
    update = {"id": world["pol"], "input": {"summary": "Changed after withdrawal"}}
    assert codes(await call(cases, READER, UPDATE, update)) == ["FORBIDDEN"]
    made = await call(cases, READER, CREATE, {"input": case_input("After withdrawal")})
    assert codes(made) == ["FORBIDDEN"]
    ask = {"c": world["esp"], "j": "Our customs investigation"}
    assert codes(await call(cases, READER, REQUEST, ask)) == ["FORBIDDEN"]


async def test_a_state_known_to_the_register_reads_what_it_may(
    cases: Cases, world: dict[str, str]
) -> None:
    got = data(await call(cases, READER, CASE_TITLE, {"id": world["esp"]}))
    assert got["case"]["title"] == "Esp case"
    ids, total = listed(await call(cases, READER, LIST, {"first": 50}))
    assert ids == {world["esp"], world["pol"], world["fra"]} and total == 3


async def test_a_token_saying_participant_for_a_state_the_register_never_heard_of_opens_nothing(
    cases: Cases, world: dict[str, str]
) -> None:
    """The attack: a principal token (mis-issued, or signed with a stolen key) that says
    ``participant: true`` for a non-party, sent to the subgraph directly. The register has
    never heard of the State, so it is no participant: every read, list and write fails."""
    assert await run_sync(PARTICIPANTS.known, UNKNOWN) is None
    for case_id in (world["fra"], world["esp"]):
        got = await call(cases, UNKNOWN, GET, {"id": case_id})
        assert codes(got) == ["FORBIDDEN"], got
        assert "Open case" not in str(got) and "Esp case" not in str(got)
    assert listed(await call(cases, UNKNOWN, LIST, {"first": 50})) == (set(), 0)
    made = await call(cases, UNKNOWN, CREATE, {"input": case_input("Forged participation")})
    assert codes(made) == ["FORBIDDEN"]
    ask = {"c": world["fra"], "j": "Our customs investigation"}
    assert codes(await call(cases, UNKNOWN, REQUEST, ask)) == ["FORBIDDEN"]


async def test_a_withdrawn_state_loses_access_at_once_and_gets_it_back_on_rejoining(
    cases: Cases, world: dict[str, str]
) -> None:
    await status_changed(cases, READER, participant=False)

    async def refused() -> bool:
        return codes(await call(cases, READER, CASE_TITLE, {"id": world["esp"]})) == ["FORBIDDEN"]

    await eventually(refused, timeout=20, what=f"{READER} to lose access to cases")
    await refused_everywhere(cases, world)
    # its partners are not affected, nor is what it shared or drafted: the provider still
    # sees its case, and the Secretariat-excluded draft stays POL's own
    assert data(await call(cases, PROVIDER, CASE_TITLE, {"id": world["esp"]}))["case"]
    assert (await cases.ok("other", CASE_TITLE, {"id": world["fra"]}))["case"]

    await status_changed(cases, READER, participant=True)

    async def back() -> bool:
        return "errors" not in await call(cases, READER, CASE_TITLE, {"id": world["esp"]})

    await eventually(back, timeout=20, what=f"{READER} to get access back")
    ids, total = listed(await call(cases, READER, LIST, {"first": 50}))
    assert ids == {world["esp"], world["pol"], world["fra"]} and total == 3
    update = {"id": world["pol"], "input": {"summary": "Changed after rejoining"}}
    assert data(await call(cases, READER, UPDATE, update))["caseUpdate"]["case"]["summary"] == (
        "Changed after rejoining"
    )
    ask = {"c": world["esp"], "j": "Our customs investigation"}
    assert data(await call(cases, READER, REQUEST, ask))["useRequestCreate"]["id"]


async def test_a_withdrawn_provider_loses_its_own_cases_too(
    cases: Cases, world: dict[str, str]
) -> None:
    await status_changed(cases, PROVIDER, participant=False)

    async def refused() -> bool:
        got = await call(cases, PROVIDER, CASE_TITLE, {"id": world["esp"]})
        return codes(got) == ["FORBIDDEN"]

    try:
        await eventually(refused, timeout=20, what=f"{PROVIDER} to lose access to its case")
        assert listed(await call(cases, PROVIDER, LIST, {"first": 50})) == (set(), 0)
        update = {"id": world["esp"], "input": {"summary": "Changed after withdrawal"}}
        assert codes(await call(cases, PROVIDER, UPDATE, update)) == ["FORBIDDEN"]
        # the readers it shared with keep what was shared with them
        assert data(await call(cases, READER, CASE_TITLE, {"id": world["esp"]}))["case"]
    finally:
        await status_changed(cases, PROVIDER, participant=True)

    async def back() -> bool:
        return "errors" not in await call(cases, PROVIDER, CASE_TITLE, {"id": world["esp"]})

    await eventually(back, timeout=20, what=f"{PROVIDER} to get access back")


async def test_the_register_never_makes_a_participant_of_a_token_that_says_otherwise(
    cases: Cases, world: dict[str, str]
) -> None:
    """The register only takes access away: a State it knows as participant is still
    refused while the gateway's token says it is not one (yet)."""
    await status_changed(cases, NON_PARTY, participant=True)

    async def heard() -> bool:
        return await run_sync(PARTICIPANTS.known, NON_PARTY) is True

    await eventually(heard, timeout=20, what=f"the register to hear of {NON_PARTY}")
    got = await call(cases, NON_PARTY, GET, {"id": world["fra"]}, participant=False)
    assert codes(got) == ["FORBIDDEN"]
    assert listed(await call(cases, NON_PARTY, LIST, {"first": 50}, participant=False)) == (
        set(),
        0,
    )
