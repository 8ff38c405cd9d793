"""A gateway in front of real subgraphs, over real HTTP, for the gateway's HTTP tests.

Subgraphs: the contacts service (real MongoDB and NATS from the session fixtures) and a
throwaway ``notes`` subgraph that records what reaches it, declares the authorisation
directives, extends ``State`` and can fail in the ways a subgraph fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from strawberry.asgi import GraphQL
from strawberry.types import Info

from gateway.app import build
from gateway.compose import compose
from services.common.principal import PrincipalVerifier
from services.common.settings import Settings
from tests.gateway_support import IDP_AUDIENCE, IDP_ISSUER, IdentityProvider, served


@dataclass
class NotesLog:
    """What reached the notes subgraph: each request's query and headers."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def queries(self) -> list[str]:
        return [r["query"] for r in self.requests]

    def clear(self) -> None:
        self.requests.clear()


@strawberry.type(description="The principal token as the notes subgraph verified it.")
class Caller:
    subject: str
    state: str | None
    roles: list[str]
    participant: bool
    scopes: list[str]
    request_id: str | None
    header_request_id: str | None


@strawberry.federation.type(keys=["code"], description="A State, as notes extends it.")
class State:
    code: strawberry.ID

    @strawberry.field(description="A note on the State.")
    def motto(self) -> str:
        return f"motto of {self.code}"

    @classmethod
    def resolve_reference(cls, code: strawberry.ID) -> State:
        return State(code=code)


def notes_schema(verifier_path: Path, settings: Settings) -> strawberry.federation.Schema:
    verifier = PrincipalVerifier(
        verifier_path,
        issuer=settings.principal_issuer,
        audience=settings.principal_audience,
        algorithms=settings.principal_algorithms,
    )

    @strawberry.type
    class Query:
        @strawberry.field(description="Open to anyone.")
        def public_note(self) -> str:
            return "hello"

        @strawberry.federation.field(policy=[["secretariat"]], description="Secretariat only.")
        def secret_note(self) -> str | None:
            return "for the Secretariat"

        @strawberry.federation.field(requires_scopes=[["participant"]])
        def participant_note(self) -> str | None:
            return "for participants"

        @strawberry.federation.field(authenticated=True)
        def caller(self, info: Info) -> Caller | None:
            request: Request = info.context["request"]
            header = request.headers.get("authorization", "")
            token = header.removeprefix("Bearer ")
            claims = jwt.decode(token, options={"verify_signature": False})
            principal = verifier.verify(token)
            return Caller(
                subject=principal.subject,
                state=principal.state,
                roles=sorted(principal.roles),
                participant=principal.participant,
                scopes=sorted(principal.scopes),
                request_id=claims.get("rid"),
                header_request_id=request.headers.get("x-request-id"),
            )

        @strawberry.field(description="Fails unexpectedly.")
        def boom(self) -> str | None:
            raise RuntimeError("connection string mongodb://admin:hunter2@db leaked")

        @strawberry.field(description="Refuses with one of our codes.")
        def missing(self) -> str | None:
            raise GraphQLError(
                "No such note.",
                extensions={"code": "NOT_FOUND", "field": "id", "stack": "internal detail"},
            )

        @strawberry.field(description="Refuses without a code.")
        def odd(self) -> str | None:
            raise GraphQLError("odd failure with internal detail")

    return strawberry.federation.Schema(query=Query, types=[State])


class RecordingGraphQL(GraphQL):
    def __init__(self, schema: strawberry.federation.Schema, log: NotesLog) -> None:
        super().__init__(schema, graphql_ide=None)
        self.log = log

    async def get_context(self, request: Request, response: Any) -> dict[str, Any]:  # type: ignore[override]
        body = await request.json()
        self.log.requests.append({"query": body.get("query", ""), "headers": dict(request.headers)})
        return {"request": request, "response": response}


@dataclass
class Gateway:
    base: str
    http: httpx.AsyncClient
    idp: IdentityProvider
    notes: NotesLog
    app: Any

    @property
    def parts(self) -> Any:
        return self.app.state.gateway

    async def post(self, body: Any, token: str | None = None, **headers: str) -> httpx.Response:
        if token:
            headers["authorization"] = f"Bearer {token}"
        return await self.http.post(f"{self.base}/graphql", json=body, headers=headers)

    async def query(
        self, query: str, token: str | None = None, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.post({"query": query, "variables": variables or {}}, token)
        assert response.status_code == 200, response.text
        return response.json()

    def token(self, **claims: Any) -> str:
        return self.idp.token(**claims)

    async def metrics(self) -> str:
        return (await self.http.get(f"{self.base}/metrics")).text


async def wait_until(check: Callable[[], Any], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def stack_settings(
    mongodb_port: int, nats_port: int, keys_dir: Path, home: Path, contacts_db: str
) -> Settings:
    """Settings of a stack shared by the tests of one module (its own contacts database)."""
    from services.dev.servers import mongodb_uri, nats_url

    return Settings(
        env="dev",
        home=home,
        mongodb_uri=mongodb_uri(mongodb_port),
        nats_url=nats_url(nats_port),
        principal_jwks=str(keys_dir / "jwks.json"),
        contacts_db=contacts_db,
        outbox_poll_seconds=0.1,
    )


@contextlib.asynccontextmanager
async def contacts_running(settings: Settings) -> AsyncIterator[Any]:
    """The contacts app with its runtime started, on an empty database, States seeded."""
    import mongoengine
    from pymongo import MongoClient

    from services.contacts import handlers
    from services.contacts.app import build as build_contacts
    from tests.test_contacts_api import PARTIES

    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
    client.drop_database(settings.contacts_db)
    client.close()
    app = build_contacts(settings)
    async with app.router.lifespan_context(app):
        handlers.seed_states(PARTIES)
        yield app
    mongoengine.disconnect_all()


@contextlib.asynccontextmanager
async def gateway_stack(
    settings: Settings,
    contacts_app: Any,
    workdir: Path,
    *,
    wait_ready: bool = True,
    contacts_url: str | None = None,
    **overrides: Any,
) -> AsyncIterator[Gateway]:
    idp = IdentityProvider(workdir)
    notes = NotesLog()
    notes_app = RecordingGraphQL(notes_schema(settings.principal_jwks_path, settings), notes)
    async with (
        served(contacts_app) as contacts_base,
        served(notes_app) as notes_base,
        httpx.AsyncClient(timeout=10) as http,
    ):
        sdls = {}
        for name, base in (("contacts", contacts_base), ("notes", notes_base)):
            answer = await http.post(f"{base}/graphql", json={"query": "{ _service { sdl } }"})
            sdls[name] = (f"{base}/graphql", answer.json()["data"]["_service"]["sdl"])
        gateway_settings = settings.model_copy(
            update={
                "gateway_jwks": str(idp.jwks_path),
                "gateway_issuer": IDP_ISSUER,
                "gateway_audience": IDP_AUDIENCE,
                **overrides,
            }
        )
        app = build(gateway_settings, supergraph_sdl=compose(sdls), contacts_url=contacts_url)
        async with app.router.lifespan_context(app), served(app) as base:
            gateway = Gateway(base, http, idp, notes, app)
            if wait_ready:

                async def ready() -> bool:
                    return (await http.get(f"{base}/readyz")).status_code == 200

                await wait_until(ready)
            yield gateway
