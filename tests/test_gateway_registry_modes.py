"""The participant registry: where it is read (a subgraph, a URL, or off for a supergraph
that is not ours), and a shutdown that always finishes, whatever NATS does."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NATS

from gateway.app import build
from gateway.participants import ParticipantRegistry, RegistrySettingError, registry_url
from services.common.settings import Settings
from tests.federation_conformance import Federation, shared_root
from tests.gateway_stack import wait_until
from tests.gateway_support import free_port

SUBGRAPHS = {"contacts": "http://contacts.test/graphql", "east": "http://east.test/graphql"}


def test_the_registry_is_a_named_subgraph_a_url_or_off() -> None:
    assert registry_url("contacts", SUBGRAPHS) == "http://contacts.test/graphql"
    assert registry_url("east", SUBGRAPHS) == "http://east.test/graphql"
    assert registry_url("https://registry.example/graphql", {}) == (
        "https://registry.example/graphql"
    )
    assert registry_url("off", {}) is None
    assert registry_url(" OFF ", SUBGRAPHS) is None
    with pytest.raises(RegistrySettingError, match="subgraph 'contacts', which the supergraph"):
        registry_url("contacts", {"east": "http://east.test/graphql"})
    with pytest.raises(RegistrySettingError, match="its subgraphs: none"):
        registry_url("file:///etc/passwd", {})


def unreachable_nats() -> str:
    return f"nats://127.0.0.1:{free_port()}"


async def test_stop_finishes_while_nats_is_unreachable() -> None:
    registry = ParticipantRegistry(
        f"http://127.0.0.1:{free_port()}/graphql",
        unreachable_nats(),
        lambda _: "unused",
        retry_seconds=0.05,
    )
    registry.start()
    await wait_until(lambda: registry.last_error is not None)
    await asyncio.wait_for(registry.stop(), 30)
    assert registry._task is not None and registry._task.done()
    assert not registry.ready


class SwallowingRegistry(ParticipantRegistry):
    """Connects as the NATS client sometimes does: a cancellation is swallowed."""

    async def _connect(self) -> NATS:
        self.connecting.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        raise OSError("connection refused")


async def test_stop_finishes_when_a_cancellation_is_swallowed_while_connecting() -> None:
    registry = SwallowingRegistry("http://unused.test/graphql", "nats://unused", lambda _: "x")
    registry.connecting = asyncio.Event()
    registry.start()
    await registry.connecting.wait()
    await asyncio.wait_for(registry.stop(within=10), 30)
    assert registry._task is not None and registry._task.done()


def outside(tmp_path: Path, registry: str) -> Settings:
    return Settings(
        home=tmp_path,
        nats_url=unreachable_nats(),
        gateway_participant_registry=registry,
    )


async def test_an_outside_supergraph_runs_with_the_registry_off(tmp_path: Path) -> None:
    federation = Federation(shared_root)
    app = build(outside(tmp_path, "off"), supergraph_sdl=federation.sdl, fetch=federation._fetch)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
            ready = await http.get("/readyz")
            assert (ready.status_code, ready.json()) == (
                200,
                {"ready": True, "checks": {"registryOff": True}},
            )
            answer = await http.post("/graphql", json={"query": "{ info { version uptime } }"})
            assert answer.json() == {"data": {"info": {"version": "1.2", "uptime": 99}}}
    assert federation.graphs() == ["west"]


def test_an_outside_supergraph_without_contacts_must_say_where_the_registry_is(
    tmp_path: Path,
) -> None:
    federation = Federation(shared_root)
    with pytest.raises(RegistrySettingError, match="DIEF_GATEWAY_PARTICIPANT_REGISTRY"):
        build(outside(tmp_path, "contacts"), supergraph_sdl=federation.sdl)
    app = build(outside(tmp_path, "east"), supergraph_sdl=federation.sdl)
    assert app is not None
