"""Who sees which case, section by section, through every query that returns case
content: the direct fetch, the list and its count, search, federation entities and the
presentation link (rules 13-15). Real MongoDB-wire server and NATS."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import MongoClient

from services.common.ids import from_global_id, to_global_id
from tests import cases_support
from tests.cases_support import CALLERS, GET, LIST, Cases, codes, share_case

cases_settings = cases_support.cases_settings
cases = cases_support.cases

ALL_CALLERS = [*CALLERS, None]


@pytest.fixture(scope="module")
async def world(cases: Cases) -> dict[str, str]:
    """A: named DEU and NLD, actors for DEU only. B: all participants and the Secretariat.
    C: a draft. D: all participants, summary and routes for DEU only."""
    named = {"kind": "NAMED_STATES", "states": ["DEU", "NLD"]}
    deu_only = {"kind": "NAMED_STATES", "states": ["DEU"]}
    a = await share_case(
        cases,
        "provider",
        "Alpha brokers network",
        audience=named,
        sectionAudiences=[{"section": "ACTORS", "audience": deu_only}],
    )
    # A is linked to presentation-1 as the service stores a link it checked (rule 13:
    # France gives it); the reads below only see what is stored
    client: MongoClient[dict[str, Any]] = MongoClient(cases.settings.mongodb_uri)
    client[cases.settings.cases_db]["cases"].update_one(
        {"_id": from_global_id(a, "Case")}, {"$set": {"presentation_ids": ["presentation-1"]}}
    )
    client.close()
    b = await share_case(
        cases,
        "provider",
        "Bravo open case",
        audience={"kind": "ALL_PARTICIPANTS", "includeSecretariat": True},
    )
    draft = await cases.ok(
        "provider",
        "mutation($i: CaseFieldsInput!) { caseCreate(input: $i) { case { id } } }",
        {"i": {"title": "Charlie draft", "summary": "unshared zephyr"}},
    )
    d = await share_case(
        cases,
        "provider",
        "Delta route",
        summary="The zephyr shipment",
        routes=[{"country": "ROU", "role": "TRANSIT"}],
        sectionAudiences=[
            {"section": "SUMMARY", "audience": deu_only},
            {"section": "ROUTES", "audience": deu_only},
        ],
    )
    return {"A": a, "B": b, "C": draft["caseCreate"]["case"]["id"], "D": d}


TITLES = {
    "A": "Alpha brokers network",
    "B": "Bravo open case",
    "C": "Charlie draft",
    "D": "Delta route",
}
# Which cases each caller may read at all.
READABLE: dict[str | None, set[str]] = {
    "provider": {"A", "B", "C", "D"},
    "provider2": {"A", "B", "C", "D"},
    "named": {"A", "B", "D"},
    "named2": {"A", "B", "D"},
    "other": {"B", "D"},
    "non_party": set(),
    "secretariat": {"B"},
    "chair": set(),
    "expert": set(),
    "system": set(),
    None: set(),
}
# Sections withheld from a caller who may read the case.
WITHHELD: dict[tuple[str, str], list[str]] = {
    ("named2", "A"): ["ACTORS"],
    ("other", "D"): ["SUMMARY", "ROUTES"],
    ("named2", "D"): ["SUMMARY", "ROUTES"],
}


@pytest.mark.parametrize("who", ALL_CALLERS)
@pytest.mark.parametrize("which", ["A", "B", "C", "D"])
async def test_direct_fetch(
    cases: Cases, world: dict[str, str], who: str | None, which: str
) -> None:
    result = await cases(who, GET, {"id": world[which]})
    if who is None:
        assert codes(result) == ["UNAUTHENTICATED"]
        return
    if which not in READABLE[who]:
        assert codes(result) == ["FORBIDDEN"]
        assert result["data"] == {"case": None}
        assert TITLES[which] not in str(result)  # the refusal names nothing
        return
    assert "errors" not in result, result
    case = result["data"]["case"]
    assert case["title"] == TITLES[which]
    withheld = WITHHELD.get((who, which), [])
    assert case["withheldSections"] == withheld
    fields = {
        "SUMMARY": case["summary"],
        "ACTORS": case["actors"],
        "ROUTES": case["routes"],
        "DIVERSION": case["diversion"],
        "DISCOVERY": case["discovery"],
        "METHODS": case["methods"],
        "ITEMS": case["items"],
    }
    for section, value in fields.items():
        if section in withheld:
            assert value is None, (section, value)
        elif which != "C":
            assert value, (section, value)


async def test_unknown_id_is_refused_like_a_forbidden_one(
    cases: Cases,
    world: dict[str, str],
) -> None:
    unknown = "Q2FzZTo2NTAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="  # Case:650000000000000000000000
    result = await cases("other", GET, {"id": unknown})
    forbidden = await cases("other", GET, {"id": world["A"]})
    assert codes(result) == codes(forbidden) == ["FORBIDDEN"]
    assert result["errors"][0]["message"] == forbidden["errors"][0]["message"]


@pytest.mark.parametrize("who", ALL_CALLERS)
async def test_lists_and_counts_hold_only_readable_cases(
    cases: Cases,
    world: dict[str, str],
    who: str | None,
) -> None:
    result = await cases(who, LIST, {"first": 1})
    if who is None:
        assert codes(result) == ["UNAUTHENTICATED"]
        return
    assert "errors" not in result, result
    assert result["data"]["cases"]["totalCount"] == len(READABLE[who])
    seen: list[str] = []
    after = None
    while True:
        page = await cases.ok(who, LIST, {"first": 1, "after": after})
        seen += [e["node"]["title"] for e in page["cases"]["edges"]]
        if not page["cases"]["pageInfo"]["hasNextPage"]:
            break
        after = page["cases"]["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(TITLES[c] for c in READABLE[who])


@pytest.mark.parametrize(
    ("who", "flt", "expected"),
    [
        # the summary of D is DEU's only: a word in it finds D for DEU, not for ITA
        ("named", {"words": "zephyr"}, {"D"}),
        ("other", {"words": "zephyr"}, set()),
        ("provider", {"words": "ZEPHYR"}, {"C", "D"}),
        ("other", {"words": "bravo"}, {"B"}),
        # D's route is DEU's only
        ("named", {"routeCountry": "ROU"}, {"D"}),
        ("other", {"routeCountry": "rou"}, set()),
        ("other", {"routeCountry": "MLT"}, {"B"}),
        ("named", {"routeCountry": "MLT"}, {"A", "B"}),
        ("named", {"categories": ["TRAFFICKING_ROUTES"]}, {"A", "B", "D"}),
        ("named", {"categories": ["ILLICIT_BROKERS"]}, set()),
        ("named", {"itemKinds": ["SMALL_ARMS_AND_LIGHT_WEAPONS"]}, {"A", "B", "D"}),
        ("named", {"itemKinds": ["WARSHIPS"]}, set()),
        ("provider", {"status": "DRAFT"}, {"C"}),
        ("named", {"status": "DRAFT"}, set()),
        ("named", {"provider": "FRA"}, {"A", "B", "D"}),
        ("named", {"provider": "DEU"}, set()),
        ("named", {"sharedAfter": "2000-01-01", "sharedBefore": "2999-01-01"}, {"A", "B", "D"}),
        ("named", {"sharedBefore": "2001-01-01"}, set()),
        ("named", {"discoveredAfter": "2025-02-01"}, {"A", "B", "D"}),
        ("named", {"discoveredAfter": "2025-03-02"}, set()),
        ("secretariat", {"words": "case"}, {"B"}),
        ("expert", {}, set()),
    ],
)
async def test_search_never_matches_what_the_caller_may_not_read(
    cases: Cases,
    world: dict[str, str],
    who: str,
    flt: dict[str, Any],
    expected: set[str],
) -> None:
    data = await cases.ok(who, LIST, {"filter": flt})
    titles = {e["node"]["title"] for e in data["cases"]["edges"]}
    assert titles == {TITLES[c] for c in expected}
    assert data["cases"]["totalCount"] == len(expected)


ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Case { title actors { name } }
  ... on Presentation { id case { title actors { name } withheldSections } } } }"""


@pytest.mark.parametrize("who", ["named", "named2", "other", "secretariat", "expert"])
async def test_federated_case_entity(
    cases: Cases,
    world: dict[str, str],
    who: str,
) -> None:
    result = await cases(who, ENTITIES, {"r": [{"__typename": "Case", "id": world["A"]}]})
    if "A" in READABLE[who]:
        assert result["data"]["_entities"][0]["title"] == TITLES["A"]
        actors = result["data"]["_entities"][0]["actors"]
        assert (actors is None) == (who == "named2")
    else:
        assert codes(result) == ["FORBIDDEN"]
        assert TITLES["A"] not in str(result)


@pytest.mark.parametrize("who", ["named", "named2", "other", "secretariat", None])
async def test_presentation_shows_its_case_only_to_readers(
    cases: Cases,
    world: dict[str, str],
    who: str | None,
) -> None:
    rep = [{"__typename": "Presentation", "id": "presentation-1", "presentingStateCode": "FRA"}]
    result = await cases(who, ENTITIES, {"r": rep})
    if who is None:
        assert codes(result) == ["UNAUTHENTICATED"]
        return
    assert "errors" not in result, result
    case = result["data"]["_entities"][0]["case"]
    if "A" in READABLE[who]:
        assert case["title"] == TITLES["A"]
        assert case["withheldSections"] == WITHHELD.get((who, "A"), [])
    else:
        assert case is None


async def test_section_audiences_are_for_the_provider_only(
    cases: Cases,
    world: dict[str, str],
) -> None:
    q = "query($id: ID!) { case(id: $id) { sectionAudiences { section audience { states } } } }"
    mine = await cases.ok("provider", q, {"id": world["A"]})
    assert mine["case"]["sectionAudiences"] == [
        {"section": "ACTORS", "audience": {"states": ["DEU"]}}
    ]
    theirs = await cases.ok("named", q, {"id": world["A"]})
    assert theirs["case"]["sectionAudiences"] is None


async def test_narrowing_the_audience_removes_access_at_once(
    cases: Cases,
    world: dict[str, str],
) -> None:
    case_id = await share_case(cases, "provider", "Echo narrowing")
    assert "errors" not in await cases("other", GET, {"id": case_id})
    update = (
        "mutation($id: ID!, $i: CaseFieldsInput!) { caseUpdate(id: $id, input: $i) "
        "{ case { revision audience { states } } } }"
    )
    done = await cases.ok(
        "provider",
        update,
        {"id": case_id, "i": {"audience": {"kind": "NAMED_STATES", "states": ["DEU"]}}},
    )
    assert done["caseUpdate"]["case"]["revision"] == 2
    assert codes(await cases("other", GET, {"id": case_id})) == ["FORBIDDEN"]
    listed = await cases.ok("other", LIST, {"filter": {"words": "echo"}})
    assert listed["cases"]["totalCount"] == 0


async def test_history_names_only_sections_the_reader_may_read(cases: Cases) -> None:
    case_id = await share_case(
        cases,
        "provider",
        "Foxtrot history",
        audience={"kind": "NAMED_STATES", "states": ["DEU", "NLD"]},
        sectionAudiences=[
            {"section": "ACTORS", "audience": {"kind": "NAMED_STATES", "states": ["DEU"]}}
        ],
    )
    update = (
        "mutation($id: ID!, $i: CaseFieldsInput!) "
        "{ caseUpdate(id: $id, input: $i) { case { id } } }"
    )
    change = {
        "summary": "Revised summary",
        "actors": [{"role": "CARRIER", "name": "Shipping Co", "kind": "COMPANY"}],
    }
    await cases.ok("provider", update, {"id": case_id, "i": change})
    q = "query($id: ID!) { case(id: $id) { revision history { revision changedSections } } }"
    deu = await cases.ok("named", q, {"id": case_id})
    assert deu["case"]["history"] == [{"revision": 1, "changedSections": ["ACTORS", "SUMMARY"]}]
    nld = await cases.ok("named2", q, {"id": case_id})
    assert nld["case"]["revision"] == 2
    assert nld["case"]["history"] == [{"revision": 1, "changedSections": ["SUMMARY"]}]
    assert codes(await cases("other", q, {"id": case_id})) == ["FORBIDDEN"]


@pytest.mark.parametrize(
    "representation",
    [
        {"__typename": "Case", "id": {"$gt": ""}},  # operator-shaped key
        {"__typename": "Case", "id": {"$ne": None}},
        {"__typename": "Case", "id": ["a", "b"]},
        {"__typename": "Case", "id": 1.5},
        {"__typename": "Case", "id": True},
        {"__typename": "Case", "title": "x"},  # not a key of Case
        {"__typename": "Presentation", "id": {"$regex": ".*"}},
        {"__typename": "NoSuchType", "id": "x"},
        {"__typename": {"$gt": ""}, "id": "x"},
    ],
)
async def test_hostile_entity_keys_answer_validation_and_reach_no_query(
    cases: Cases, world: dict[str, str], representation: dict[str, object]
) -> None:
    good = {"__typename": "Case", "id": world["A"]}
    result = await cases("named", ENTITIES, {"r": [representation, good]})
    assert codes(result) == ["VALIDATION"], result
    assert result["errors"][0]["path"] == ["_entities", 0]
    assert TITLES["A"] not in str(result["errors"])
    assert result["data"]["_entities"][1]["title"] == TITLES["A"], "the others still answer"


@pytest.mark.parametrize("presenter", ["DEU", ""])
async def test_a_case_linked_by_another_state_is_not_the_presentations_case(
    cases: Cases, world: dict[str, str], presenter: str
) -> None:
    """Rule 13 links a presentation to its presenter's case: FRA's case, linked to a
    presentation DEU gives (or one whose presenter is unknown), never shows on it."""
    rep = [{"__typename": "Presentation", "id": "presentation-1", "presentingStateCode": presenter}]
    for who in ("provider", "named", "secretariat"):
        result = await cases(who, ENTITIES, {"r": rep})
        assert "errors" not in result, result
        assert result["data"]["_entities"][0]["case"] is None, who
    assert TITLES["A"] not in str(result)


LINK = """mutation($id: ID!, $p: ID!) {
  caseLinkPresentation(id: $id, presentationId: $p) { case { presentationIds } } }"""
CREATE_LINKED = """mutation($i: CaseFieldsInput!) { caseCreate(input: $i) { case { id } } }"""


async def test_a_link_the_meetings_service_cannot_confirm_is_not_recorded(
    cases: Cases, world: dict[str, str]
) -> None:
    """Rule 13: who gives a presentation is asked of the meetings service (unreachable
    here); a link that cannot be checked is refused as UNAVAILABLE and nothing changes."""
    pid = to_global_id("Presentation", "6650f0f0f0f0f0f0f0f0f0f0")
    linked = await cases("provider", LINK, {"id": world["D"], "p": pid})
    assert codes(linked) == ["UNAVAILABLE"], linked
    made = await cases(
        "provider", CREATE_LINKED, {"i": {"title": "Linked at birth", "presentationId": pid}}
    )
    assert codes(made) == ["UNAVAILABLE"], made
    got = await cases.ok(
        "provider", "query($id: ID!) { case(id: $id) { presentationIds } }", {"id": world["D"]}
    )
    assert got["case"]["presentationIds"] == []
    assert codes(await cases(None, LINK, {"id": world["D"], "p": pid})) == ["UNAUTHENTICATED"]
