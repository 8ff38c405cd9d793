"""The three real services behind the real gateway, each on its own loopback port, for the
tests of what clients do through the gateway besides GraphQL (files, feeds, uploads, CORS).

One stack per test module (databases of its own); callers hold tokens signed by the dev key,
which the gateway accepts as callers' JWTs in dev.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import mongoengine
import pytest
from pymongo import MongoClient

from gateway.app import build as build_gateway
from gateway.compose import compose
from services.common.keys import SigningKey
from services.common.mongo import run_sync
from services.common.principal import Principal, Role, sign_principal
from services.common.settings import Settings
from services.dev.servers import ServerProcess, mongodb_uri, nats_url
from tests.gateway_stack import wait_until
from tests.gateway_support import served
from tests.private_nats import nats_running

SUBGRAPHS = ("contacts", "meetings", "cases")

CALLERS: dict[str, dict[str, Any]] = {
    "sec": {"sub": "sec-1", "roles": ("secretariat",)},
    "fra": {"sub": "fra-1", "state": "FRA", "roles": ("delegate",)},
    "deu": {"sub": "deu-1", "state": "DEU", "roles": ("delegate",)},
    "isr": {"sub": "isr-1", "state": "ISR", "roles": ("delegate",)},
    "usa": {"sub": "usa-1", "state": "USA", "roles": ("delegate",)},
}


def door_settings(
    mongodb: ServerProcess, nats_port: int, keys_dir: Path, home: Path, name: str, **more: Any
) -> Settings:
    """Settings of one module's stack; ``nats_port``: a nats-server of the stack's own, so
    that the services' durable consumers are handed no events other tests left behind."""
    return Settings(
        env="dev",
        home=home,
        mongodb_uri=mongodb_uri(mongodb.port),
        nats_url=nats_url(nats_port),
        principal_jwks=str(keys_dir / "jwks.json"),
        gateway_jwks=str(keys_dir / "jwks.json"),
        contacts_db=f"test_{name}_contacts",
        meetings_db=f"test_{name}_meetings",
        cases_db=f"test_{name}_cases",
        outbox_poll_seconds=0.1,
        meetings_scheduler_seconds=3600.0,
        **more,
    )


@dataclass
class Door:
    """The gateway's base URL, an HTTP client, the services' own URLs and callers' tokens."""

    base: str
    http: httpx.AsyncClient
    services: dict[str, str]
    settings: Settings
    key: SigningKey
    app: Any

    def token(self, who: str, **overrides: Any) -> str:
        spec = {**CALLERS[who], **overrides}
        principal = Principal(
            subject=spec["sub"],
            roles=frozenset(Role(r) for r in spec["roles"]),
            state=spec.get("state"),
            participant=spec.get("participant", True),  # the gateway: the registry's word
        )
        return sign_principal(
            principal,
            self.key,
            issuer=self.settings.principal_issuer,
            audience=self.settings.principal_audience,
        )

    def auth(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.token(who)}"}

    async def gql(
        self, who: str | None, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        answer = await self.http.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=self.auth(who),
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def ok(self, who: str | None, query: str, variables: dict[str, Any] | None = None) -> Any:
        result = await self.gql(who, query, variables)
        assert "errors" not in result, result
        return result["data"]


def _seed_states() -> None:
    from services.contacts import handlers
    from tests.test_contacts_api import PARTIES

    handlers.seed_states(PARTIES)


@contextlib.asynccontextmanager
async def door_running(settings: Settings, key: SigningKey) -> AsyncIterator[Door]:
    from services.cases.app import build as build_cases
    from services.contacts.app import build as build_contacts
    from services.meetings.app import build as build_meetings
    from services.meetings.schema import schema as meetings_schema
    from tests.federation_subgraphs import sdl_of

    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    for db in (settings.contacts_db, settings.meetings_db, settings.cases_db):
        client.drop_database(db)
    client.close()
    contacts = build_contacts(settings)
    async with contacts.router.lifespan_context(contacts), served(contacts) as contacts_url:
        await run_sync(_seed_states)
        settings = settings.model_copy(update={"meetings_contacts_url": f"{contacts_url}/graphql"})
        meetings, cases = build_meetings(settings), build_cases(settings)
        async with (
            meetings.router.lifespan_context(meetings),
            cases.router.lifespan_context(cases),
            served(meetings) as meetings_url,
            served(cases) as cases_url,
            httpx.AsyncClient(timeout=60) as http,
        ):
            from services.cases.schema import schema as cases_schema
            from services.contacts.schema import schema as contacts_schema

            urls = {"contacts": contacts_url, "meetings": meetings_url, "cases": cases_url}
            schemas = {
                "contacts": contacts_schema,
                "meetings": meetings_schema,
                "cases": cases_schema,
            }
            sdl = compose({n: (f"{urls[n]}/graphql", sdl_of(schemas[n])) for n in SUBGRAPHS})
            gateway = build_gateway(settings, supergraph_sdl=sdl)
            async with gateway.router.lifespan_context(gateway), served(gateway) as base:

                async def ready() -> bool:
                    return (await http.get(f"{base}/readyz")).status_code == 200

                await wait_until(ready, timeout=60)
                yield Door(base, http, urls, settings, key, gateway)
    mongoengine.disconnect_all()


@pytest.fixture(scope="module")
def door_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The module's stack's own nats-server (``door_settings``).

    from tests.door_support import door_nats  # noqa: F401 - the fixture
    """
    with nats_running(tmp_path_factory.mktemp("door-nats")) as server:
        yield server


def door_fixture(name: str, **more: Any) -> Any:
    """A module's ``door`` fixture: its stack on ``door_nats``, databases named ``name``,
    ``more`` settings.  ``door = door_fixture("files", ...)``"""

    @pytest.fixture(scope="module")
    async def door(
        mongodb: ServerProcess,
        door_nats: ServerProcess,
        keys_dir: Path,
        signing_key: SigningKey,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> AsyncIterator[Door]:
        home = tmp_path_factory.mktemp("home")
        settings = door_settings(mongodb, door_nats.port, keys_dir, home, name, **more)
        async with door_running(settings, signing_key) as running:
            yield running

    return door


SESSION = """mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { session { id } } }"""
SCHEDULE = """mutation($i: MeetingScheduleInput!) { meetingSchedule(input: $i) {
  meeting { id } } }"""


async def door_meeting(door: Door) -> str:
    """A meeting the Secretariat scheduled through the gateway (1-2 June 2027, Geneva)."""
    i = {
        "kind": "PREPARATORY_MEETING",
        "name": "Preparatory meetings 2027",
        "startDate": "2027-01-01",
        "endDate": "2027-12-31",
    }
    session = (await door.ok("sec", SESSION, {"i": i}))["sessionCreate"]["session"]["id"]
    schedule = {
        "sessionId": session,
        "startDate": "2027-06-01",
        "endDate": "2027-06-02",
        "venue": "Geneva, CICG",
        "decidedBy": "CSP13 President",
        "decidedOn": "2027-01-10",
    }
    return (await door.ok("sec", SCHEDULE, {"i": schedule}))["meetingSchedule"]["meeting"]["id"]
