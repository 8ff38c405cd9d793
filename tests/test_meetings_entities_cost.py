"""The meetings subgraph answers an ``_entities`` call with one query per type, whatever
the number of representations: the caller checked once, one ``$in`` find (pymongo's
command monitoring), each refusal staying its item's alone; and its meetings list reads
each page as a range on the index of its order, up to the page's size."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import mongoengine
import pytest
from bson import ObjectId
from pymongo import MongoClient

from services.common.ids import to_global_id
from services.common.settings import Settings
from tests.command_counts import commands, walk_pages
from tests.conftest import GraphQLClient, TokenFactory
from tests.private_nats import private_nats  # noqa: F401 - the fixture
from tests.register_support import announce

CODES = ["AUT", "BEL", "DEU", "ESP", "FRA", "ITA", "NLD", "SWE"]
PRESENTATIONS = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Presentation { id title presentingStateCode notifiedInTime } } }"""
MEETINGS = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Meeting { id venue } } }"""
PARTICIPATED = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on State { code meetingsParticipated { totalCount edges { node { id venue } } } } } }"""
# The background check of data kept in memory, and the outbox relay: not the request's.
BACKGROUND = ("versions", "outbox")


@pytest.fixture
async def meetings(
    settings: Settings,
    private_nats: str,  # noqa: F811
    clean_databases: None,
) -> AsyncIterator[tuple[GraphQLClient, dict[str, Any]]]:
    from services.meetings.app import build
    from services.meetings.handlers import PARTICIPANTS

    own = settings.model_copy(update={"nats_url": private_nats})
    made = _fixtures(own)
    app = build(own)
    async with app.router.lifespan_context(app):
        # the callers' States take part: the register hears it as from the contacts service
        await announce(own, CODES, durable=PARTICIPANTS.durable)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://meetings") as http:
            yield GraphQLClient(http), made
    mongoengine.disconnect_all()


def _fixtures(settings: Settings) -> dict[str, Any]:
    """Two meetings; two presentations per State of CODES at the first; each State
    registered for the first meeting, and the even ones for the second too; one expert
    approved for the first presentation only (stored as the service stores them)."""
    from services.meetings.documents import ExpertProposal, Meeting, Presentation, Registration
    from services.meetings.experts import ExpertProposalStatus

    def meeting(day: int, venue: str) -> dict[str, Any]:
        doc = Meeting(
            pk=ObjectId(),
            session_id=ObjectId(),
            start_date=date(2027, 8, day),
            end_date=date(2027, 8, day + 1),
            venue=venue,
            decided_by="CSP President",
            decided_on=date(2026, 9, 1),
            recorded_by="sec",
        )
        doc.validate()
        return doc.to_mongo().to_dict()

    meetings = [meeting(23, "Geneva"), meeting(26, "Vienna")]
    presentations = []
    registrations = []
    for i, code in enumerate(CODES):
        for n in range(2):
            pres = Presentation(
                pk=ObjectId(),
                meeting_id=meetings[0]["_id"],
                presenting_state=code,
                title=f"{code} presentation {n}",
                intended_at=datetime(2027, 1, 1 + n, tzinfo=UTC),
                intended_by="someone",
            )
            pres.validate()
            presentations.append(pres.to_mongo().to_dict())
        for m in meetings[: 1 if i % 2 else 2]:
            reg = Registration(
                meeting_id=m["_id"],
                state=code,
                name=f"Delegate of {code}",
                function="POLICE",
                registered_by="someone",
                registered_at=datetime(2027, 1, 1, tzinfo=UTC),
            )
            reg.validate()
            registrations.append(reg.to_mongo().to_dict())
    proposal = ExpertProposal(
        meeting_id=meetings[0]["_id"],
        presentation_id=presentations[0]["_id"],
        proposing_state=CODES[0],
        expert_name="Jane Expert",
        expert_subject="expert-jane",
        purpose="Explain the seizure",
        status=ExpertProposalStatus.APPROVED,
        proposed_at=datetime(2027, 1, 1, tzinfo=UTC),
        proposed_by="someone",
        silence_ends_on=date(2027, 1, 15),
    )
    proposal.validate()
    raw: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    db = raw[settings.meetings_db]
    db[Meeting._meta["collection"]].insert_many(meetings)
    db[Presentation._meta["collection"]].insert_many(presentations)
    db[Registration._meta["collection"]].insert_many(registrations)
    db[ExpertProposal._meta["collection"]].insert_one(proposal.to_mongo().to_dict())
    raw.close()
    return {
        "database": settings.meetings_db,
        "meetings": [to_global_id("Meeting", m["_id"]) for m in meetings],
        "presentations": [to_global_id("Presentation", p["_id"]) for p in presentations],
    }


def _refs(typename: str, ids: list[str]) -> list[dict[str, str]]:
    return [{"__typename": typename, "id": i} for i in ids]


async def test_entities_of_each_type_cost_one_query_whatever_their_number(
    meetings: tuple[GraphQLClient, dict[str, Any]], token: TokenFactory
) -> None:
    mq, made = meetings
    database = made["database"]
    france = token(sub="fra-delegate", state="FRA")
    await mq(PRESENTATIONS, {"r": _refs("Presentation", made["presentations"][:1])}, france)

    # Presentations: one find of them, one of their meetings, at 2 and at 16.
    for n in (2, len(made["presentations"])):
        wanted = made["presentations"][:n]
        with commands() as seen:
            answer = await mq(PRESENTATIONS, {"r": _refs("Presentation", wanted)}, france)
        assert "errors" not in answer, answer
        found = answer["data"]["_entities"]
        assert [p["id"] for p in found] == wanted
        assert [p["title"] for p in found] == [
            f"{CODES[i // 2]} presentation {i % 2}" for i in range(n)
        ]
        assert all(p["notifiedInTime"] is True for p in found)  # no involved State
        assert seen.of(database, besides=BACKGROUND) == ["find", "find"], n

    # Meetings: one find, at 1 and 2.
    for n in (1, 2):
        wanted = made["meetings"][:n]
        with commands() as seen:
            answer = await mq(MEETINGS, {"r": _refs("Meeting", wanted)}, france)
        assert "errors" not in answer, answer
        assert [m["venue"] for m in answer["data"]["_entities"]] == ["Geneva", "Vienna"][:n]
        assert seen.of(database, besides=BACKGROUND) == ["find"], n

    # meetingsParticipated of 2 and of 8 States: one find of the registrations, one of
    # the meetings; each State's own meetings, in the order of their first days.
    for n in (2, len(CODES)):
        states = [{"__typename": "State", "code": c} for c in CODES[:n]]
        with commands() as seen:
            answer = await mq(PARTICIPATED, {"r": states}, france)
        assert "errors" not in answer, answer
        for i, state in enumerate(answer["data"]["_entities"]):
            expected = made["meetings"][: 1 if i % 2 else 2]
            assert state["code"] == CODES[i]
            assert state["meetingsParticipated"]["totalCount"] == len(expected)
            assert [e["node"]["id"] for e in state["meetingsParticipated"]["edges"]] == expected
        assert seen.of(database, besides=BACKGROUND) == ["find", "find"], n


async def test_each_refusal_stays_its_own_item_and_the_cost_stays_flat(
    meetings: tuple[GraphQLClient, dict[str, Any]], token: TokenFactory
) -> None:
    mq, made = meetings
    database = made["database"]
    missing = to_global_id("Presentation", ObjectId())
    wrong_kind = made["meetings"][0]  # a meeting's id where a presentation's is asked
    wanted = [made["presentations"][0], missing, "not-a-global-id", wrong_kind]
    wanted += made["presentations"][1:4]

    # An expert sees the one presentation approved for them, nothing else (rule 8).
    expert = token(sub="expert-jane", roles=("expert",), participant=False)
    with commands() as seen:
        answer = await mq(PRESENTATIONS, {"r": _refs("Presentation", wanted)}, expert)
    found = answer["data"]["_entities"]
    assert found[0]["id"] == made["presentations"][0]
    assert found[1:] == [None] * (len(wanted) - 1)
    codes = {e["path"][1]: e["extensions"]["code"] for e in answer["errors"]}
    assert codes == {
        1: "NOT_FOUND",
        2: "VALIDATION",
        3: "VALIDATION",
        **{i: "FORBIDDEN" for i in range(4, len(wanted))},
    }
    # the presentations, their meetings, the expert's approvals: three finds in all
    assert seen.of(database, besides=BACKGROUND) == ["find", "find", "find"]

    # Another expert is approved for none of them.
    other = token(sub="expert-john", roles=("expert",), participant=False)
    refused = await mq(PRESENTATIONS, {"r": _refs("Presentation", wanted[:1])}, other)
    assert refused["data"]["_entities"] == [None]
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # A non-participant's State sees neither presentations, meetings nor participation.
    usa = token(sub="usa-delegate", state="USA", participant=False)
    for query, refs in (
        (PRESENTATIONS, _refs("Presentation", made["presentations"][:2])),
        (MEETINGS, _refs("Meeting", made["meetings"])),
    ):
        refused = await mq(query, {"r": refs}, usa)
        assert refused["data"]["_entities"] == [None] * len(refs)
        assert {e["extensions"]["code"] for e in refused["errors"]} == {"FORBIDDEN"}
    states = [{"__typename": "State", "code": c} for c in CODES[:3]]
    with commands() as seen:
        refused = await mq(PARTICIPATED, {"r": states}, usa)
    assert [s["meetingsParticipated"] for s in refused["data"]["_entities"]] == [None] * 3
    assert {e["extensions"]["code"] for e in refused["errors"]} == {"FORBIDDEN"}
    assert seen.of(database, besides=BACKGROUND) == []  # refused before any read

    # Without a token nothing is answered.
    anonymous = await mq(PRESENTATIONS, {"r": _refs("Presentation", wanted[:1])})
    assert anonymous["errors"][0]["extensions"]["code"] in {"UNAUTHENTICATED", "FORBIDDEN"}


LIST = """query($first: Int, $after: String, $year: Int) {
  meetings(first: $first, after: $after, year: $year) {
    pageInfo { hasNextPage endCursor } edges { node { id startDate } } } }"""


async def test_meeting_pages_are_hinted_ranges_up_to_their_size(
    meetings: tuple[GraphQLClient, dict[str, Any]], token: TokenFactory, settings: Settings
) -> None:
    from services.meetings.documents import Meeting

    mq, made = meetings
    database = made["database"]
    france = token(sub="fra-delegate", state="FRA")
    raw: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    stored = raw[database][Meeting._meta["collection"]]
    first = stored.find_one()
    assert first is not None
    for day in (datetime(2027, 8, 23), datetime(2027, 8, 23), datetime(2028, 2, 1)):
        stored.insert_one({**first, "_id": ObjectId(), "start_date": day})  # ties: by id
    raw.close()
    expected = [
        e["node"]["id"]
        for e in (await mq(LIST, {"first": 200}, france))["data"]["meetings"]["edges"]
    ]
    assert len(expected) == 5

    for year, count in ((None, 5), (2027, 4)):
        walked, finds = await walk_pages(
            lambda variables: mq(LIST, variables, france),
            {"first": 2, "year": year},
            "meetings",
            database,
            "meetings",
            5,
        )
        for find in finds:
            assert find["hint"] == "start_date_id"
            assert find["sort"] == {"start_date": 1, "_id": 1}
            assert find["limit"] == 3 and "skip" not in find  # the page and one more
        for find in finds[1:]:  # after a cursor
            assert "{'start_date': {'$gte':" in str(find["filter"])
        assert walked == expected[:count], year
