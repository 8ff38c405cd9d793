"""The audit log (rules 15, 16): each read of a case's content is exactly one entry; the
provider sees who in which State read its case; nothing in the API alters the log."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import MongoClient

from tests import cases_support
from tests.cases_support import GET, LIST, UPDATE, Cases, codes, share_case

cases_settings = cases_support.cases_settings
cases = cases_support.cases

LOG = """query($id: ID!, $first: Int, $after: String) {
  caseAuditLog(caseId: $id, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { action actor actorState at target requestId } } } }"""


async def log_of(cases: Cases, case_id: str) -> list[dict[str, Any]]:
    data = await cases.ok("provider", LOG, {"id": case_id, "first": 200})
    return [e["node"] for e in data["caseAuditLog"]["edges"]]


def reads(entries: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(e["actor"], e["actorState"]) for e in entries if e["action"] == "READ"]


@pytest.fixture
async def case_id(cases: Cases) -> str:
    return await share_case(
        cases, "provider", "Audited", audience={"kind": "NAMED_STATES", "states": ["DEU"]}
    )


async def test_each_read_is_one_entry(cases: Cases, case_id: str) -> None:
    assert reads(await log_of(cases, case_id)) == []  # the provider's log reads are not reads
    response = await cases.http.post(
        "/graphql",
        json={"query": GET, "variables": {"id": case_id}},
        headers={**cases.headers("named"), "X-Request-Id": "req-audit-1"},
    )
    assert "errors" not in response.json()
    entries = await log_of(cases, case_id)
    assert reads(entries) == [("deu-1", "DEU")]
    [read] = [e for e in entries if e["action"] == "READ"]
    assert read["requestId"] == "req-audit-1"
    # a second read is a second entry; nested fields in one request add none
    nested = (
        "query($id: ID!) { case(id: $id) { title summary actors { name } history "
        "{ revision } attachments { id } useRequests { id } concerns { id } } }"
    )
    await cases.ok("named", nested, {"id": case_id})
    assert reads(await log_of(cases, case_id)) == [("deu-1", "DEU")] * 2
    # a list that returns the case is a read of it
    await cases.ok("named", LIST, {"filter": {"words": "audited"}})
    assert reads(await log_of(cases, case_id)) == [("deu-1", "DEU")] * 3


async def test_refused_reads_leave_no_entry_and_only_the_provider_reads_the_log(
    cases: Cases, case_id: str
) -> None:
    for who in ("other", "secretariat", "expert"):
        assert codes(await cases(who, GET, {"id": case_id})) == ["FORBIDDEN"]
    assert reads(await log_of(cases, case_id)) == []
    for who in ("named", "other", "secretariat", "chair", "system"):
        assert codes(await cases(who, LOG, {"id": case_id})) == ["FORBIDDEN"], who
    assert codes(await cases(None, LOG, {"id": case_id})) == ["UNAUTHENTICATED"]
    # another representative of the provider State reads the log too
    other_officer = await cases.ok("provider2", LOG, {"id": case_id})
    assert other_officer["caseAuditLog"]["totalCount"] >= 2


async def test_changes_are_logged(cases: Cases, case_id: str) -> None:
    await cases.ok("provider", UPDATE, {"id": case_id, "input": {"summary": "Second"}})
    actions = [e["action"] for e in await log_of(cases, case_id)]
    assert actions == ["CREATED", "SHARED", "UPDATED"]
    [updated] = [e for e in await log_of(cases, case_id) if e["action"] == "UPDATED"]
    assert updated["target"] == "summary"


async def test_no_mutation_touches_the_log(cases: Cases, case_id: str) -> None:
    introspection = await cases.ok(
        None, "{ __schema { mutationType { fields { name args { name } } } } }"
    )
    names = [f["name"].lower() for f in introspection["__schema"]["mutationType"]["fields"]]
    assert names and not [n for n in names if "audit" in n or "log" in n]
    await cases.ok("named", GET, {"id": case_id})
    before = await log_of(cases, case_id)
    # every kind of change the API offers, on this case
    await cases.ok("provider", UPDATE, {"id": case_id, "input": {"methods": "New methods"}})
    await cases.ok(
        "provider",
        "mutation($id: ID!) { caseSetBriefingConsent(id: $id, excludedFromBriefings: false, "
        "attributionConsent: true) { case { id } } }",
        {"id": case_id},
    )
    await cases.ok(
        "named",
        "mutation($c: ID!) { useRequestCreate(caseId: $c, use: INVESTIGATION, "
        'justification: "j") { id } }',
        {"c": case_id},
    )
    await cases.ok(
        "provider", "mutation($id: ID!) { caseArchive(id: $id) { case { id } } }", {"id": case_id}
    )
    after = await log_of(cases, case_id)
    assert after[: len(before)] == before  # earlier entries unchanged, in order
    assert [e["action"] for e in after[len(before) :]] == [
        "UPDATED",
        "BRIEFING_CONSENT",
        "USE_REQUESTED",
        "ARCHIVED",
    ]


async def test_the_log_pages(cases: Cases, case_id: str) -> None:
    for _ in range(3):
        await cases.ok("named", GET, {"id": case_id})
    first = await cases.ok("provider", LOG, {"id": case_id, "first": 2})
    page = first["caseAuditLog"]
    assert page["totalCount"] == 5 and page["pageInfo"]["hasNextPage"]
    rest = await cases.ok(
        "provider", LOG, {"id": case_id, "first": 10, "after": page["pageInfo"]["endCursor"]}
    )
    assert len(rest["caseAuditLog"]["edges"]) == 3


def test_entries_are_kept_in_their_own_collection(cases: Cases) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(cases.settings.mongodb_uri)
    try:
        entry = client[cases.settings.cases_db]["audit_log"].find_one({"action": "READ"})
    finally:
        client.close()
    assert entry is not None
    assert {"case_id", "provider", "actor", "actor_state", "at", "request_id"} <= set(entry)
