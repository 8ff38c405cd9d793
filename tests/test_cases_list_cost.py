"""The cases listing reads one page plus one case, audits the page in one insert, and
counts only when ``totalCount`` is asked for (pymongo's command monitoring)."""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient

from tests import cases_support
from tests.cases_support import LIST, Cases, share_case
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
