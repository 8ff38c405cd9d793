"""Real servers for the tests: SecantusDB (MongoDB wire), nats-server with JetStream and
OpenLDAP slapd, each started once per session on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import mongoengine
import pytest
from pymongo import MongoClient

from services.common.keys import SigningKey, ensure_dev_key
from services.common.principal import Principal, Role, sign_principal
from services.common.settings import Settings
from services.dev.servers import ServerProcess, mongodb_server, mongodb_uri, nats_url
from services.dev.slapd import slapd_server
from tests.private_nats import nats_running


@pytest.fixture(scope="session")
def mongodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("mongodb")
    server = mongodb_server(root / "data", log_path=root / "server.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with nats_running(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = slapd_server(tmp_path_factory.mktemp("slapd")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def signing_key(keys_dir: Path) -> SigningKey:
    return ensure_dev_key(keys_dir)


@pytest.fixture
def settings(
    mongodb: ServerProcess,
    nats: ServerProcess,
    keys_dir: Path,
    signing_key: SigningKey,
    tmp_path: Path,
) -> Settings:
    return Settings(
        env="dev",
        home=tmp_path / "home",
        mongodb_uri=mongodb_uri(mongodb.port),
        nats_url=nats_url(nats.port),
        principal_jwks=str(keys_dir / "jwks.json"),
        contacts_db="test_contacts",
        outbox_poll_seconds=0.1,
    )


@pytest.fixture
def clean_databases(settings: Settings) -> Iterator[None]:
    """Each test starts from empty service databases."""
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    for name in (settings.contacts_db, settings.meetings_db, settings.cases_db):
        client.drop_database(name)
    yield
    client.close()


TokenFactory = Callable[..., str]


@pytest.fixture
def token(signing_key: SigningKey, settings: Settings) -> TokenFactory:
    """A principal token as the gateway would sign it."""

    def make(
        sub: str = "alice",
        state: str | None = None,
        roles: tuple[str, ...] = ("delegate",),
        participant: bool = True,
        ttl: int = 300,
        key: SigningKey | None = None,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> str:
        principal = Principal(
            subject=sub,
            roles=frozenset(Role(r) for r in roles),
            state=state,
            participant=participant,
        )
        return sign_principal(
            principal,
            key or signing_key,
            issuer=issuer or settings.principal_issuer,
            audience=audience or settings.principal_audience,
            ttl_seconds=ttl,
        )

    return make


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def contacts_app(settings: Settings, clean_databases: None) -> AsyncIterator[Any]:
    from services.contacts.app import build

    app = build(settings)
    async with app.router.lifespan_context(app):
        yield app
    mongoengine.disconnect_all()


@pytest.fixture
async def contacts_http(contacts_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=contacts_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://contacts") as http:
        yield http


@pytest.fixture
def gql(contacts_http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(contacts_http)


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in result.get("errors") or []]
