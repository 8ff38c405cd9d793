"""The app factory every service is built with: health, readiness, error masking."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry

from services.common.app import create_app
from services.common.errors import NotFound
from services.common.runtime import ServiceRuntime
from services.common.schema import SubgraphSchema
from services.common.settings import Settings
from services.dev.servers import free_port, mongodb_server, mongodb_uri


@strawberry.type
class Query:
    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("secret detail: connection string mongodb://user:pw@db")

    @strawberry.field
    def whoami(self, info: strawberry.Info) -> str:
        principal = info.context.principal
        return principal.subject if principal else "anonymous"

    @strawberry.field
    def missing(self) -> str:
        raise NotFound("No such thing.", field="id")


SCHEMA = SubgraphSchema(query=Query)


async def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


@pytest.fixture
async def probe_app(settings: Settings) -> AsyncIterator[Any]:
    app = create_app(ServiceRuntime("contacts", settings), SCHEMA)
    async with app.router.lifespan_context(app):
        yield app


async def test_unexpected_errors_are_masked_with_a_request_id(
    probe_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with await _client(probe_app) as http:
        with caplog.at_level(logging.ERROR, logger="dief.errors"):
            response = await http.post(
                "/graphql", json={"query": "{ broken }"}, headers={"X-Request-Id": "req-123"}
            )
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "req-123"}
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"] == "req-123"
    assert any("unexpected error" in r.message for r in caplog.records)


async def test_refusals_keep_their_code_and_field(probe_app: Any) -> None:
    async with await _client(probe_app) as http:
        response = await http.post("/graphql", json={"query": "{ missing }"})
    error = response.json()["errors"][0]
    assert error["message"] == "No such thing."
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "id"}


async def test_a_bad_token_is_refused_not_taken_for_anonymous(probe_app: Any, token: Any) -> None:
    async with await _client(probe_app) as http:
        anonymous = await http.post("/graphql", json={"query": "{ whoami }"})
        good = await http.post(
            "/graphql",
            json={"query": "{ whoami }"},
            headers={"Authorization": f"Bearer {token(sub='ann')}"},
        )
        bad = await http.post(
            "/graphql", json={"query": "{ whoami }"}, headers={"Authorization": "Bearer garbage"}
        )
        basic = await http.post(
            "/graphql", json={"query": "{ whoami }"}, headers={"Authorization": "Basic YTpi"}
        )
    assert anonymous.json()["data"] == {"whoami": "anonymous"}
    assert good.json()["data"] == {"whoami": "ann"}
    assert bad.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert basic.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphiql_only_in_dev(settings: Settings) -> None:
    dev = create_app(ServiceRuntime("contacts", settings), SCHEMA)
    prod_settings = settings.model_copy(update={"env": "prod"})
    prod = create_app(ServiceRuntime("contacts", prod_settings), SCHEMA)
    async with await _client(dev) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
    async with await _client(prod) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()


async def test_healthz_and_readyz(probe_app: Any) -> None:
    async with await _client(probe_app) as http:
        assert (await http.get("/healthz")).json()["status"] == "alive"
        runtime = probe_app.state.runtime
        await runtime.nats.ready.wait()
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"mongodb": True, "nats": True}}


async def test_ready_without_nats_which_is_reported(settings: Settings) -> None:
    """NATS away: the service serves (events wait in the outbox), so it stays ready; the
    check says NATS is away."""
    lonely = settings.model_copy(update={"nats_url": f"nats://127.0.0.1:{free_port()}"})
    app = create_app(ServiceRuntime("contacts", lonely), SCHEMA)
    async with app.router.lifespan_context(app), await _client(app) as http:
        ready = await http.get("/readyz")
        assert (await http.get("/healthz")).status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"mongodb": True, "nats": False}}


async def test_not_ready_when_mongodb_goes_away(settings: Settings, tmp_path: Path) -> None:
    server = mongodb_server(tmp_path / "db").start()
    try:
        own = settings.model_copy(update={"mongodb_uri": mongodb_uri(server.port)})
        app = create_app(ServiceRuntime("contacts", own), SCHEMA)
        async with app.router.lifespan_context(app), await _client(app) as http:
            await app.state.runtime.nats.ready.wait()
            assert (await http.get("/readyz")).status_code == 200
            server.stop()
            ready = await http.get("/readyz")
            # while the request pool is full of requests waiting on the database, the
            # health check still answers (on a thread of its own)
            hold = threading.Event()
            blockers = [asyncio.ensure_future(asyncio.to_thread(hold.wait, 30)) for _ in range(64)]
            try:
                busy = await asyncio.wait_for(http.get("/readyz"), 10)
            finally:
                hold.set()
                await asyncio.gather(*blockers)
        assert ready.status_code == 503
        assert ready.json()["checks"]["mongodb"] is False
        assert busy.status_code == 503
    finally:
        server.stop()


async def test_only_a_mutation_wakes_the_outbox_relay() -> None:
    """Queries record no events: they must not make the relay read the outbox."""

    @strawberry.type
    class Mutation:
        @strawberry.mutation
        def touch(self) -> bool:
            return True

    class Runtime:
        wakes = 0

        def wake_relay(self) -> None:
            self.wakes += 1

    class Context:
        runtime = Runtime()

    schema = SubgraphSchema(query=Query, mutation=Mutation)
    context = Context()
    for _ in range(2):  # the second run takes the parsed, validated document from the cache
        assert (await schema.execute("{ missing }", context_value=context)).errors
        assert context.runtime.wakes == 0
    assert (await schema.execute("mutation { touch }", context_value=context)).data == {
        "touch": True
    }
    assert context.runtime.wakes == 1
