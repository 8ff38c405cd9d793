"""deploy/nats/nats.conf on a real nats-server: services publish only their own subjects
and use only their own consumers; other ATT systems read the stream through at most three
consumers of their own, never publish and never touch the services' consumers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.cases import handlers as cases_handlers
from services.common.events import event
from services.common.messaging import DurableConsumer, ensure_stream
from services.common.outbox import WRONG_LAST_SEQUENCE, OutboxRelay, already_in_stream
from services.contacts import ldap_publish
from services.dev.servers import ServerProcess, free_port, venv_bin
from services.meetings import handlers as meetings_handlers
from tests.events_support import unique_name

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nats" / "nats.conf"
USERS = ("contacts", "meetings", "cases", "gateway", "att_systems")
STATUS_CHANGED = "dief.contacts.state.status_changed"
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


async def test_a_services_outbox_relay_reads_fences_and_checks_under_its_own_user(
    contacts_client: NATS,
) -> None:
    """What the relay asks of JetStream (services.common.outbox): the last message of the
    service's subjects, a publish fenced on it, and the stream read back for events already
    there. Without $JS.API.STREAM.MSG.GET.DIEF every round times out and nothing drains."""
    relay = OutboxRelay("contacts", contacts_client.jetstream())
    ev = event("contacts", "contact", "changed", subject=unique_name("relayed"))
    entry = {"_id": ev.id, "subject": ev.nats_subject, "payload": ev.to_json()}
    last = await relay.last_sequence()
    seq = await relay.publish_one(entry, last)
    assert seq > last
    assert await relay.last_sequence() == seq
    assert await already_in_stream(relay.js, "DIEF", {ev.id}, last + 1, seq) == {ev.id: seq}
    with pytest.raises(nats.js.errors.BadRequestError) as fenced:  # the stale fence holds
        await relay.publish_one({**entry, "_id": unique_name("late")}, last)
    assert fenced.value.err_code == WRONG_LAST_SEQUENCE
    assert contacts_client.permission_errors == []  # type: ignore[attr-defined]


async def test_a_service_cannot_publish_another_services_subjects(contacts_client: NATS) -> None:
    subject = f"dief.meetings.meeting.{unique_name('forged')}"
    with pytest.raises(nats.errors.Error):
        await _answered(
            contacts_client, contacts_client.jetstream().publish(subject, b"{}", timeout=1)
        )
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
            durable="att-systems-1",
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
            await _answered(reader, js.publish(forged, b"{}", timeout=1))
        await reader.flush()
        assert await _stream_count(contacts_client, forged) == 0
        with pytest.raises(nats.errors.Error):
            await _answered(reader, js.delete_stream("DIEF"))
        assert (await contacts_client.jetstream().stream_info("DIEF")).config.name == "DIEF"
    finally:
        await reader.close()


async def test_the_gateway_reads_but_cannot_change_the_stream(secured_nats: int) -> None:
    gateway = await _connect(secured_nats, "gateway")
    try:
        js = gateway.jetstream()
        assert (await js.stream_info("DIEF")).config.name == "DIEF"
        with pytest.raises(nats.errors.Error):
            await _answered(gateway, ensure_stream(js, "DIEF", 2))
    finally:
        await gateway.close()


# --- consumers: each user only its own --------------------------------------------------

SERVICE_CONSUMERS = {
    "contacts": "contacts-ldap-publisher",
    "meetings": "meetings-participants",
    "cases": "cases-participants",
}


async def _service_consumer(port: int, user: str) -> tuple[NATS, Any]:
    """The service's consumer as the service itself makes it (DurableConsumer)."""
    nc = await _connect(port, user)
    consumer = DurableConsumer(
        nc.jetstream(),
        alias=user,
        durable=SERVICE_CONSUMERS[user],
        subject_filter=STATUS_CHANGED,
        handler=_ignore,
    )
    return nc, await consumer._subscribe()


async def _ignore(_: Any) -> None:
    return None


async def _answered(nc: NATS, call: Any) -> Any:
    """What ``call`` returns. A request the server refuses to carry (a permission violation
    for its publish) is never answered: the call ends as soon as the server reports the
    violation to the connection, with the timeout it would otherwise have waited for."""
    await nc.flush()  # the violations of earlier calls have been reported by now
    errors: list[Exception] = nc.permission_errors  # type: ignore[attr-defined]
    seen = len(errors)
    task = asyncio.ensure_future(call)
    while not task.done():
        if any("permissions violation for publish" in str(e).lower() for e in errors[seen:]):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if task.cancelled():
                raise nats.errors.TimeoutError
            break
        await asyncio.wait({task}, timeout=0.02)
    return task.result()


async def _refused(nc: NATS, call: Any) -> bool:
    """True when the server refused the JetStream API call (a permission violation leaves
    the request unanswered: a timeout, or an error)."""
    try:
        await _answered(nc, call)
    except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
        await nc.flush()
        return nc.is_connected
    return False


@pytest.fixture
async def services_consumers(
    secured_nats: int, contacts_client: NATS
) -> AsyncIterator[dict[str, tuple[NATS, Any]]]:
    made = {user: await _service_consumer(secured_nats, user) for user in SERVICE_CONSUMERS}
    yield made
    for nc, _ in made.values():
        await nc.close()


async def test_services_work_under_their_own_users(
    services_consumers: dict[str, tuple[NATS, Any]], contacts_client: NATS
) -> None:
    marker = unique_name("works")
    ev = event("contacts", "state", "status_changed", subject=marker)
    await contacts_client.jetstream().publish(ev.nats_subject, ev.to_json())
    for user, (_, sub) in services_consumers.items():
        seen: list[bytes] = []
        for _ in range(20):
            with contextlib.suppress(nats.errors.TimeoutError, TimeoutError):
                for msg in await sub.fetch(100, timeout=2):
                    seen.append(msg.data)
                    await msg.ack()
            if any(marker.encode() in data for data in seen):
                break
        assert any(marker.encode() in data for data in seen), user


async def test_a_service_cannot_take_another_services_consumer(
    secured_nats: int, services_consumers: dict[str, tuple[NATS, Any]]
) -> None:
    meetings = await _connect(secured_nats, "meetings")
    try:
        js = meetings.jetstream()
        assert await _refused(meetings, js.consumer_info("DIEF", "cases-participants", timeout=1))
        assert await _refused(
            meetings,
            js.pull_subscribe(STATUS_CHANGED, durable="cases-participants", stream="DIEF"),
        )
    finally:
        await meetings.close()


@pytest.mark.parametrize("user", ["att-systems", "gateway"])
async def test_outside_systems_cannot_steal_change_or_read_the_services_consumers(
    secured_nats: int,
    services_consumers: dict[str, tuple[NATS, Any]],
    contacts_client: NATS,
    user: str,
) -> None:
    cases_nc, _ = services_consumers["cases"]
    before = await cases_nc.jetstream().consumer_info("DIEF", "cases-participants")
    ev = event("contacts", "state", "status_changed", subject=unique_name("steal"))
    await contacts_client.jetstream().publish(ev.nats_subject, ev.to_json())
    attacker = await _connect(secured_nats, user)
    try:
        js = attacker.jetstream()
        # fetch and ack the service's messages
        next_subject = "$JS.API.CONSUMER.MSG.NEXT.DIEF.cases-participants"
        assert await _refused(attacker, attacker.request(next_subject, b"1", timeout=1))
        # read its settings, list every consumer
        assert await _refused(attacker, js.consumer_info("DIEF", "cases-participants", timeout=1))
        assert await _refused(
            attacker, attacker.request("$JS.API.CONSUMER.LIST.DIEF", b"{}", timeout=1)
        )
        assert await _refused(
            attacker, attacker.request("$JS.API.CONSUMER.NAMES.DIEF", b"{}", timeout=1)
        )
        # update its filter to nothing, or create a service's consumer before the service
        for name in ("cases-participants", "contacts-ldap-publisher"):
            config = ConsumerConfig(
                durable_name=name, filter_subject="dief.nothing", ack_policy=AckPolicy.EXPLICIT
            )
            assert await _refused(attacker, js.add_consumer("DIEF", config, timeout=1)), name
            for filtered in ("dief.nothing", STATUS_CHANGED):
                named = ConsumerConfig(
                    name=name, filter_subject=filtered, deliver_policy=DeliverPolicy.NEW
                )
                assert await _refused(attacker, js.add_consumer("DIEF", named, timeout=1)), name
        # delete it
        assert await _refused(attacker, js.delete_consumer("DIEF", "cases-participants"))
    finally:
        await attacker.close()
    after = await cases_nc.jetstream().consumer_info("DIEF", "cases-participants")
    assert after.config.filter_subject == STATUS_CHANGED
    assert after.num_pending >= before.num_pending + 1, "nothing was taken from the service"
    assert after.delivered.consumer_seq == before.delivered.consumer_seq


async def test_outside_systems_have_three_consumers_of_their_own_and_no_more(
    secured_nats: int, contacts_client: NATS
) -> None:
    reader = await _connect(secured_nats, "att-systems")
    try:
        js = reader.jetstream()
        for name in ("att-systems-2", "att-systems-3"):
            await js.pull_subscribe(STATUS_CHANGED, durable=name, stream="DIEF")
            assert (await js.consumer_info("DIEF", name)).name == name
        for config in (
            ConsumerConfig(durable_name="att-systems-4"),
            ConsumerConfig(durable_name=unique_name("att-systems")),
            ConsumerConfig(),  # server-named (ephemeral)
        ):
            assert await _refused(reader, js.add_consumer("DIEF", config, timeout=1)), config
    finally:
        await reader.close()


async def test_the_gateway_cannot_name_a_services_consumer_through_an_ephemeral_request(
    secured_nats: int, services_consumers: dict[str, tuple[NATS, Any]]
) -> None:
    gateway = await _connect(secured_nats, "gateway")
    try:
        js = gateway.jetstream()
        own = await js.pull_subscribe(
            STATUS_CHANGED,
            stream="DIEF",
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.NEW,
                ack_policy=AckPolicy.EXPLICIT,
                filter_subject=STATUS_CHANGED,
                inactive_threshold=60,
            ),
        )
        assert (await own.consumer_info()).name
        body = json.dumps(
            {
                "stream_name": "DIEF",
                "config": {"durable_name": "cases-participants", "filter_subject": "dief.nothing"},
            }
        ).encode()
        try:
            answer = await _answered(
                gateway, gateway.request("$JS.API.CONSUMER.CREATE.DIEF", body, timeout=2)
            )
        except nats.errors.TimeoutError:
            pass  # refused without an answer
        else:
            assert "error" in json.loads(answer.data), answer.data
    finally:
        await gateway.close()
    cases_nc, _ = services_consumers["cases"]
    info = await cases_nc.jetstream().consumer_info("DIEF", "cases-participants")
    assert info.config.filter_subject == STATUS_CHANGED


def test_every_durable_consumer_in_the_code_is_allowed_to_its_service_only() -> None:
    conf = CONFIG.read_text()
    names = set(re.findall(r'durable="([a-z0-9-]+)"', _sources()))
    names |= {ldap_publish.DURABLE, meetings_handlers.PARTICIPANTS.durable}
    names |= {cases_handlers.PARTICIPANTS.durable}
    assert names >= set(SERVICE_CONSUMERS.values())
    for name in names:
        service = name.split("-")[0]
        block = conf.split(f"user: {service}\n", 1)[1].split("user:", 1)[0]
        assert f'"$JS.API.CONSUMER.DURABLE.CREATE.DIEF.{name}"' in block, name
        others = conf.replace(block, "")
        assert f'"$JS.API.CONSUMER.MSG.NEXT.DIEF.{name}"' not in others.split("user: gateway")[0]


def _sources() -> str:
    root = CONFIG.parent.parent.parent / "services"
    return "\n".join(p.read_text() for p in root.rglob("*.py"))
