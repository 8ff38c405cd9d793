"""The database killed under a service: clear codes, bounded readiness, safe retries.

The contacts service runs on a MongoDB-wire server of this module's own, which the tests
SIGKILL and start again on the same data. Mutations carry an ``Idempotency-Key``: a retry
returns the first answer and never makes the change twice; every acknowledged change is
still there after the kill (the writes are journalled, ``w: majority, j: true``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from services.common import mongo
from services.common.settings import Settings
from services.dev.servers import ServerProcess, mongodb_server, mongodb_uri
from tests.conftest import TokenFactory, error_codes
from tests.gateway_stack import contacts_running
from tests.test_contacts_directory import AUTHORITY_CREATE, contact_input

CREATE = """mutation($input: ContactCreateInput!) {
  contactCreate(input: $input) { contact { id name } }
}"""
CONTACTS = "{ contacts { totalCount } }"  # read from the database (States are kept in memory)
COUNT = 12


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = mongodb_server(tmp_path_factory.mktemp("killed-db") / "data").start()
    yield server
    server.stop()


@pytest.fixture
async def contacts(database: ServerProcess, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    own = settings.model_copy(
        update={"mongodb_uri": mongodb_uri(database.port), "contacts_db": "killed_contacts"}
    )
    async with (
        contacts_running(own) as app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://contacts", timeout=30
        ) as http,
    ):
        yield http


def _input(authority: str, name: str) -> dict[str, Any]:
    email = name.lower().replace(" ", ".") + "@douane.example"
    return {"input": contact_input(authority, name=name, functionalEmail=email)}


def _restart(database: ServerProcess) -> None:
    database.kill()
    assert database.log_path is None
    data_dir = Path(database.argv[database.argv.index("--storage-path") + 1])
    again = mongodb_server(data_dir, port=database.port).start()
    database.process = again.process


async def _call(
    http: httpx.AsyncClient, token: str, query: str, variables: dict, key: str | None = None
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"}
    if key is not None:
        headers["idempotency-key"] = key
    answer = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def _authority(http: httpx.AsyncClient, token: str) -> str:
    made = await _call(
        http,
        token,
        AUTHORITY_CREATE,
        {"input": {"stateCode": "FRA", "kind": "CUSTOMS", "name": "Douanes"}},
    )
    assert "errors" not in made, made
    return made["data"]["authorityCreate"]["authority"]["id"]


def _contacts_named(database: ServerProcess, prefix: str) -> list[str]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri(database.port))
    try:
        found = client["killed_contacts"]["contacts"].find(
            {"name": {"$regex": f"^{prefix}"}}, {"name": 1}
        )
        return sorted(doc["name"] for doc in found)
    finally:
        client.close()


async def test_a_retry_with_the_same_key_returns_the_first_answer(
    contacts: httpx.AsyncClient, token: TokenFactory, database: ServerProcess
) -> None:
    marie = token(sub="marie", state="FRA")
    authority = await _authority(contacts, marie)
    variables = _input(authority, "Retry Once")
    first = await _call(contacts, marie, CREATE, variables, key="create-retry-once")
    assert "errors" not in first, first
    again = await _call(contacts, marie, CREATE, variables, key="create-retry-once")
    assert again == first
    assert _contacts_named(database, "Retry Once") == ["Retry Once"]
    # the same key for another request is refused; another caller's key is their own
    other = _input(authority, "Retry Twice")
    reused = await _call(contacts, marie, CREATE, other, key="create-retry-once")
    assert error_codes(reused) == ["CONFLICT"]
    jean = token(sub="jean", state="FRA")
    theirs = await _call(contacts, jean, CREATE, other, key="create-retry-once")
    assert "errors" not in theirs, theirs
    # hostile keys are refused, and nothing is made
    for bad in (b"", b"x" * 201, "caf\u00e9".encode(), b"tab\tkey"):
        headers = {"authorization": f"Bearer {marie}".encode(), b"idempotency-key": bad}
        answer = await contacts.post(
            "/graphql",
            content=json.dumps({"query": CREATE, "variables": other}).encode(),
            headers={**headers, b"content-type": b"application/json"},
        )
        assert error_codes(answer.json()) == ["VALIDATION"]
    assert _contacts_named(database, "Retry Twice") == ["Retry Twice"]


async def test_the_database_killed_during_mutations(
    contacts: httpx.AsyncClient, token: TokenFactory, database: ServerProcess
) -> None:
    marie = token(sub="marie", state="FRA")
    authority = await _authority(contacts, marie)

    def variables(i: int) -> dict[str, Any]:
        return _input(authority, f"Killed {i:02d}")

    async def create(i: int) -> dict[str, Any]:
        await asyncio.sleep(0.05 * i)
        return await _call(contacts, marie, CREATE, variables(i), key=f"killed-{i}")

    running = [asyncio.ensure_future(create(i)) for i in range(COUNT)]
    # killed once a few were answered, while the others are on their way
    while sum(t.done() for t in running) < 3:
        await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
    database.kill()
    answers = await asyncio.gather(*running)
    # each answer is a success or UNAVAILABLE, never INTERNAL
    told_ok = {i for i, a in enumerate(answers) if "errors" not in a}
    assert len(told_ok) >= 3
    for i, answer in enumerate(answers):
        if i not in told_ok:
            assert error_codes(answer) == ["UNAVAILABLE"], answer
    # with the database away: reads and writes say UNAVAILABLE, readiness says so in time
    assert error_codes(await _call(contacts, marie, CONTACTS, {})) == ["UNAVAILABLE"]
    away = await _call(contacts, marie, CREATE, variables(99), key="killed-99")
    assert error_codes(away) == ["UNAVAILABLE"]
    ready = await asyncio.wait_for(contacts.get("/readyz"), 10)
    assert ready.status_code == 503 and ready.json()["checks"]["mongodb"] is False

    _restart(database)
    assert await asyncio.wait_for(mongo.run_sync(mongo.ping, "contacts", 10.0), 15)
    # every acknowledged contact survived the kill
    names = _contacts_named(database, "Killed")
    assert {f"Killed {i:02d}" for i in told_ok} <= set(names)
    # every retry with its key: the first answer where it committed, else done now; once each
    retried = [
        await _call(contacts, marie, CREATE, variables(i), key=f"killed-{i}") for i in range(COUNT)
    ]
    assert all("errors" not in r for r in retried), retried
    for i in told_ok:
        assert retried[i] == answers[i]
    assert _contacts_named(database, "Killed") == [f"Killed {i:02d}" for i in range(COUNT)]
