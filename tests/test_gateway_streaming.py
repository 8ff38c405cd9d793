"""The gateway's file routes stream: it hands on the first bytes of a download before the
service has produced the rest, and the first bytes of an upload before the client has sent
the rest. A buffering proxy would wait for the whole file, and these tests would time out.

The "services" here are one small app answering the published paths of meetings and cases,
which holds its answer (or waits on the request) until the test says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from gateway.app import build
from gateway.compose import compose
from services.common.keys import SigningKey
from services.common.settings import Settings
from tests.federation_subgraphs import sdl_of
from tests.gateway_support import served

WAIT = 60.0  # generous: a busy machine is slow, a buffering proxy never gets there
FIRST = b"%PDF-1.4 first part " * 1000
REST = b"the rest " * 10_000


class Held:
    """What the stand-in service waits on and tells."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.first_chunk = asyncio.Event()
        self.received = 0


def standin(held: Held) -> Starlette:
    async def document(_: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield FIRST
            await asyncio.wait_for(held.release.wait(), WAIT)
            yield REST

        return StreamingResponse(body(), media_type="application/pdf")

    async def upload(request: Request) -> JSONResponse:
        async for chunk in request.stream():
            if chunk:
                held.received += len(chunk)
                held.first_chunk.set()
        return JSONResponse({"size": held.received}, status_code=201)

    return Starlette(
        routes=[
            Route("/meetings/documents/{id}", document),
            Route("/cases/{case_id}/attachments", upload, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
async def held_gateway(
    keys_dir: Path, signing_key: SigningKey, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, Held]]:
    from services.cases.schema import schema as cases
    from services.meetings.schema import schema as meetings

    held = Held()
    async with served(standin(held)) as service:
        sdl = compose(
            {
                "meetings": (f"{service}/graphql", sdl_of(meetings)),
                "cases": (f"{service}/graphql", sdl_of(cases)),
            }
        )
        settings = Settings(
            env="dev",
            home=tmp_path_factory.mktemp("streaming"),
            principal_jwks=str(keys_dir / "jwks.json"),
            gateway_participant_registry="off",
        )

        async def no_graphql(*_: Any) -> dict[str, Any]:
            raise AssertionError("no GraphQL here")

        app = build(settings, supergraph_sdl=sdl, fetch=no_graphql)
        async with app.router.lifespan_context(app), served(app) as base:
            yield base, held


async def test_a_download_is_handed_on_before_the_service_has_finished_it(
    held_gateway: tuple[str, Held],
) -> None:
    base, held = held_gateway
    async with (
        httpx.AsyncClient(timeout=WAIT) as http,
        http.stream("GET", f"{base}/meetings/documents/x") as answer,
    ):
        assert answer.status_code == 200
        pieces = answer.aiter_raw()
        got = b""
        while len(got) < len(FIRST):  # all of it while the service still holds the rest
            got += await asyncio.wait_for(anext(pieces), WAIT)
        assert got == FIRST and not held.release.is_set()
        held.release.set()
        async for piece in pieces:
            got += piece
    assert got == FIRST + REST


async def test_an_upload_is_handed_on_before_the_client_has_sent_all_of_it(
    held_gateway: tuple[str, Held],
) -> None:
    base, held = held_gateway

    async def body() -> AsyncIterator[bytes]:
        yield FIRST
        # The service has bytes of the file while the client still holds the rest.
        await asyncio.wait_for(held.first_chunk.wait(), WAIT)
        yield REST

    async with httpx.AsyncClient(timeout=WAIT) as http:
        answer = await http.post(
            f"{base}/cases/c1/attachments?filename=a.pdf",
            content=body(),
            headers={"Content-Type": "application/pdf"},
        )
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"size": len(FIRST) + len(REST)}


async def test_a_service_that_cannot_be_reached_is_502_naming_it(
    keys_dir: Path, signing_key: SigningKey, tmp_path: Path
) -> None:
    from services.dev.servers import free_port
    from services.meetings.schema import schema as meetings

    nowhere = f"http://127.0.0.1:{free_port()}/graphql"
    settings = Settings(
        env="dev",
        home=tmp_path,
        principal_jwks=str(keys_dir / "jwks.json"),
        gateway_participant_registry="off",
    )
    app = build(settings, supergraph_sdl=compose({"meetings": (nowhere, sdl_of(meetings))}))
    async with (
        app.router.lifespan_context(app),
        served(app) as base,
        httpx.AsyncClient(timeout=WAIT) as http,
    ):
        answer = await http.get(f"{base}/meetings/documents/x")
    assert answer.status_code == 502
    assert answer.json() == {"error": "meetings cannot be reached.", "code": "UNAVAILABLE"}
