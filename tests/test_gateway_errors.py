"""Honest errors through the gateway: a bad Date (literal or variable) is VALIDATION naming
its field, never INTERNAL; the gateway's refusals give the subgraph's reason, with the right
verb (a read is seen, a mutation run, never "may change" for a read)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import refusals
from services.common.principal import Principal, Role
from tests.door_support import Door, door_fixture, door_nats  # noqa: F401

door = door_fixture("errors")


def only_error(result: dict[str, Any]) -> dict[str, Any]:
    assert len(result.get("errors") or []) == 1, result
    return result["errors"][0]


SESSION_LITERAL = """mutation { sessionCreate(input: {kind: PREPARATORY_MEETING, name: "P",
  startDate: "%s", endDate: "2029-12-31"}) { session { id } } }"""
SESSION = """mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { session { id } } }"""
SESSION_DATE = """mutation($d: Date!) { sessionCreate(input: {kind: PREPARATORY_MEETING,
  name: "P", startDate: $d, endDate: "2029-12-31"}) { session { id } } }"""


@pytest.mark.parametrize("bad", ["2029-13-01", "2029-02-30", "tomorrow", ""])
async def test_an_invalid_date_literal_is_validation_naming_its_field(door: Door, bad: str) -> None:
    error = only_error(await door.gql("sec", SESSION_LITERAL % bad))
    assert error["extensions"]["code"] == "VALIDATION", error
    assert error["extensions"]["field"] == "startDate"
    assert "Date" in error["message"] and "requestId" not in error["extensions"]


@pytest.mark.parametrize("bad", ["2029-13-01", 20291301, None, ["2029-01-01"]])
async def test_an_invalid_date_variable_is_validation_naming_its_field(
    door: Door, bad: object
) -> None:
    given = {"kind": "PREPARATORY_MEETING", "name": "P", "startDate": bad, "endDate": "2029-12-31"}
    error = only_error(await door.gql("sec", SESSION, {"i": given}))
    assert error["extensions"]["code"] == "VALIDATION", error
    assert error["extensions"]["field"] == "startDate"
    direct = only_error(await door.gql("sec", SESSION_DATE, {"d": bad}))
    assert direct["extensions"]["code"] == "VALIDATION", direct
    assert direct["extensions"]["field"] == "d"


async def test_a_valid_date_still_reaches_the_subgraph(door: Door) -> None:
    given = {"kind": "PREPARATORY_MEETING", "name": "P", "startDate": "2029-01-01"}
    created = await door.ok("sec", SESSION, {"i": {**given, "endDate": "2029-12-31"}})
    assert created["sessionCreate"]["session"]["id"]
    literal = await door.ok("sec", SESSION_LITERAL % "2029-06-01")
    assert literal["sessionCreate"]["session"]["id"]


async def test_an_upload_given_as_json_is_refused_as_validation(door: Door) -> None:
    query = (
        """mutation($i: DocumentAttachInput!) { documentAttach(input: $i) { document { id } } }"""
    )
    given = {
        "agendaItemId": "x",
        "filename": "a.pdf",
        "mediaType": "application/pdf",
        "language": "en",
        "file": "JVBERi0xLjQK",
    }
    error = only_error(await door.gql("sec", query, {"i": given}))
    assert error["extensions"]["code"] == "VALIDATION"
    assert error["extensions"]["field"] == "file" and "multipart" in error["message"]


# --- refusals: the same reason at the gateway and at the subgraph ---------------------------

STATES = "{ states(first: 1) { totalCount } }"


async def test_a_non_participants_directory_read_is_refused_as_by_the_contacts_service(
    door: Door,
) -> None:
    through = only_error(await door.gql("usa", STATES))
    answer = await door.http.post(
        door.services["contacts"] + "/graphql",
        json={"query": STATES},
        headers={"Authorization": "Bearer " + door.token("usa", participant=False)},
    )
    direct = only_error(answer.json())
    assert through["extensions"]["code"] == direct["extensions"]["code"] == "FORBIDDEN"
    assert through["message"] == direct["message"]
    assert through["message"].startswith("USA is not a participant (State Party or signatory)")


async def test_a_non_participants_mutation_is_refused_with_the_reason_and_the_right_verb(
    door: Door,
) -> None:
    query = (
        """mutation($i: DocumentAttachInput!) { documentAttach(input: $i) { document { id } } }"""
    )
    given = {"agendaItemId": "x", "filename": "a.pdf", "mediaType": "application/pdf"}
    error = only_error(await door.gql("usa", query, {"i": {**given, "language": "en"}}))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == (
        "USA is not a participant (State Party or signatory) and may not run "
        "Mutation.documentAttach."
    )


async def test_a_refused_read_never_says_change(door: Door) -> None:
    query = '{ ldapSyncRuns(stateCode: "FRA") { id } }'
    error = only_error(await door.gql("deu", query))
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "change" not in error["message"] and "run " not in error["message"], error


FRA = Principal("fra-1", frozenset({Role.DELEGATE}), state="FRA", participant=True)
USA = Principal("usa-1", frozenset({Role.DELEGATE}), state="USA", participant=False)
EXPERT = Principal("exp-1", frozenset({Role.EXPERT}))


def test_refusal_words() -> None:
    assert refusals.unauthenticated("State") == "Sign in to see State."
    assert refusals.unauthenticated("Mutation.sessionCreate") == (
        "Sign in to run Mutation.sessionCreate."
    )
    secretariat = [["secretariat"]]
    assert refusals.forbidden(FRA, "Mutation.sessionCreate", secretariat, policy=True) == (
        "You may not run Mutation.sessionCreate: it is for the Secretariat."
    )
    either = [["participant"], ["secretariat"], ["chair"]]
    assert refusals.forbidden(EXPERT, "Query.meetings", either, policy=True) == (
        "You may not see Query.meetings: it is for participants' representatives, "
        "the Secretariat or the Chair."
    )
    assert refusals.forbidden(USA, "Query.meetings", either, policy=True) == (
        "USA is not a participant (State Party or signatory) and may not see Query.meetings."
    )
    assert refusals.forbidden(EXPERT, "Query.states", [["directory_reader"]], policy=True) == (
        refusals.DIRECTORY_OPEN_TO
    )
    assert refusals.forbidden(FRA, "Query.x", [["state:DEU", "delegate"]], policy=False) == (
        "You may not see Query.x: it is for representatives of DEU who are also delegates."
    )
    assert refusals.forbidden(FRA, "Query.x", [["unheard_of"]], policy=True) == (
        "You may not see Query.x."
    )
