"""A poison event: a consumer that cannot handle it parks it on the dead-letter subject after
``max_deliver`` deliveries instead of retrying for ever; the events after it go on, and a
consumer of all the service's subjects does not handle the parked copy again; the service's
``/metrics`` counts it in ``dief_events_dead_lettered_total``."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
import pytest

from services.common import mongo
from services.common.events import CloudEvent, event
from services.common.messaging import (
    DurableConsumer,
    connect_nats,
    dead_letter_subject,
    ensure_stream,
)
from services.common.settings import Settings
from tests.events_support import eventually, unique_name
from tests.test_service_metrics import samples


async def _dead_lettered(settings: Settings, durable: str) -> float:
    """``dief_events_dead_lettered_total`` of ``durable`` on the contacts service's /metrics."""
    from services.contacts.app import build

    transport = httpx.ASGITransport(app=build(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://contacts") as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    labels = (("consumer", durable), ("service", "contacts"))
    return samples(answer.text).get(("dief_events_dead_lettered_total", labels), 0.0)


async def test_a_poison_event_is_parked_after_max_deliver(
    settings: Settings, clean_databases: None, caplog: pytest.LogCaptureFixture
) -> None:
    mongo.connect("contacts", settings.mongodb_uri, settings.contacts_db)
    durable, marker = unique_name("poison"), unique_name("ev")
    poison = event("contacts", "contact", "changed", subject=f"{marker}-poison")
    fine = event("contacts", "contact", "changed", subject=f"{marker}-fine")
    attempts: list[str] = []
    handled: list[str] = []

    async def handler(ev: CloudEvent) -> None:
        if ev.subject == poison.subject:
            attempts.append(ev.id)
            raise ValueError("cannot handle this one")
        if ev.subject.startswith(marker):
            handled.append(ev.id)

    nc = await connect_nats(settings.nats_url, "poison-test")
    js = nc.jetstream()
    await ensure_stream(js, settings.stream_name, 1)
    consumer = DurableConsumer(
        js,
        alias="contacts",
        durable=durable,
        subject_filter="dief.contacts.contact.changed",
        handler=handler,
        stream=settings.stream_name,
        max_deliver=3,
        retry_delay_seconds=0.1,
    )
    assert await _dead_lettered(settings, durable) == 0
    task = asyncio.create_task(consumer.run())
    try:
        with caplog.at_level(logging.ERROR, logger="dief.messaging"):
            for ev in (poison, fine):
                await js.publish(ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id})
            subject = dead_letter_subject("contacts", durable)
            parked = await js.pull_subscribe(subject, stream=settings.stream_name)
            msgs = []

            async def arrived() -> bool:
                with contextlib.suppress(TimeoutError):
                    msgs.extend(await parked.fetch(1, timeout=0.5))
                return bool(msgs)

            await eventually(arrived, timeout=30, what="the poison event parked")
            assert CloudEvent.from_json(msgs[0].data).id == poison.id
            assert msgs[0].headers["Dief-Original-Subject"] == poison.nats_subject
            assert "ValueError" in msgs[0].headers["Dief-Error"]
            await eventually(lambda: handled == [fine.id], timeout=15, what="the next event")
            await asyncio.sleep(0.5)  # no further delivery of the parked event
            assert attempts == [poison.id] * 3
        assert any("parked" in r.getMessage() for r in caplog.records)
        assert await _dead_lettered(settings, durable) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.close()
