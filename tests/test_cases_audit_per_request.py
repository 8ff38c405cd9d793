"""Every read of one request is audited in one insert, written where its answer is made:
however many resolvers read cases (a case, a list, the entities of a federated request),
one ``insert`` reaches MongoDB; if it fails, the caller gets the failure, never the
content (pymongo's command monitoring; a real unique index makes the real insert fail)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import MongoClient

from services.common.ids import from_global_id
from tests import cases_support
from tests.cases_support import Cases, codes, share_case
from tests.command_counts import commands

cases_settings = cases_support.cases_settings
cases = cases_support.cases

MANY = """query($a: ID!, $b: ID!, $r: [_Any!]!) {
  a: case(id: $a) { id title }
  b: case(id: $b) { id summary }
  cases(first: 2) { edges { node { id } } }
  _entities(representations: $r) { ... on Case { id title } }
}"""
TWO = "query($a: ID!, $b: ID!) { a: case(id: $a) { id title } b: case(id: $b) { id } }"
ONE = "query($a: ID!) { a: case(id: $a) { id title } }"


@pytest.fixture(scope="module")
def raw(cases_settings: Any) -> Any:
    client: MongoClient[dict[str, Any]] = MongoClient(cases_settings.mongodb_uri)
    yield client[cases_settings.cases_db]["audit_log"]
    client.close()


async def test_the_reads_of_one_request_are_one_insert(cases: Cases, raw: Any) -> None:
    made = [await share_case(cases, "provider", f"Case {i}") for i in range(4)]
    refs = [{"__typename": "Case", "id": i} for i in made[2:]]
    before = raw.count_documents({"actor": "deu-1"})
    with commands() as seen:
        answer = await cases.http.post(
            "/graphql",
            json={"query": MANY, "variables": {"a": made[0], "b": made[1], "r": refs}},
            headers={**cases.headers("named"), "X-Request-Id": "req-many-reads"},
        )
    data = answer.json()
    assert "errors" not in data, data
    assert data["data"]["a"]["title"] == "Case 0" and data["data"]["b"]["id"] == made[1]
    assert [e["node"]["id"] for e in data["data"]["cases"]["edges"]] == made[::-1][:2]
    assert [c["id"] for c in data["data"]["_entities"]] == made[2:]
    assert seen.of(cases.settings.cases_db).count("insert") == 1
    # two direct reads, two listed, two entities: six entries, all of this request
    entries = list(raw.find({"request_id": "req-many-reads"}))
    assert len(entries) == 6 == raw.count_documents({"actor": "deu-1"}) - before
    ids = [from_global_id(i, "Case") for i in made]
    read = sorted((str(e["case_id"]), e.get("target") or "") for e in entries)
    assert read == sorted([(str(i), "") for i in ids] + [(str(i), "list") for i in ids[2:]])

    # a refused read adds nothing, and a request that reads nothing writes nothing
    with commands() as seen:
        refused = await cases("non_party", ONE, {"a": made[0]})
    assert codes(refused) == ["FORBIDDEN"]
    assert "insert" not in seen.of(cases.settings.cases_db)


async def test_an_answer_whose_audit_cannot_be_written_is_not_given(cases: Cases, raw: Any) -> None:
    made = [await share_case(cases, "provider", f"Guarded {i}") for i in range(2)]
    raw.delete_many({})
    # A request's entries share its request id: with this index, a request that reads
    # one case is written, one that reads two cannot be.
    raw.create_index("request_id", unique=True, name="one_entry_per_request")
    try:
        one = await cases.ok("named", ONE, {"a": made[0]})
        assert one["a"]["title"] == "Guarded 0"
        assert raw.count_documents({}) == 1

        two = await cases("named", TWO, {"a": made[0], "b": made[1]})
        assert two["data"] is None  # neither case leaves the service
        assert codes(two) == ["INTERNAL"]
        assert "Guarded" not in str(two)
    finally:
        raw.drop_index("one_entry_per_request")
    # once the log can be written again, so is the answer
    again = await cases.ok("named", TWO, {"a": made[0], "b": made[1]})
    assert again["a"]["title"] == "Guarded 0" and again["b"]["id"] == made[1]
