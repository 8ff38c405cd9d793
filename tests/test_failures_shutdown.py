"""SIGTERM drains before it stops: a real ``dief serve contacts`` process (and a gateway)
told to stop while mutations are in flight. Readiness goes false first and requests are still
served while the drain lasts; the mutations in flight all complete (no connection error, no
INTERNAL, each change made once); then the process exits cleanly, within its graceful timeout.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from services.dev.servers import LOOPBACK, ServerProcess, mongodb_uri
from tests.serve_support import (
    base_env,
    delegate_token,
    log_tail,
    seed_sample_states,
    serve,
    subgraph_urls,
    url,
)
from tests.test_contacts_directory import AUTHORITY_CREATE

DB = "shutdown_contacts"
DRAIN, GRACE = 5, 20
GATEWAY_DRAIN = 3
IN_FLIGHT, DURING_DRAIN = 8, 4
STOPPED = (0, -signal.SIGTERM)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shutdown")


@pytest.fixture(scope="module")
def env(root: Path, mongodb: ServerProcess, nats: ServerProcess) -> dict[str, str]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri(mongodb.port))
    client.drop_database(DB)
    client.close()
    made = base_env(
        root / "home",
        mongodb.port,
        nats.port,
        DIEF_CONTACTS_DB=DB,
        DIEF_SHUTDOWN_DRAIN_SECONDS=str(DRAIN),
        DIEF_SHUTDOWN_GRACE_SECONDS=str(GRACE),
    )
    seed_sample_states(made)
    return made


@pytest.fixture
def contacts(root: Path, env: dict[str, str]) -> Iterator[ServerProcess]:
    process = serve("contacts", root, env)
    yield process
    process.stop()


@pytest.fixture
def quick_contacts(root: Path, env: dict[str, str]) -> Iterator[ServerProcess]:
    process = serve("contacts", root, {**env, "DIEF_SHUTDOWN_DRAIN_SECONDS": "0"})
    yield process
    process.stop()


@pytest.fixture
def token(root: Path) -> str:
    return delegate_token(root / "home")


def _mutation(name: str) -> bytes:
    variables = {"input": {"stateCode": "FRA", "kind": "CUSTOMS", "name": name}}
    return json.dumps({"query": AUTHORITY_CREATE, "variables": variables}).encode()


async def _in_two_parts(
    payload: bytes, sent: asyncio.Event, go_on: asyncio.Event
) -> AsyncIterator[bytes]:
    """A request body whose first half is sent at once and the rest when ``go_on`` is set."""
    half = len(payload) // 2
    yield payload[:half]
    sent.set()
    await go_on.wait()
    yield payload[half:]


def _made(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert "errors" not in result, result
    return result["data"]["authorityCreate"]["authority"]["name"]


def _exited_within(process: ServerProcess, seconds: float) -> int:
    assert process.process is not None
    try:
        return process.process.wait(seconds)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running after {seconds}s:\n{log_tail(process)}") from None


async def _refused(port: int) -> None:
    """Until a new connection to ``port`` is refused."""
    while True:
        try:
            _, writer = await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            return
        writer.close()
        await asyncio.sleep(0.1)


def _names_stored(mongodb: ServerProcess, prefix: str) -> list[str]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri(mongodb.port))
    try:
        found = client[DB]["authorities"].find({"name": {"$regex": f"^{prefix}"}}, {"name": 1})
        return sorted(doc["name"] for doc in found)
    finally:
        client.close()


async def test_sigterm_drains_unready_first_and_the_requests_in_flight_complete(
    contacts: ServerProcess, token: str, mongodb: ServerProcess
) -> None:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    go_on = asyncio.Event()
    async with httpx.AsyncClient(base_url=url(contacts), timeout=60, headers=headers) as http:
        assert (await http.get("/readyz")).status_code == 200
        sent = [asyncio.Event() for _ in range(IN_FLIGHT)]
        in_flight = [
            asyncio.ensure_future(
                http.post(
                    "/graphql", content=_in_two_parts(_mutation(f"Inflight {i}"), sent[i], go_on)
                )
            )
            for i in range(IN_FLIGHT)
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in sent)), 60)
        assert contacts.process is not None
        contacts.process.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()

        # readiness goes false first, while the process still serves
        async def unready() -> httpx.Response:
            while True:
                async with httpx.AsyncClient(base_url=url(contacts), timeout=10) as fresh:
                    answer = await fresh.get("/readyz")
                if answer.status_code == 503:
                    return answer
                await asyncio.sleep(0.05)

        answer = await asyncio.wait_for(unready(), DRAIN)
        assert answer.json()["ready"] is False and answer.json()["draining"] is True
        assert not any(request.done() for request in in_flight)
        async with httpx.AsyncClient(base_url=url(contacts), timeout=30, headers=headers) as late:
            during = await asyncio.gather(
                *(
                    late.post("/graphql", content=_mutation(f"Draining {i}"))
                    for i in range(DURING_DRAIN)
                )
            )
        assert sorted(_made(a) for a in during) == [f"Draining {i}" for i in range(DURING_DRAIN)]
        assert all(a.headers["connection"] == "close" for a in during)
        # the drain over, it accepts no more; the mutations in flight when SIGTERM came go on
        await asyncio.wait_for(_refused(contacts.port), DRAIN + 30)
        assert not any(request.done() for request in in_flight)
        go_on.set()
        answers = await asyncio.gather(*in_flight)
    assert sorted(_made(a) for a in answers) == [f"Inflight {i}" for i in range(IN_FLIGHT)]
    assert _names_stored(mongodb, "Inflight") == [f"Inflight {i}" for i in range(IN_FLIGHT)]
    assert _names_stored(mongodb, "Draining") == [f"Draining {i}" for i in range(DURING_DRAIN)]
    # and it exits cleanly (uvicorn ends by re-raising the SIGTERM), within its graceful timeout
    assert _exited_within(contacts, DRAIN + GRACE + 30 - (time.monotonic() - stopped_at)) in STOPPED
    log = log_tail(contacts, 400)
    assert "Application shutdown complete" in log
    assert "timeout graceful shutdown exceeded" not in log


def test_the_gateway_drains_unready_first_then_exits(
    root: Path, env: dict[str, str], quick_contacts: ServerProcess
) -> None:
    gateway_env = {
        **env,
        "DIEF_SHUTDOWN_DRAIN_SECONDS": str(GATEWAY_DRAIN),
        "DIEF_GATEWAY_SUBGRAPH_URLS": subgraph_urls({"contacts": url(quick_contacts)}),
    }
    gateway = serve("gateway", root, gateway_env)
    try:
        deadline = time.monotonic() + 60
        while httpx.get(f"{url(gateway)}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, log_tail(gateway)
            time.sleep(0.1)
        assert gateway.process is not None
        gateway.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        answer = httpx.get(f"{url(gateway)}/readyz", timeout=10)
        while answer.status_code == 200:  # until the signal is handled: then 503 at once
            assert time.monotonic() < deadline
            answer = httpx.get(f"{url(gateway)}/readyz", timeout=10)
        assert answer.status_code == 503
        assert answer.json()["ready"] is False and answer.json()["draining"] is True
        assert _exited_within(gateway, GATEWAY_DRAIN + GRACE + 30) in STOPPED
        assert "Application shutdown complete" in log_tail(gateway, 100)
    finally:
        gateway.stop()
