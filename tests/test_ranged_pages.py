"""Pages as ranges on the list's sort key: the cursor's key, the range after it, and the
contacts directory's pages as they reach MongoDB (pymongo's command monitoring): hinted
to the index of the directory's order, a range after the cursor, the page and one more,
never a skip."""

from __future__ import annotations

import base64
from datetime import date, datetime

import bson
import pytest
from bson import ObjectId

from services.common.errors import ValidationFailed
from services.common.ids import from_global_id
from services.common.principal import Principal, Role
from services.common.ranged_pages import after_condition, decode_key, encode_key
from services.contacts import handlers
from services.contacts.domain import AuthorityKind, ContactRole
from tests.command_counts import walk_pages
from tests.conftest import GraphQLClient, TokenFactory
from tests.test_contacts_api import PARTIES

SECRETARIAT = Principal("sec", frozenset({Role.SECRETARIAT}))
PAGE = """query($first: Int, $after: String, $filter: ContactFilter) {
  contacts(first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage endCursor } edges { node { id stateCode name } } } }"""


def test_the_range_after_a_key_is_lexicographic_and_bounded_on_the_leading_field() -> None:
    assert after_condition(["s", "n", "_id"], [1, 1, 1], ["FRA", "Ann", 7]) == {
        "$and": [
            {"s": {"$gte": "FRA"}},
            {
                "$or": [
                    {"s": {"$gt": "FRA"}},
                    {"s": "FRA", "n": {"$gt": "Ann"}},
                    {"s": "FRA", "n": "Ann", "_id": {"$gt": 7}},
                ]
            },
        ]
    }
    assert after_condition(["at", "_id"], [-1, -1], [5, 9])["$and"][0] == {"at": {"$lte": 5}}


def test_a_key_holds_plain_stored_values_only() -> None:
    oid = ObjectId()
    key = encode_key(["FRA", date(2027, 6, 1), oid])
    assert key is not None
    assert decode_key(key, 3) == ["FRA", datetime(2027, 6, 1), oid]  # a day, as stored
    assert encode_key(["FRA", None, oid]) is None  # no bound: that cursor is an offset
    with pytest.raises(ValidationFailed):
        decode_key(key, 2)
    for values in ([{"$gt": ""}], [["FRA"]], [True], [b"\x00"], [bson.Regex(".*")]):
        forged = base64.urlsafe_b64encode(bson.encode({"k": values})).decode()
        with pytest.raises(ValidationFailed):
            decode_key(forged, 1)
    for junk in ("", "!!", base64.urlsafe_b64encode(b"\x05\x00\x00\x00\x01").decode()):
        with pytest.raises(ValidationFailed):
            decode_key(junk, 1)


def _directory() -> list[str]:
    handlers.seed_states(PARTIES)
    made = []
    for state in ("FRA", "DEU"):
        authority = handlers.create_authority(
            SECRETARIAT, state, {"kind": AuthorityKind.CUSTOMS, "name": f"{state} customs"}
        )
        for i, name in enumerate(["Ana", "Bo", "Bo", "Cy"]):  # two of one name: by id
            contact = handlers.create_contact(
                SECRETARIAT,
                authority.pk,
                {
                    "name": name,
                    "functional_email": f"{name.lower()}{i}@{state.lower()}.example.org",
                    "roles": [ContactRole.NATIONAL_POINT_OF_CONTACT] if i == 0 else [],
                },
            )
            made.append(str(contact.pk))
    return made


async def test_directory_pages_are_hinted_ranges_up_to_their_size(
    gql: GraphQLClient, token: TokenFactory
) -> None:
    from services.common.mongo import run_sync

    await run_sync(_directory)
    sec = token(sub="sec", roles=("secretariat",), participant=False)
    database = "test_contacts"
    whole = (await gql(PAGE, {"first": 200}, sec))["data"]["contacts"]["edges"]
    everything = [(e["node"]["stateCode"], e["node"]["name"]) for e in whole]
    assert everything == sorted(everything) and len(everything) == 8
    ids = [from_global_id(e["node"]["id"], "Contact") for e in whole]
    assert ids[1] < ids[2]  # DEU's two Bo, by id (a global id's text does not sort so)

    for flt, hinted in (({}, True), ({"stateCode": "FRA"}, True), ({"nameContains": "o"}, False)):
        expected = [
            e["node"]["id"]
            for e in (await gql(PAGE, {"first": 200, "filter": flt}, sec))["data"]["contacts"][
                "edges"
            ]
        ]
        walked, finds = await walk_pages(
            lambda variables: gql(PAGE, variables, sec),
            {"first": 3, "filter": flt},
            "contacts",
            database,
            "contacts",
            10,
        )
        for find in finds:
            assert find["sort"] == {"state_code": 1, "name": 1, "_id": 1}
            assert find["limit"] == 4 and "skip" not in find
            assert (find.get("hint") == "state_name_id") is hinted, flt
        for find in finds[1:]:  # bounded on the leading field: the index's range
            assert "{'state_code': {'$gte':" in str(find["filter"])
        assert walked == expected and len(expected) > 3, flt  # more than one page

    forged = base64.urlsafe_b64encode(
        b"k:0:" + base64.urlsafe_b64encode(bson.encode({"k": [{"$ne": 1}, "a", ObjectId()]}))
    ).decode()
    refused = await gql(PAGE, {"first": 3, "after": forged}, sec)
    assert refused["errors"][0]["extensions"]["code"] == "VALIDATION"
