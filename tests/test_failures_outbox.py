"""Each event in the stream once: a relay killed mid-batch and restarted after the stream's
duplicate window, and two replicas relaying the same outbox.

The contacts service runs as real processes (``dief serve contacts``) over a database and a
nats-server of this module's own; the stream's duplicate window is half a second and the
relay's lease three, so "after the window" takes a second, not two minutes. The outbox is
filled directly with events to relay; the stream is then read message by message.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson import Binary
from pymongo import MongoClient

from services.common.keys import ensure_dev_key
from services.dev.servers import (
    LOOPBACK,
    ServerProcess,
    free_port,
    mongodb_uri,
    nats_server,
    nats_url,
)
from tests.events_support import connect

pytestmark = pytest.mark.slow

WINDOW_SECONDS = 0.5
DB = "outbox_failures"
EVENTS = 400


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox-failures")


@pytest.fixture(scope="module")
def own_nats(root: Path) -> Iterator[ServerProcess]:
    server = nats_server(root / "nats", log_path=root / "nats.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def env(root: Path, mongodb: ServerProcess, own_nats: ServerProcess) -> dict[str, str]:
    ensure_dev_key(root / "home" / "keys")
    return {
        "DIEF_ENV": "dev",
        "DIEF_HOME": str(root / "home"),
        "MONGODB_URI": mongodb_uri(mongodb.port),
        "NATS_URL": nats_url(own_nats.port),
        "DIEF_CONTACTS_DB": DB,
        "DIEF_OUTBOX_POLL_SECONDS": "0.1",
        "DIEF_OUTBOX_LEASE_SECONDS": "3",
        "DIEF_STREAM_DUPLICATE_WINDOW_SECONDS": str(WINDOW_SECONDS),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="module")
def outbox(mongodb: ServerProcess) -> Iterator[Any]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri(mongodb.port))
    client.drop_database(DB)
    yield client[DB]["outbox"]
    client.close()


def _contacts(root: Path, env: dict[str, str], name: str) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "services.cli", "serve", "contacts"]
    return ServerProcess(
        name,
        [*argv, "--host", LOOPBACK, "--port", str(port)],
        port,
        log_path=root / f"{name}.log",
        env=env,
    )


def _fill(outbox: Any, prefix: str, count: int = EVENTS) -> list[str]:
    """Events waiting in the outbox, as a unit of work leaves them."""
    ids = [f"{prefix}-{i:05d}" for i in range(count)]
    base = datetime.now(UTC) - timedelta(minutes=5)
    outbox.insert_many(
        [
            {
                "_id": event_id,
                "subject": "dief.contacts.contact.changed",
                "payload": Binary(json.dumps({"id": event_id}).encode()),
                "created_at": base + timedelta(microseconds=i),
                "sent_at": None,
                "attempts": 0,
            }
            for i, event_id in enumerate(ids)
        ]
    )
    return ids


async def _stream_ids(nats_port: int, prefix: str) -> list[str]:
    """The event ids of ``prefix`` in the stream, once per message."""
    nc = await connect(nats_url(nats_port))
    try:
        js = nc.jetstream()
        last = (await js.stream_info("DIEF")).state.last_seq
        found = []
        for seq in range(1, last + 1):
            msg = await js.get_msg("DIEF", seq=seq)
            event_id = (msg.headers or {}).get("Nats-Msg-Id", "")
            if event_id.startswith(f"{prefix}-"):
                found.append(event_id)
        return found
    finally:
        await nc.close()


async def _stream_count(nats_port: int) -> int:
    nc = await connect(nats_url(nats_port))
    try:
        try:
            return (await nc.jetstream().stream_info("DIEF")).state.messages
        except Exception:
            return 0  # not made yet
    finally:
        await nc.close()


async def _until(check: Any, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


async def test_a_relay_killed_mid_batch_and_restarted_after_the_window_publishes_nothing_twice(
    root: Path, env: dict[str, str], outbox: Any, own_nats: ServerProcess
) -> None:
    ids = _fill(outbox, "killed")
    before = await _stream_count(own_nats.port)
    first = _contacts(root, env, "relay-killed").start()
    try:

        async def publishing() -> bool:
            return await _stream_count(own_nats.port) >= before + 20

        await _until(publishing, 60, "publishing")
    finally:
        first.kill()
    published = await _stream_count(own_nats.port) - before
    marked = outbox.count_documents({"_id": {"$regex": "^killed-"}, "sent_at": {"$ne": None}})
    assert published > marked  # killed between publishing and marking
    await asyncio.sleep(WINDOW_SECONDS * 3)  # the stream no longer drops these as copies

    again = _contacts(root, env, "relay-restarted").start()
    try:

        async def drained() -> bool:
            return outbox.count_documents({"_id": {"$regex": "^killed-"}, "sent_at": None}) == 0

        await _until(drained, 90, "relaying the rest")
    finally:
        again.stop()
    in_stream = await _stream_ids(own_nats.port, "killed")
    assert len(in_stream) == len(ids)
    assert sorted(in_stream) == ids


async def test_two_replicas_relay_each_event_once(
    root: Path, env: dict[str, str], outbox: Any, own_nats: ServerProcess
) -> None:
    ids = _fill(outbox, "replicas")
    replicas = [_contacts(root, env, f"replica-{n}") for n in (1, 2)]
    try:
        for replica in replicas:
            replica.start()

        async def drained() -> bool:
            return outbox.count_documents({"_id": {"$regex": "^replicas-"}, "sent_at": None}) == 0

        await _until(drained, 90, "relaying")
        # both replicas were up the whole time: one relayed, the other stood by
        assert all(r.process is not None and r.process.poll() is None for r in replicas)
    finally:
        for replica in replicas:
            replica.stop()
    in_stream = await _stream_ids(own_nats.port, "replicas")
    assert len(in_stream) == len(ids)
    assert sorted(in_stream) == ids
    assert not os.environ.get("DIEF_STREAM_DUPLICATE_WINDOW_SECONDS")  # only the children's
