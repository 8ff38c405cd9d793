"""Fixtures and helpers for the case exchange tests: one cases service per test module,
on a real MongoDB-wire server and NATS, and tokens for every kind of caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import mongoengine
import pytest
from pymongo import MongoClient

from services.common.keys import SigningKey
from services.common.principal import Principal, Role, sign_principal
from services.common.settings import Settings
from services.dev.servers import ServerProcess, free_port, mongodb_uri, nats_url
from tests.register_support import announce

CALLERS: dict[str, dict[str, Any]] = {
    "provider": {"sub": "fra-1", "state": "FRA", "roles": ("delegate",)},
    "provider2": {"sub": "fra-2", "state": "FRA", "roles": ("enforcement_officer",)},
    "named": {"sub": "deu-1", "state": "DEU", "roles": ("enforcement_officer",)},
    "named2": {"sub": "nld-1", "state": "NLD", "roles": ("delegate",)},
    "other": {"sub": "ita-1", "state": "ITA", "roles": ("delegate",)},
    "non_party": {"sub": "usa-1", "state": "USA", "roles": ("delegate",), "participant": False},
    "secretariat": {"sub": "sec-1", "roles": ("secretariat",), "participant": False},
    "chair": {"sub": "chair-1", "roles": ("chair",), "participant": False},
    "expert": {"sub": "exp-1", "roles": ("expert",), "participant": False},
    "system": {"sub": "sys-1", "roles": ("system",), "participant": False},
}


# the callers' participant States, announced to the module's register as the contacts
# service announces them (USA, a non-party, is never announced: unknown, so no participant)
PARTICIPANT_STATES = sorted(
    {c["state"] for c in CALLERS.values() if "state" in c and c.get("participant", True)}
)


def make_token(key: SigningKey, settings: Settings, who: str) -> str:
    spec = CALLERS[who]
    principal = Principal(
        subject=spec["sub"],
        roles=frozenset(Role(r) for r in spec["roles"]),
        state=spec.get("state"),
        participant=spec.get("participant", True),
    )
    return sign_principal(
        principal, key, issuer=settings.principal_issuer, audience=settings.principal_audience
    )


class Cases:
    """GraphQL and HTTP calls to one cases service, as a named caller."""

    def __init__(self, http: httpx.AsyncClient, key: SigningKey, settings: Settings) -> None:
        self.http = http
        self.key = key
        self.settings = settings

    def headers(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        return {"Authorization": f"Bearer {make_token(self.key, self.settings, who)}"}

    async def __call__(
        self, who: str | None, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=self.headers(who),
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def ok(self, who: str | None, query: str, variables: dict[str, Any] | None = None) -> Any:
        result = await self(who, query, variables)
        assert "errors" not in result, result
        return result["data"]


def module_settings(
    mongodb: ServerProcess, nats: ServerProcess, keys_dir: Path, home: Path, db: str
) -> Settings:
    return Settings(
        env="dev",
        home=home,
        mongodb_uri=mongodb_uri(mongodb.port),
        nats_url=nats_url(nats.port),
        principal_jwks=str(keys_dir / "jwks.json"),
        cases_db=db,
        outbox_poll_seconds=0.1,
        cases_attachment_max_bytes=64 * 1024,
        # no meetings service in these modules: nothing listens there, so a link to a
        # presentation cannot be checked (rule 13) and is refused as UNAVAILABLE
        cases_meetings_url=f"http://127.0.0.1:{free_port()}/graphql",
    )


@pytest.fixture(scope="module")
def cases_settings(
    mongodb: ServerProcess,
    nats: ServerProcess,
    keys_dir: Path,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Settings:
    db = "test_" + request.module.__name__.rsplit(".", 1)[-1]
    return module_settings(mongodb, nats, keys_dir, tmp_path_factory.mktemp("home"), db)


@pytest.fixture(scope="module")
async def cases(cases_settings: Settings, signing_key: SigningKey) -> AsyncIterator[Cases]:
    from services.cases.app import build
    from services.cases.handlers import PARTICIPANTS

    client: MongoClient[dict[str, Any]] = MongoClient(cases_settings.mongodb_uri)
    client.drop_database(cases_settings.cases_db)
    app = build(cases_settings)
    async with app.router.lifespan_context(app):
        await announce(cases_settings, PARTICIPANT_STATES, durable=PARTICIPANTS.durable)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cases") as http:
            yield Cases(http, signing_key, cases_settings)
    mongoengine.disconnect_all()
    client.close()


def codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]


CASE_FIELDS = """
  id title status revision provider { code } categories investigationStatus
  audience { kind states includeSecretariat }
  handling { note noOperationalUseWithoutConsultation }
  withheldSections summary methods
  diversion { details divertedOn } discovery { details discoveredOn delayDays }
  actors { role name kind country } items { kind quantity markings }
  routes { country role } involvedStates { code } involvements { state { code } response }
  briefing { excludedFromBriefings attributionConsent }
"""

CREATE = (
    "mutation($input: CaseFieldsInput!) { caseCreate(input: $input) { case { "
    + CASE_FIELDS
    + " } } }"
)
SHARE = "mutation($id: ID!) { caseShare(id: $id) { case { id status sharedAt } } }"
UPDATE = (
    "mutation($id: ID!, $input: CaseFieldsInput!) { caseUpdate(id: $id, input: $input) "
    "{ case { id revision summary } } }"
)
GET = "query($id: ID!) { case(id: $id) { " + CASE_FIELDS + " } }"
LIST = (
    "query($filter: CaseFilter, $first: Int, $after: String) { cases(filter: $filter, "
    "first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } "
    "edges { node { id title summary actors { name } routes { country } } } } }"
)


def case_input(title: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": title,
        "summary": f"Summary of {title}",
        "diversionDetails": "Diverted at the port",
        "divertedOn": "2025-01-10",
        "discoveryDetails": "Found by customs",
        "discoveredOn": "2025-03-01",
        "methods": "False end-user certificate",
        "actors": [{"role": "BROKER", "name": "Acme Brokers", "kind": "COMPANY", "country": "CYP"}],
        "items": [{"kind": "SMALL_ARMS_AND_LIGHT_WEAPONS", "quantity": 200, "markings": ["AK-1"]}],
        "routes": [
            {"country": "FRA", "role": "ORIGIN"},
            {"country": "MLT", "role": "TRANSIT"},
            {"country": "LBY", "role": "DESTINATION"},
        ],
        "categories": ["TRAFFICKING_ROUTES"],
    }
    base.update(extra)
    return base


async def share_case(cases: Cases, who: str, title: str, **extra: Any) -> str:
    data = await cases.ok(who, CREATE, {"input": case_input(title, **extra)})
    case_id = data["caseCreate"]["case"]["id"]
    await cases.ok(who, SHARE, {"id": case_id})
    return case_id
