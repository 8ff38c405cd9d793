"""A federated list of N items across the three subgraphs: one request to each subgraph
and at most two MongoDB commands per subgraph request, whatever N (pymongo's command
monitoring; the subgraphs run in this process, each on its own database)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import mongoengine
import pycountry
import pytest
from pymongo import MongoClient

from gateway.app import Gateway
from gateway.principal_tokens import Call, current_call
from gateway.supergraph import Supergraph
from services.cases.handlers import PARTICIPANTS as CASES_REGISTER
from services.common.ids import to_global_id
from services.common.principal import Principal, Role
from services.common.settings import Settings
from services.contacts import handlers as contacts_handlers
from services.contacts.domain import AttStatus, StatusDates
from services.meetings.handlers import PARTICIPANTS as MEETINGS_REGISTER
from tests.cases_support import CREATE, SHARE, case_input
from tests.command_counts import commands
from tests.conftest import TokenFactory
from tests.events_support import consumer_caught_up, outbox_published
from tests.private_nats import private_nats  # noqa: F401 - the fixture

REPO = Path(__file__).resolve().parent.parent
CODES = sorted({"FRA", *(c.alpha_3 for c in list(pycountry.countries)[:20])})
LIST = """query($first: Int) {
  states(first: $first, filter: {participant: true}) { edges { node {
    code name
    presentations(first: 3) { edges { node { title case { id title } } } }
  } } }
}"""
FRANCE = Principal(
    subject="fra-delegate", roles=frozenset({Role.DELEGATE}), state="FRA", participant=True
)
URLS = {
    "contacts": "http://127.0.0.1:8101",
    "meetings": "http://127.0.0.1:8102",
    "cases": "http://127.0.0.1:8103",
}


@pytest.fixture
def own_settings(settings: Settings, private_nats: str) -> Settings:  # noqa: F811
    return settings.model_copy(update={"nats_url": private_nats})


@pytest.fixture
async def subgraphs(own_settings: Settings, clean_databases: None) -> AsyncIterator[dict[str, Any]]:
    settings = own_settings
    from services.cases.app import build as cases_app
    from services.contacts.app import build as contacts_app
    from services.meetings.app import build as meetings_app

    apps = {
        "contacts": contacts_app(settings),
        "meetings": meetings_app(settings),
        "cases": cases_app(settings),
    }
    async with (
        apps["contacts"].router.lifespan_context(apps["contacts"]),
        apps["meetings"].router.lifespan_context(apps["meetings"]),
        apps["cases"].router.lifespan_context(apps["cases"]),
    ):
        yield apps
    mongoengine.disconnect_all()


def _seed_parties() -> None:
    """Every State of CODES a party (announced to the subgraphs' registers by the seed)."""
    dates = StatusDates(ratification=date(2014, 4, 2))
    contacts_handlers.seed_states({c: (AttStatus.STATE_PARTY, dates) for c in CODES})


def _fixtures(settings: Settings, case_id: str) -> None:
    """Two presentations of every State of CODES at one meeting, each linked to the same
    French case (bulk-inserted as stored)."""
    from bson import ObjectId

    from services.common.ids import from_global_id
    from services.meetings.documents import Meeting, Presentation

    meeting = Meeting(
        pk=ObjectId(),
        session_id=ObjectId(),
        start_date=date(2027, 8, 23),
        end_date=date(2027, 8, 27),
        venue="Geneva",
        decided_by="CSP President",
        decided_on=date(2026, 9, 1),
        recorded_by="sec",
    )
    meeting.validate()
    raw: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    meetings_db = raw[settings.meetings_db]
    meetings_db["meetings"].insert_one(meeting.to_mongo())
    presentations = []
    for code in CODES:
        for n in range(2):
            pres = Presentation(
                pk=ObjectId(),
                meeting_id=meeting.pk,
                presenting_state=code,
                title=f"{code} presentation {n}",
                intended_at=datetime(2027, 1, 1 + n, tzinfo=UTC),
                intended_by="someone",
            )
            pres.validate()
            presentations.append(pres.to_mongo())
    meetings_db[Presentation._meta["collection"]].insert_many(presentations)
    ids = [to_global_id("Presentation", p["_id"]) for p in presentations]
    raw[settings.cases_db]["cases"].update_one(
        {"_id": from_global_id(case_id, "Case")}, {"$set": {"presentation_ids": ids}}
    )
    raw.close()


async def test_a_federated_list_costs_one_request_and_at_most_two_commands_per_subgraph(
    subgraphs: dict[str, Any], own_settings: Settings, token: TokenFactory, tmp_path: Path
) -> None:
    settings = own_settings
    mounts = {
        url: httpx.ASGITransport(app=app) for name, app in subgraphs.items() for url in [URLS[name]]
    }
    sent: Counter[str] = Counter()

    async def count(request: httpx.Request) -> None:
        sent[next(n for n, u in URLS.items() if str(request.url).startswith(u))] += 1

    await asyncio.to_thread(_seed_parties)
    await outbox_published("contacts")
    for durable in (MEETINGS_REGISTER.durable, CASES_REGISTER.durable):
        await consumer_caught_up(settings.nats_url, durable)
    async with httpx.AsyncClient(mounts=mounts, event_hooks={"request": [count]}) as client:
        france = token(sub="fra-delegate", state="FRA")
        made = await client.post(
            f"{URLS['cases']}/graphql",
            json={"query": CREATE, "variables": {"input": case_input("Port diversion")}},
            headers={"Authorization": f"Bearer {france}"},
        )
        case_id = made.json()["data"]["caseCreate"]["case"]["id"]
        shared = await client.post(
            f"{URLS['cases']}/graphql",
            json={"query": SHARE, "variables": {"id": case_id}},
            headers={"Authorization": f"Bearer {france}"},
        )
        assert "errors" not in shared.json(), shared.json()
        await asyncio.to_thread(_fixtures, settings, case_id)

        gateway = Gateway(
            settings.model_copy(update={"home": tmp_path}),
            Supergraph.parse((REPO / "gateway/supergraph.graphql").read_text()),
        )
        assert gateway.fetcher is not None
        gateway.fetcher.client = client
        current_call.set(Call(FRANCE, "rid-federated-list"))
        await gateway.executor.execute(LIST, {"first": 2})  # warm: registers in memory

        databases = {
            "contacts": settings.contacts_db,
            "meetings": settings.meetings_db,
            "cases": settings.cases_db,
        }
        for n in (3, len(CODES)):
            sent.clear()
            with commands() as seen:
                answer = await gateway.executor.execute(LIST, {"first": n})
            assert "errors" not in answer, answer
            edges = answer["data"]["states"]["edges"]
            assert len(edges) == n
            for edge in edges:
                node = edge["node"]
                titles = [p["node"]["title"] for p in node["presentations"]["edges"]]
                assert titles == [
                    f"{node['code']} presentation 0",
                    f"{node['code']} presentation 1",
                ]
                cases = {
                    (p["node"]["case"] or {}).get("id") for p in node["presentations"]["edges"]
                }
                # rule 13: the link shows on the presenting State's own case only
                assert cases == ({case_id} if node["code"] == "FRA" else {None})
            assert sent == {"contacts": 1, "meetings": 1, "cases": 1}
            for name, database in databases.items():
                used = seen.of(database, besides=("versions", "outbox"))
                assert len(used) <= 2, (n, name, used)
            # the case reads (if any) were audited, in one insert
            assert seen.of(settings.cases_db).count("insert") <= 1
