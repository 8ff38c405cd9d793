"""The cases listing reads one page plus one case, audits the page in one insert, and
counts only when ``totalCount`` is asked for; a page after a cursor is a range after it on
the listing's index, hinted, up to its size (pymongo's command monitoring)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import bson
from bson import ObjectId
from pymongo import MongoClient

from services.common.ids import from_global_id
from tests import cases_support
from tests.cases_support import LIST, Cases, codes, share_case
from tests.command_counts import commands

cases_settings = cases_support.cases_settings
cases = cases_support.cases

PAGE = (
    "query($first: Int) { cases(first: $first) { pageInfo { hasNextPage } edges { node { id } } } }"
)


async def test_a_page_without_its_count_is_one_find_and_one_audit_insert(cases: Cases) -> None:
    made = [await share_case(cases, "provider", f"Case {i}") for i in range(5)]
    database = cases.settings.cases_db
    with commands() as seen:
        page = (await cases.ok("named", PAGE, {"first": 3}))["cases"]
    assert [e["node"]["id"] for e in page["edges"]] == made[::-1][:3]
    assert page["pageInfo"]["hasNextPage"] is True
    assert seen.of(database) == ["find", "insert"]  # the page (and one more), its audit

    with commands() as seen:
        last = (await cases.ok("named", PAGE, {"first": 5}))["cases"]
    assert last["pageInfo"]["hasNextPage"] is False

    with commands() as seen:
        counted = (await cases.ok("named", LIST, {"first": 2}))["cases"]
    assert counted["totalCount"] == 5
    assert sorted(seen.of(database)) == ["aggregate", "find", "insert"]  # the count, asked
    client: MongoClient[dict[str, Any]] = MongoClient(cases.settings.mongodb_uri)
    audited = client[database]["audit_log"]
    assert audited.count_documents({"actor": "deu-1", "target": "list"}) == 3 + 5 + 2
    client.close()


PAGES = """query($first: Int, $after: String) { cases(first: $first, after: $after) {
  pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id } } } }"""


def _finds(seen: Any, database: str) -> list[dict[str, Any]]:
    return [c for c in seen.commands_of(database) if "find" in c and c["find"] == "cases"]


async def test_pages_are_ranges_on_the_listing_index_up_to_their_size(cases: Cases) -> None:
    from services.cases.handlers import LISTING

    database = cases.settings.cases_db
    client: MongoClient[dict[str, Any]] = MongoClient(cases.settings.mongodb_uri)
    made = [await share_case(cases, "provider", f"Paged {i}") for i in range(4)]
    # Three cases made in the same millisecond: their order is their ids'.
    tied = [from_global_id(i, "Case") for i in made[1:]]
    moment = client[database]["cases"].find_one({"_id": tied[0]})["created_at"]
    client[database]["cases"].update_many({"_id": {"$in": tied}}, {"$set": {"created_at": moment}})
    everything = [
        e["node"]["id"] for e in (await cases.ok("named", PAGES, {"first": 200}))["cases"]["edges"]
    ]

    walked: list[str] = []
    after = None
    for _ in range(len(everything)):
        with commands() as seen:
            page = (await cases.ok("named", PAGES, {"first": 2, "after": after}))["cases"]
        [find] = _finds(seen, database)
        assert find["hint"] == LISTING.index
        assert find["sort"] == {"created_at": -1, "_id": -1}
        assert find["limit"] == 3 and "skip" not in find  # the page and one more
        if after is not None:  # the range after the cursor's case, on the index's field
            assert "$lte" in str(find["filter"]) and "created_at" in str(find["filter"])
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        walked += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert walked == everything  # every case once, in the listing's order, ties included
    assert everything[:4] == [made[3], made[2], made[1], made[0]]  # ties: by id, newest first

    # The server's plan for the hinted page: a walk of the listing's index.
    plan = client[database].command(
        {
            "explain": {
                k: v for k, v in find.items() if k in ("find", "filter", "sort", "hint", "limit")
            }
        }
    )
    assert LISTING.index in str(plan["queryPlanner"]["winningPlan"])
    assert "IXSCAN" in str(plan["queryPlanner"]["winningPlan"])

    # Forged cursors are refused: not base64, not BSON, the wrong number of values, or
    # anything but plain values (an operator, a document, a list, a boolean).
    def key(values: Any) -> str:
        return base64.urlsafe_b64encode(bson.encode({"k": values})).decode()

    moment = datetime(2100, 1, 1, tzinfo=UTC)  # after every case: the listing is newest first
    forged = [
        "k:1:zz.1",
        "k:1:" + "f" * 40,
        "k:-1:" + key([moment, ObjectId()]),
        "k:1:" + key([moment]),
        "k:1:" + key([{"$gt": ""}, ObjectId()]),
        "k:1:" + key([moment, {"$ne": None}]),
        "k:1:" + key([[moment], ObjectId()]),
        "k:1:" + key([True, ObjectId()]),
        "k:1:" + base64.urlsafe_b64encode(b"\x05\x00\x00\x00\x01").decode(),
    ]
    for cursor in forged:
        after = base64.urlsafe_b64encode(cursor.encode()).decode()
        bad = await cases("named", PAGES, {"first": 2, "after": after})
        assert codes(bad) == ["VALIDATION"], cursor
    # A plain key moves the page, never past what the caller may read: the caller's
    # cases after that moment, as the listing has them.
    after = base64.urlsafe_b64encode(f"k:0:{key([moment, ObjectId()])}".encode()).decode()
    moved = (await cases.ok("named", PAGES, {"first": 200, "after": after}))["cases"]
    assert [e["node"]["id"] for e in moved["edges"]] == everything
    old = base64.urlsafe_b64encode(b"o:0").decode()
    second = (await cases.ok("named", PAGES, {"first": 1, "after": old}))["cases"]["edges"]
    assert [e["node"]["id"] for e in second] == everything[1:2]
    client.close()
