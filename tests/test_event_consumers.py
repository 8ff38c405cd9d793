"""Consumers of the stream: shared durable consumers, NATS restarts, the example consumer."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import mongoengine

from services.common import mongo
from services.common.events import CloudEvent, event
from services.common.messaging import DurableConsumer, connect_nats, ensure_stream
from services.common.settings import Settings
from tests.events_support import OwnNats, eventually, unique_name

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "consumer.py"


def _events(n: int, marker: str) -> list[CloudEvent]:
    return [event("contacts", "contact", "changed", subject=f"{marker}-{i}") for i in range(n)]


async def _publish(url: str, stream: str, events: list[CloudEvent]) -> None:
    nc = await connect_nats(url, "test-publisher")
    js = nc.jetstream()
    await ensure_stream(js, stream, 1)
    for ev in events:
        await js.publish(ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id})
    await nc.close()


async def test_two_replicas_share_a_durable_consumer_and_handle_each_event_once(
    settings: Settings, clean_databases: None
) -> None:
    mongo.connect("contacts", settings.mongodb_uri, settings.contacts_db)
    durable, marker = unique_name("replicas"), unique_name("ev")
    handled: Counter[str] = Counter()
    by_replica: Counter[int] = Counter()
    clients, tasks = [], []
    try:
        for replica in (1, 2):
            nc = await connect_nats(settings.nats_url, f"replica-{replica}")
            clients.append(nc)

            async def handler(ev: CloudEvent, replica: int = replica) -> None:
                handled[ev.id] += 1
                by_replica[replica] += 1
                await asyncio.sleep(0.01)  # work takes time, so both replicas get a share

            consumer = DurableConsumer(
                nc.jetstream(),
                alias="contacts",
                durable=durable,
                subject_filter="dief.contacts.contact.changed",
                handler=handler,
            )
            tasks.append(asyncio.create_task(consumer.run(batch=5)))
        await asyncio.sleep(0.5)  # both replicas are pulling
        events = _events(60, marker)
        ids = {ev.id for ev in events}
        await _publish(settings.nats_url, settings.stream_name, events)
        await eventually(lambda: ids <= set(handled), timeout=20, what="all events handled")
        await asyncio.sleep(0.3)
        assert {i: handled[i] for i in ids} == dict.fromkeys(ids, 1)
        assert by_replica[1] > 0 and by_replica[2] > 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for nc in clients:
            await nc.close()
        mongoengine.disconnect("contacts")


async def test_a_consumer_survives_a_nats_restart_and_resumes(
    settings: Settings, clean_databases: None, tmp_path: Path
) -> None:
    own = OwnNats(tmp_path).start()
    mongo.connect("contacts", settings.mongodb_uri, settings.contacts_db)
    handled: list[str] = []

    async def handler(ev: CloudEvent) -> None:
        handled.append(ev.id)

    nc = await connect_nats(own.url, "restart-consumer")
    consumer = DurableConsumer(
        nc.jetstream(),
        alias="contacts",
        durable="restart-test",
        subject_filter="dief.contacts.>",
        handler=handler,
    )
    task = asyncio.create_task(consumer.run())
    try:
        before = _events(3, "before")
        await _publish(own.url, "DIEF", before)
        await eventually(lambda: len(handled) >= 3, timeout=15, what="first events")
        own.stop()
        await asyncio.sleep(1)
        own.start()
        after = _events(3, "after")
        await _publish(own.url, "DIEF", after)
        await eventually(lambda: len(handled) >= 6, timeout=30, what="events after restart")
        assert handled == [ev.id for ev in before + after]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.close()
        own.stop()
        mongoengine.disconnect("contacts")


def test_the_example_consumer_prints_events_and_resumes(settings: Settings) -> None:
    marker = unique_name("example")
    events = _events(2, marker)
    asyncio.run(_publish(settings.nats_url, settings.stream_name, events))
    env = {
        **os.environ,
        "NATS_URL": settings.nats_url,
        "DURABLE": marker,
        "SUBJECT": "dief.contacts.contact.changed",
    }

    def run_until(wanted: list[str]) -> list[str]:
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE)],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        seen: list[str] = []
        try:
            assert proc.stdout is not None
            while not all(any(w in line for line in seen) for w in wanted):
                line = proc.stdout.readline()
                assert line, "".join(seen)
                seen.append(line)
        finally:
            proc.terminate()
            proc.wait(10)
        return seen

    first = run_until([f"{marker}-0", f"{marker}-1"])
    assert any("dief.contacts.contact.changed" in line for line in first)
    more = _events(1, marker + "-later")
    asyncio.run(_publish(settings.nats_url, settings.stream_name, more))
    second = run_until([f"{marker}-later-0"])
    # resumed after what it acknowledged: the first two are not delivered again
    assert not any(f"{marker}-0 " in line or f"{marker}-1 " in line for line in second)
