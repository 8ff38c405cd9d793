"""deploy/nats/nats.conf on a real nats-server: services publish only their own subjects,
other ATT systems read the stream and never publish."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.common.events import event
from services.common.messaging import ensure_stream
from services.dev.servers import ServerProcess, free_port, venv_bin
from tests.events_support import unique_name

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nats" / "nats.conf"
USERS = ("contacts", "meetings", "cases", "gateway", "att_systems")
PASSWORDS = {user: f"pw-{user}-{os.getpid()}" for user in USERS}


@pytest.fixture(scope="module")
def secured_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    root = tmp_path_factory.mktemp("nats-secured")
    port = free_port()
    env = {f"DIEF_NATS_{user.upper()}_PASSWORD": pw for user, pw in PASSWORDS.items()}
    server = ServerProcess(
        "nats-secured",
        [
            venv_bin("nats-server"),
            "-c",
            str(CONFIG),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-sd",
            str(root / "store"),
        ],
        port,
        root / "server.log",
        env=env,
    ).start()
    yield port
    server.stop()


async def _connect(port: int, user: str) -> NATS:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(
        f"nats://{user}:{PASSWORDS[user.replace('-', '_')]}@127.0.0.1:{port}",
        error_cb=on_error,
        max_reconnect_attempts=1,
        connect_timeout=2,
    )
    nc.permission_errors = errors  # type: ignore[attr-defined]
    return nc


@pytest.fixture
async def contacts_client(secured_nats: int) -> AsyncIterator[NATS]:
    nc = await _connect(secured_nats, "contacts")
    await ensure_stream(nc.jetstream(), "DIEF", 1)  # services keep the stream current
    yield nc
    await nc.close()


async def _stream_count(nc: NATS, subject: str) -> int:
    info = await nc.jetstream().stream_info("DIEF", subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def test_a_service_publishes_its_own_subjects(contacts_client: NATS) -> None:
    ev = event("contacts", "contact", "changed", subject=unique_name("own"))
    ack = await contacts_client.jetstream().publish(
        ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id}
    )
    assert ack.stream == "DIEF" and ack.seq > 0


async def test_a_service_cannot_publish_another_services_subjects(contacts_client: NATS) -> None:
    subject = f"dief.meetings.meeting.{unique_name('forged')}"
    with pytest.raises(nats.errors.Error):
        await contacts_client.jetstream().publish(subject, b"{}", timeout=1)
    await contacts_client.flush()
    assert await _stream_count(contacts_client, subject) == 0
    errors = contacts_client.permission_errors  # type: ignore[attr-defined]
    assert any("permissions violation for publish" in str(e).lower() for e in errors)
    assert contacts_client.is_connected  # refused, not disconnected


async def test_att_systems_read_the_stream_and_cannot_publish(
    secured_nats: int, contacts_client: NATS
) -> None:
    marker = unique_name("att")
    ev = event("contacts", "state", "status_changed", subject=marker)
    await contacts_client.jetstream().publish(ev.nats_subject, ev.to_json())

    reader = await _connect(secured_nats, "att-systems")
    try:
        js = reader.jetstream()
        sub = await js.pull_subscribe(
            "dief.contacts.state.status_changed",
            durable=unique_name("att-durable"),
            stream="DIEF",
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
        )
        seen = []
        for _ in range(10):
            msgs = await sub.fetch(100, timeout=2)
            for msg in msgs:
                seen.append(msg.data)
                await msg.ack()
            if any(marker.encode() in data for data in seen):
                break
        assert any(marker.encode() in data for data in seen)

        forged = f"dief.contacts.state.{unique_name('forged')}"
        with pytest.raises(nats.errors.Error):
            await js.publish(forged, b"{}", timeout=1)
        await reader.flush()
        assert await _stream_count(contacts_client, forged) == 0
        with pytest.raises(nats.errors.Error):
            await js.delete_stream("DIEF")
        assert (await contacts_client.jetstream().stream_info("DIEF")).config.name == "DIEF"
    finally:
        await reader.close()


async def test_the_gateway_reads_but_cannot_change_the_stream(secured_nats: int) -> None:
    gateway = await _connect(secured_nats, "gateway")
    try:
        js = gateway.jetstream()
        assert (await js.stream_info("DIEF")).config.name == "DIEF"
        with pytest.raises(nats.errors.Error):
            await ensure_stream(js, "DIEF", 2)
    finally:
        await gateway.close()
