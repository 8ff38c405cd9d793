"""Lifecycles of the case exchange over GraphQL: sharing and versions, operational-use
requests (rule 16), disclosure concerns (rule 15), involved States, arrangements (rule 21)
and briefing consent (rule 22): every transition, every forbidden actor."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pymongo import MongoClient

from tests import cases_support
from tests.cases_support import CREATE, GET, SHARE, UPDATE, Cases, case_input, codes, share_case

cases_settings = cases_support.cases_settings
cases = cases_support.cases

NAMED = {"kind": "NAMED_STATES", "states": ["DEU", "NLD"]}


def outbox(cases: Cases) -> list[dict[str, Any]]:
    client: MongoClient[dict[str, Any]] = MongoClient(cases.settings.mongodb_uri)
    try:
        entries = client[cases.settings.cases_db]["outbox"].find().sort("created_at", 1)
        return [json.loads(e["payload"]) for e in entries]
    finally:
        client.close()


def count(cases: Cases, collection: str) -> int:
    client: MongoClient[dict[str, Any]] = MongoClient(cases.settings.mongodb_uri)
    try:
        return client[cases.settings.cases_db][collection].count_documents({})
    finally:
        client.close()


# --- lifecycle and versions ---------------------------------------------------------------


async def test_sharing_needs_a_category_and_writes_nothing_without_one(cases: Cases) -> None:
    created = await cases.ok("provider", CREATE, {"input": case_input("No tags", categories=[])})
    case_id = created["caseCreate"]["case"]["id"]
    events_before = len(outbox(cases))
    refused = await cases("provider", SHARE, {"id": case_id})
    assert codes(refused) == ["VALIDATION"]
    assert refused["errors"][0]["extensions"] == {
        "code": "VALIDATION",
        "field": "categories",
        "rule": 19,
    }
    assert len(outbox(cases)) == events_before
    still = await cases.ok("provider", GET, {"id": case_id})
    assert still["case"]["status"] == "DRAFT"
    assert codes(await cases("named", GET, {"id": case_id})) == ["FORBIDDEN"]


async def test_only_the_provider_shares_edits_and_archives(cases: Cases) -> None:
    created = await cases.ok("provider", CREATE, {"input": case_input("Lifecycle", audience=NAMED)})
    case_id = created["caseCreate"]["case"]["id"]
    for who in ("named", "other", "secretariat", "chair", "expert", "system"):
        assert codes(await cases(who, SHARE, {"id": case_id})) == ["FORBIDDEN"], who
    assert codes(await cases(None, SHARE, {"id": case_id})) == ["UNAUTHENTICATED"]
    # another representative of the provider State may act for it
    shared = await cases.ok("provider2", SHARE, {"id": case_id})
    assert shared["caseShare"]["case"]["status"] == "SHARED"
    assert codes(await cases("provider", SHARE, {"id": case_id})) == ["CONFLICT"]
    edit = {"id": case_id, "input": {"summary": "New summary"}}
    assert codes(await cases("named", UPDATE, edit)) == ["FORBIDDEN"]
    edited = await cases.ok("provider", UPDATE, edit)
    assert edited["caseUpdate"]["case"]["revision"] == 2
    # removing every category from a shared case is refused
    untag = await cases("provider", UPDATE, {"id": case_id, "input": {"categories": []}})
    assert codes(untag) == ["VALIDATION"]
    history = await cases.ok(
        "named",
        "query($id: ID!) { case(id: $id) { revision summary updatedAt "
        "history { revision changedAt changedSections } } }",
        {"id": case_id},
    )
    case = history["case"]
    assert case["revision"] == 2 and case["summary"] == "New summary"
    assert [(h["revision"], h["changedSections"]) for h in case["history"]] == [(1, ["SUMMARY"])]
    archive = "mutation($id: ID!) { caseArchive(id: $id) { case { status archivedAt } } }"
    assert codes(await cases("named", archive, {"id": case_id})) == ["FORBIDDEN"]
    archived = await cases.ok("provider", archive, {"id": case_id})
    assert archived["caseArchive"]["case"]["status"] == "ARCHIVED"
    assert codes(await cases("provider", UPDATE, edit)) == ["CONFLICT"]
    # readers still see an archived case
    assert (await cases.ok("named", GET, {"id": case_id}))["case"]["status"] == "ARCHIVED"


async def test_a_readers_history_shows_only_edits_of_what_it_may_read(cases: Cases) -> None:
    """An edit made only in a section withheld from a reader is no new revision, updatedAt
    or history entry for that reader."""
    case_id = await share_case(
        cases,
        "provider",
        "Withheld edits",
        audience=NAMED,
        sectionAudiences=[
            {"section": "ACTORS", "audience": {"kind": "NAMED_STATES", "states": ["DEU"]}}
        ],
    )
    read = (
        "query($id: ID!) { case(id: $id) { revision updatedAt withheldSections "
        "history { revision changedSections } } }"
    )
    before = (await cases.ok("named2", read, {"id": case_id}))["case"]
    assert before["withheldSections"] == ["ACTORS"]
    actors = [{"role": "BROKER", "name": "A. Broker", "kind": "PERSON", "country": "FRA"}]
    await cases.ok("provider", UPDATE, {"id": case_id, "input": {"actors": actors}})
    after = (await cases.ok("named2", read, {"id": case_id}))["case"]
    assert after == before, "nothing the reader may read changed"
    deu = (await cases.ok("named", read, {"id": case_id}))["case"]
    assert [h["changedSections"] for h in deu["history"]] == [["ACTORS"]]
    assert deu["revision"] == before["revision"] + 1
    await cases.ok("provider", UPDATE, {"id": case_id, "input": {"summary": "Seen by all"}})
    later = (await cases.ok("named2", read, {"id": case_id}))["case"]
    assert later["revision"] == before["revision"] + 1, "numbered without the hidden edit"
    assert [(h["revision"], h["changedSections"]) for h in later["history"]] == [
        (before["revision"], ["SUMMARY"])
    ]
    assert later["updatedAt"] > before["updatedAt"]
    provider = (await cases.ok("provider", read, {"id": case_id}))["case"]
    assert provider["revision"] == before["revision"] + 2 and len(provider["history"]) == 2


async def test_events_are_thin(cases: Cases) -> None:
    case_id = await share_case(
        cases, "provider", "Secret title for events", audience=NAMED, involvedStates=["DEU"]
    )
    await cases.ok("provider", UPDATE, {"id": case_id, "input": {"summary": "changed"}})
    mine = [e for e in outbox(cases) if e["subject"] == case_id]
    assert [e["type"] for e in mine] == ["dief.cases.case.shared", "dief.cases.case.updated"]
    for e in mine:
        assert set(e["data"]) == {"caseId", "providerCode", "at"}
        assert e["data"]["providerCode"] == "FRA"
        text = json.dumps(e)
        for secret in ("Secret title", "DEU", "NLD", "NAMED", "changed"):
            assert secret not in text


# --- operational-use requests (rule 16) ---------------------------------------------------

REQUEST = """mutation($c: ID!, $u: IntendedUse!, $j: String!) {
  useRequestCreate(caseId: $c, use: $u, justification: $j) {
    id decision use justification requesterState { code } provider { code } } }"""
DECIDE = """mutation($id: ID!, $d: UseDecision!, $c: String, $r: String) {
  useRequestDecide(id: $id, decision: $d, conditions: $c, reason: $r) {
    id decision conditions reason decidedAt } }"""
ONE_REQUEST = "query($id: ID!) { useRequest(id: $id) { id decision conditions } }"


@pytest.fixture(scope="module")
async def shared_case(cases: Cases) -> str:
    return await share_case(cases, "provider", "Use requests", audience=NAMED)


async def test_use_request_who_may_ask(cases: Cases, shared_case: str) -> None:
    ask = {"c": shared_case, "u": "INVESTIGATION", "j": "Our customs investigation"}
    assert codes(await cases("provider", REQUEST, ask)) == ["FORBIDDEN"]  # not of itself
    for who in ("other", "non_party", "secretariat", "chair", "expert", "system"):
        assert codes(await cases(who, REQUEST, ask)) == ["FORBIDDEN"], who
    assert codes(await cases(None, REQUEST, ask)) == ["UNAUTHENTICATED"]
    blank = await cases("named", REQUEST, {**ask, "j": "   "})
    assert codes(blank) == ["VALIDATION"]
    made = await cases.ok("named", REQUEST, ask)
    request = made["useRequestCreate"]
    assert request["decision"] == "PENDING"
    assert request["requesterState"] == {"code": "DEU"}
    assert request["provider"] == {"code": "FRA"}


@pytest.mark.parametrize(
    ("decision", "conditions", "reason"),
    [
        ("AGREED", None, None),
        ("AGREED_WITH_CONDITIONS", "Only for the licence assessment", None),
        ("DECLINED", None, "The investigation is ongoing"),
    ],
)
async def test_use_request_answers_are_final(
    cases: Cases, shared_case: str, decision: str, conditions: str | None, reason: str | None
) -> None:
    made = await cases.ok(
        "named", REQUEST, {"c": shared_case, "u": "PROSECUTION", "j": "Court case"}
    )
    rid = made["useRequestCreate"]["id"]
    answer = {"id": rid, "d": decision, "c": conditions, "r": reason}
    for who in ("named", "named2", "other", "secretariat"):
        assert codes(await cases(who, DECIDE, answer)) == ["FORBIDDEN"], who
    assert codes(await cases("provider", DECIDE, {**answer, "d": "PENDING"})) == ["VALIDATION"]
    done = await cases.ok("provider", DECIDE, answer)
    assert done["useRequestDecide"]["decision"] == decision
    assert done["useRequestDecide"]["decidedAt"]
    again = await cases("provider", DECIDE, {"id": rid, "d": "AGREED"})
    assert codes(again) == ["CONFLICT"]
    assert again["errors"][0]["extensions"]["rule"] == 16
    # both sides see it, nobody else
    for who in ("provider", "named"):
        seen = await cases.ok(who, ONE_REQUEST, {"id": rid})
        assert seen["useRequest"]["decision"] == decision
    for who in ("named2", "other", "secretariat"):
        assert codes(await cases(who, ONE_REQUEST, {"id": rid})) == ["FORBIDDEN"], who
    listed = await cases.ok("named2", "{ useRequests { id } }")
    assert rid not in {r["id"] for r in listed["useRequests"]}


@pytest.mark.parametrize(
    ("decision", "field"), [("AGREED_WITH_CONDITIONS", "conditions"), ("DECLINED", "reason")]
)
async def test_use_request_answer_needs_its_explanation(
    cases: Cases, shared_case: str, decision: str, field: str
) -> None:
    made = await cases.ok("named", REQUEST, {"c": shared_case, "u": "OTHER", "j": "Why"})
    rid = made["useRequestCreate"]["id"]
    refused = await cases("provider", DECIDE, {"id": rid, "d": decision})
    assert codes(refused) == ["VALIDATION"]
    assert refused["errors"][0]["extensions"]["field"] == field
    still = await cases.ok("named", ONE_REQUEST, {"id": rid})
    assert still["useRequest"]["decision"] == "PENDING"


COMMENT = """mutation($id: ID!, $t: String!) { useRequestComment(id: $id, text: $t) {
  messages { state { code } author text } } }"""


async def test_use_request_thread_is_for_the_two_sides(cases: Cases, shared_case: str) -> None:
    made = await cases.ok("named", REQUEST, {"c": shared_case, "u": "INVESTIGATION", "j": "J"})
    rid = made["useRequestCreate"]["id"]
    await cases.ok("named", COMMENT, {"id": rid, "t": "Which parts may we use?"})
    await cases.ok("provider", COMMENT, {"id": rid, "t": "Items and routes only"})
    for who in ("named2", "other", "secretariat"):
        assert codes(await cases(who, COMMENT, {"id": rid, "t": "x"})) == ["FORBIDDEN"], who
    assert codes(await cases("named", COMMENT, {"id": rid, "t": " "})) == ["VALIDATION"]
    entities = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on UseRequest { decision messages { state { code } text } } } }"""
    rep = {"r": [{"__typename": "UseRequest", "id": rid}]}
    for who in ("provider", "named"):
        seen = (await cases.ok(who, entities, rep))["_entities"][0]
        assert [(m["state"]["code"], m["text"]) for m in seen["messages"]] == [
            ("DEU", "Which parts may we use?"),
            ("FRA", "Items and routes only"),
        ]
    assert codes(await cases("named2", entities, rep)) == ["FORBIDDEN"]


# --- disclosure concerns (rule 15) --------------------------------------------------------

RAISE = """mutation($c: ID!, $r: String!, $d: String!) {
  concernRaise(caseId: $c, respondent: $r, description: $d) {
    id status raisedByState { code } raisedByRole respondent { code } } }"""
EXPLAIN = """mutation($id: ID!, $e: String!, $m: String!) {
  concernExplain(id: $id, explanation: $e, remedialMeasures: $m) { id status explanation } }"""
CLOSE = """mutation($id: ID!, $n: String) {
  concernClose(id: $id, note: $n) { id status closingNote } }"""
ONE_CONCERN = "query($id: ID!) { disclosureConcern(id: $id) { id status } }"


async def test_concern_between_two_participants(cases: Cases, shared_case: str) -> None:
    raise_it = {"c": shared_case, "r": "NLD", "d": "Details appeared in the press"}
    assert codes(await cases("other", RAISE, raise_it)) == ["FORBIDDEN"]  # not a reader
    for who in ("expert", "system", "non_party"):
        assert codes(await cases(who, RAISE, raise_it)) == ["FORBIDDEN"], who
    assert codes(await cases("named", RAISE, {**raise_it, "r": "DEU"})) == ["VALIDATION"]
    # ITA never received the case: no concern with it
    assert codes(await cases("named", RAISE, {**raise_it, "r": "ITA"})) == ["VALIDATION"]
    assert codes(await cases("named", RAISE, {**raise_it, "r": "XYZ"})) == ["VALIDATION"]
    raised = (await cases.ok("named", RAISE, raise_it))["concernRaise"]
    assert raised["status"] == "RAISED"
    assert raised["raisedByState"] == {"code": "DEU"} and raised["respondent"] == {"code": "NLD"}
    cid = raised["id"]
    # visible to the two sides only
    for who in ("provider", "other", "secretariat", "chair"):
        assert codes(await cases(who, ONE_CONCERN, {"id": cid})) == ["FORBIDDEN"], who
    # nobody closes what they did not raise; the raiser cannot explain
    assert codes(await cases("named2", CLOSE, {"id": cid})) == ["FORBIDDEN"]
    explain = {"id": cid, "e": "A leak by a contractor", "m": "Contract ended"}
    assert codes(await cases("named", EXPLAIN, explain)) == ["FORBIDDEN"]
    assert codes(await cases("other", EXPLAIN, explain)) == ["FORBIDDEN"]
    assert codes(await cases("named2", EXPLAIN, {**explain, "m": " "})) == ["VALIDATION"]
    explained = await cases.ok("named2", EXPLAIN, explain)
    assert explained["concernExplain"]["status"] == "EXPLAINED"
    assert codes(await cases("named2", EXPLAIN, explain)) == ["CONFLICT"]
    closed = await cases.ok("named", CLOSE, {"id": cid, "n": "Satisfied"})
    assert closed["concernClose"]["status"] == "CLOSED"
    assert codes(await cases("named", CLOSE, {"id": cid})) == ["CONFLICT"]
    assert codes(await cases("named2", EXPLAIN, explain)) == ["CONFLICT"]
    for who in ("named", "named2"):
        seen = await cases.ok(who, "{ disclosureConcerns { id status } }")
        assert {"id": cid, "status": "CLOSED"} in seen["disclosureConcerns"]
    other = await cases.ok("provider", "{ disclosureConcerns { id } }")
    assert cid not in {c["id"] for c in other["disclosureConcerns"]}
    entities = """query($r: [_Any!]!) { _entities(representations: $r) {
      ... on DisclosureConcern { status } } }"""
    rep = {"r": [{"__typename": "DisclosureConcern", "id": cid}]}
    assert (await cases.ok("named2", entities, rep))["_entities"] == [{"status": "CLOSED"}]
    assert codes(await cases("provider", entities, rep)) == ["FORBIDDEN"]


async def test_concern_raised_by_the_chair(cases: Cases, shared_case: str) -> None:
    raised = await cases.ok(
        "chair", RAISE, {"c": shared_case, "r": "DEU", "d": "A report quoted the case"}
    )
    concern = raised["concernRaise"]
    assert concern["raisedByRole"] == "CHAIR" and concern["raisedByState"] is None
    cid = concern["id"]
    assert (await cases.ok("chair", ONE_CONCERN, {"id": cid}))["disclosureConcern"]["id"] == cid
    assert codes(await cases("secretariat", ONE_CONCERN, {"id": cid})) == ["FORBIDDEN"]
    assert codes(await cases("chair", EXPLAIN, {"id": cid, "e": "e", "m": "m"})) == ["FORBIDDEN"]
    explained = await cases.ok("named", EXPLAIN, {"id": cid, "e": "Checked", "m": "Reminded"})
    assert explained["concernExplain"]["status"] == "EXPLAINED"
    assert codes(await cases("named", CLOSE, {"id": cid})) == ["FORBIDDEN"]
    assert codes(await cases("secretariat", CLOSE, {"id": cid})) == ["FORBIDDEN"]
    closed = await cases.ok("chair", CLOSE, {"id": cid, "n": "Thank you"})
    assert closed["concernClose"]["status"] == "CLOSED"
    listed = await cases.ok("secretariat", "{ disclosureConcerns { id } }")
    assert cid not in {c["id"] for c in listed["disclosureConcerns"]}


# --- involved States, arrangements, briefings ---------------------------------------------


async def test_involved_states_are_notified_and_respond(cases: Cases) -> None:
    case_id = await share_case(
        cases, "provider", "Involved", audience=NAMED, involvedStates=["DEU"]
    )
    notify = "mutation($id: ID!) { caseNotifyInvolvedStates(id: $id) { case { id } } }"
    assert codes(await cases("named", notify, {"id": case_id})) == ["FORBIDDEN"]
    await cases.ok("provider", notify, {"id": case_id})
    respond = (
        "mutation($id: ID!, $r: String!) { caseRespond(id: $id, response: $r) { case { id } } }"
    )
    assert codes(await cases("named2", respond, {"id": case_id, "r": "x"})) == ["FORBIDDEN"]
    assert codes(await cases("other", respond, {"id": case_id, "r": "x"})) == ["FORBIDDEN"]
    await cases.ok("named", respond, {"id": case_id, "r": "We confirm the transit"})
    read = (
        "query($id: ID!) { case(id: $id) { audience { states } involvedStates { code } "
        "involvements { state { code } notifiedAt response } audienceShownToRecipients } }"
    )
    provider = (await cases.ok("provider", read, {"id": case_id}))["case"]
    assert provider["involvedStates"] == [{"code": "DEU"}]
    assert provider["involvements"][0]["response"] == "We confirm the transit"
    assert provider["audienceShownToRecipients"] is False
    own = (await cases.ok("named", read, {"id": case_id}))["case"]
    assert own["involvements"][0]["response"] == "We confirm the transit"
    assert own["audience"]["states"] == ["DEU"], "the other recipients stay hidden"
    # Another recipient learns neither who else received the case nor who is involved.
    hidden = (await cases.ok("named2", read, {"id": case_id}))["case"]
    assert (hidden["involvedStates"], hidden["involvements"]) == ([], [])
    assert hidden["audience"]["states"] == ["NLD"]
    assert "DEU" not in str(hidden) and "We confirm" not in str(hidden)
    # The provider may show the lists; an involved State's response stays its own.
    show = """mutation($id: ID!) { caseUpdate(id: $id, input: {audienceShownToRecipients: true})
      { case { id } } }"""
    assert codes(await cases("named", show, {"id": case_id})) == ["FORBIDDEN"]
    await cases.ok("provider", show, {"id": case_id})
    shown = (await cases.ok("named2", read, {"id": case_id}))["case"]
    assert shown["audience"]["states"] == ["DEU", "NLD"]
    assert shown["involvedStates"] == [{"code": "DEU"}]
    [involved] = shown["involvements"]
    assert involved["notifiedAt"] and involved["response"] is None


async def test_arrangements_are_confidential_to_their_states(
    cases: Cases, shared_case: str
) -> None:
    create = """mutation($c: ID!, $s: [String!]!, $w: String!) {
      arrangementCreate(caseId: $c, states: $s, what: $w, who: "Customs", dueOn: "2026-12-31")
      { case { arrangements { id states what status } } } }"""
    assert codes(await cases("named", create, {"c": shared_case, "s": ["ITA"], "w": "x"})) == [
        "VALIDATION"
    ]
    assert codes(await cases("other", create, {"c": shared_case, "s": ["DEU"], "w": "x"})) == [
        "FORBIDDEN"
    ]
    made = await cases.ok("named", create, {"c": shared_case, "s": ["FRA"], "w": "Joint check"})
    [arrangement] = made["arrangementCreate"]["case"]["arrangements"]
    assert arrangement["states"] == ["DEU", "FRA"] and arrangement["status"] == "OPEN"
    q = "query($id: ID!) { case(id: $id) { arrangements { id what } } }"
    assert (await cases.ok("provider", q, {"id": shared_case}))["case"]["arrangements"]
    assert (await cases.ok("named2", q, {"id": shared_case}))["case"]["arrangements"] == []
    status = """mutation($c: ID!, $id: ID!) { arrangementSetStatus(caseId: $c, id: $id,
      status: DONE) { case { arrangements { status } } } }"""
    args = {"c": shared_case, "id": arrangement["id"]}
    assert codes(await cases("named2", status, args)) == ["FORBIDDEN"]
    done = await cases.ok("provider", status, args)
    assert done["arrangementSetStatus"]["case"]["arrangements"] == [{"status": "DONE"}]


async def test_briefing_consent_is_the_providers(cases: Cases, shared_case: str) -> None:
    set_it = """mutation($id: ID!) { caseSetBriefingConsent(id: $id, excludedFromBriefings: true,
      attributionConsent: false) {
        case { briefing { excludedFromBriefings attributionConsent } } } }"""
    assert codes(await cases("named", set_it, {"id": shared_case})) == ["FORBIDDEN"]
    done = await cases.ok("provider", set_it, {"id": shared_case})
    assert done["caseSetBriefingConsent"]["case"]["briefing"] == {
        "excludedFromBriefings": True,
        "attributionConsent": False,
    }
