"""Events end to end: the transactional outbox, the relay, JetStream and the idempotent
consumer, against the real MongoDB-wire server and real nats-servers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import mongoengine
import pytest
from mongoengine import Document, StringField
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError
from pymongo.errors import DuplicateKeyError

from services.common import mongo
from services.common.catalogue import EventData, declare
from services.common.events import CloudEvent, event
from services.common.messaging import PROCESSED, Delivered, DurableConsumer, ensure_stream
from services.common.outbox import OutboxRelay, pending_events
from services.common.principal import Principal, Role
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings
from services.common.unit_of_work import OUTBOX, UnitOfWork, unit_of_work
from services.contacts import handlers
from services.contacts.app import build
from services.contacts.documents import ALIAS as CONTACTS
from services.contacts.domain import AttStatus, StatusDates
from tests.conftest import GraphQLClient, TokenFactory
from tests.events_support import (
    OwnNats,
    connect,
    drain_messages,
    eventually,
    messages_on,
    reader,
    unique_name,
)

STATUS_CHANGED = "dief.contacts.state.status_changed"
EVENTS = "events_test"  # the mongoengine alias of the tests' own database

CHANGE_STATUS = """mutation($input: StateStatusChangeInput!) {
  stateStatusChange(input: $input) { state { code status participant } }
}"""

USA_SIGNS = {
    "code": "USA",
    "status": "SIGNATORY",
    "signatureDate": "2013-09-25",
    "note": "Letter of 25 September 2013 from Jane Roe, jane.roe@state.example",
}


class Widget(Document):
    """A document of the tests' own database, to write next to outbox entries."""

    meta = {"db_alias": EVENTS, "collection": "widgets"}
    name = StringField(required=True)


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def events_db(settings: Settings) -> Iterator[str]:
    """An empty database of its own, registered as the ``EVENTS`` alias."""
    db = mongo.connect(EVENTS, settings.mongodb_uri, "test_events")
    db.client.drop_database("test_events")
    yield EVENTS
    mongoengine.disconnect(EVENTS)


@pytest.fixture
async def session_js(settings: Settings) -> AsyncIterator[JetStreamContext]:
    """A client of the session's nats-server, with the DIEF stream in place."""
    nc = await connect(settings.nats_url)
    js = nc.jetstream()
    await ensure_stream(js, settings.stream_name, settings.stream_max_age_days)
    yield js
    await nc.close()


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[OwnNats]:
    server = OwnNats(tmp_path / "own-nats").start()
    yield server
    server.stop()


def secretariat(token: TokenFactory) -> str:
    return token(sub="sec1", roles=("secretariat",), participant=False)


def outbox(alias: str) -> Any:
    return mongo.database(alias)[OUTBOX]


class ThingHappened(EventData):
    n: int


def new_event(entity: str, **data: Any) -> CloudEvent:
    """An event of a test-only type, declared in the catalogue like any other."""
    declare("eventtests", entity, "happened", summary="test", why="test", data=ThingHappened)
    return event("eventtests", entity, "happened", subject=f"thing-{entity}", **data)


@asynccontextmanager
async def consuming(consumer: DurableConsumer) -> AsyncIterator[None]:
    """Run the consumer's loop for the duration of the block, then stop it and delete it."""
    task = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await consumer.js.delete_consumer(consumer.stream, consumer.durable)


async def consumer_settled(js: JetStreamContext, durable: str, last_seq: int) -> bool:
    """Everything up to ``last_seq`` delivered and acked, nothing left over."""
    try:
        info = await js.consumer_info("DIEF", durable)
    except NotFoundError:  # the consumer's loop has not created it yet
        return False
    return (
        info.ack_floor is not None
        and info.ack_floor.stream_seq >= last_seq
        and info.num_ack_pending == 0
        and info.num_pending == 0
    )


# --- 1. a status change is announced once, thinly --------------------------------------


async def test_status_change_publishes_one_thin_cloudevent(
    gql: GraphQLClient, token: TokenFactory, contacts_app: Any, session_js: JetStreamContext
) -> None:
    await mongo.run_sync(handlers.seed_states)
    # A new consumer that only sees what is published from now on.
    sub, name = await reader(session_js, STATUS_CHANGED, deliver_policy=DeliverPolicy.NEW)
    try:
        before = datetime.now(UTC)
        result = await gql(CHANGE_STATUS, {"input": USA_SIGNS}, secretariat(token))
        assert "errors" not in result, result
        msgs = await drain_messages(sub, at_least=1, settle=0.5)
    finally:
        await session_js.delete_consumer("DIEF", name)

    assert len(msgs) == 1, [m.data for m in msgs]
    msg = msgs[0]
    assert msg.subject == STATUS_CHANGED
    envelope = json.loads(msg.data)
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == envelope["id"]
    assert {k: v for k, v in envelope.items() if k not in ("id", "time", "data")} == {
        "specversion": "1.0",
        "type": STATUS_CHANGED,
        "source": "/dief/contacts",
        "subject": "USA",
        "datacontenttype": "application/json",
    }
    data = envelope["data"]
    changed_at = datetime.fromisoformat(data.pop("changedAt"))
    assert before - timedelta(seconds=1) <= changed_at <= datetime.now(UTC)
    assert data == {
        "stateCode": "USA",
        "status": "SIGNATORY",
        "previousStatus": "NON_PARTY",
        "participant": True,
    }
    # Thin: neither who made the change nor the note (with its name and address) travels.
    raw = msg.data.decode()
    for personal in ("sec1", "Jane", "jane.roe@state.example", "Letter"):
        assert personal not in raw
    # The outbox entry it came from is marked with the stream sequence it got.
    entries = await mongo.run_sync(lambda: list(outbox(CONTACTS).find({})))
    assert [e["_id"] for e in entries] == [envelope["id"]]
    assert entries[0]["sent_at"] is not None
    assert entries[0]["stream_seq"] == msg.metadata.sequence.stream


async def test_status_change_by_the_handler_records_exactly_one_event(
    contacts_app: Any, session_js: JetStreamContext
) -> None:
    """The same through the handler itself: one outbox entry, in the same commit as the
    State, delivered once."""
    await mongo.run_sync(handlers.seed_states)
    sub, name = await reader(session_js, STATUS_CHANGED, deliver_policy=DeliverPolicy.NEW)
    try:
        principal = Principal(
            subject="sec2", roles=frozenset({Role("secretariat")}), state=None, participant=False
        )
        change = handlers.StatusChangeInput(
            code="CAN", status=AttStatus.SIGNATORY, dates=StatusDates(signature=date(2019, 6, 5))
        )
        await mongo.run_sync(handlers.change_state_status, principal, change)
        contacts_app.state.runtime.wake_relay()
        msgs = await drain_messages(sub, at_least=1, settle=0.5)
    finally:
        await session_js.delete_consumer("DIEF", name)
    assert len(msgs) == 1
    data = json.loads(msgs[0].data)["data"]
    assert (data["stateCode"], data["status"], data["previousStatus"], data["participant"]) == (
        "CAN",
        "SIGNATORY",
        "NON_PARTY",
        True,
    )


# --- 2. NATS down: the mutation succeeds, the event waits, then goes -------------------


@asynccontextmanager
async def contacts_service(settings: Settings) -> AsyncIterator[tuple[Any, GraphQLClient]]:
    app = build(settings)
    try:
        async with app.router.lifespan_context(app):
            await mongo.run_sync(handlers.seed_states)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://contacts") as http:
                yield app, GraphQLClient(http)
    finally:
        mongoengine.disconnect(CONTACTS)


@pytest.mark.parametrize(
    "outage",
    [
        "after_start",  # NATS goes away while the app runs; back within the publish timeout
        "long",  # ... and stays away until a relay round has failed (about 5 s)
        "before_start",  # NATS is down when the app starts: no link, no relay yet
    ],
)
async def test_event_waits_in_the_outbox_while_nats_is_down(
    settings: Settings,
    clean_databases: None,
    own_nats: OwnNats,
    token: TokenFactory,
    caplog: pytest.LogCaptureFixture,
    outage: str,
) -> None:
    mine = settings.model_copy(update={"nats_url": own_nats.url})
    if outage == "before_start":
        own_nats.stop()
    async with contacts_service(mine) as (app, gql):
        runtime: ServiceRuntime = app.state.runtime
        if outage != "before_start":
            await eventually(
                lambda: runtime.relay is not None and runtime.nats.connected,
                what="the app's NATS link and relay",
            )
            own_nats.stop()
            await eventually(
                lambda: not runtime.nats.connected, what="the app noticing NATS is gone"
            )
        caplog.clear()

        result = await gql(CHANGE_STATUS, {"input": USA_SIGNS}, secretariat(token))
        assert "errors" not in result, result
        assert result["data"]["stateStatusChange"]["state"]["status"] == "SIGNATORY"

        def pending() -> list[dict[str, Any]]:
            return list(outbox(CONTACTS).find({}))

        entries = await mongo.run_sync(pending)
        assert len(entries) == 1
        event_id = entries[0]["_id"]
        assert entries[0]["subject"] == STATUS_CHANGED
        assert entries[0]["sent_at"] is None
        if outage == "long":  # the relay's publish times out; it must try again later
            await eventually(
                lambda: any(
                    r.name == "dief.outbox" and "will retry" in r.getMessage()
                    for r in caplog.records
                ),
                timeout=15,
                what="a failed relay round",
            )
        else:
            await asyncio.sleep(0.3)  # the mutation woke the relay: it cannot send yet
        assert (await mongo.run_sync(pending))[0]["sent_at"] is None

        own_nats.start()  # same port, same store directory

        async def sent() -> dict[str, Any] | None:
            return await mongo.run_sync(
                lambda: outbox(CONTACTS).find_one({"_id": event_id, "sent_at": {"$ne": None}})
            )

        entry = await eventually(sent, timeout=30, what="the relay publishing the event")

    nc = await connect(own_nats.url)
    try:
        js = nc.jetstream()
        assert await messages_on(js, STATUS_CHANGED) == 1
        stored = await js.get_last_msg("DIEF", STATUS_CHANGED)
        assert stored.headers is not None
        assert stored.headers["Nats-Msg-Id"] == event_id
        assert stored.seq == entry["stream_seq"]
        assert json.loads(stored.data or b"{}")["data"]["stateCode"] == "USA"
    finally:
        await nc.close()


# --- 3. a relay crash between publishing and marking: published again, handled once ---


async def test_relay_crash_before_marking_sent_is_deduplicated(
    events_db: str, session_js: JetStreamContext
) -> None:
    entity = unique_name("crash")
    ev = new_event(entity, n=1)
    with unit_of_work(events_db) as uow:
        uow.record(ev)
    [entry] = await mongo.run_sync(pending_events, events_db)
    assert entry["_id"] == ev.id

    # The first relay publishes, then "crashes" before mark_sent.
    first_seq = await OutboxRelay(events_db, session_js).publish_one(entry)
    assert (await mongo.run_sync(pending_events, events_db))[0]["_id"] == ev.id

    handled: list[CloudEvent] = []

    async def handler(got: CloudEvent) -> None:
        handled.append(got)

    consumer = DurableConsumer(
        session_js,
        alias=events_db,
        durable=unique_name("relaycrash_"),
        subject_filter=ev.nats_subject,
        handler=handler,
    )
    async with consuming(consumer):
        await eventually(lambda: len(handled) == 1, what="the first delivery")

        # The next relay run finds the event still pending and publishes it again.
        assert await OutboxRelay(events_db, session_js).publish_pending() == 1
        assert await mongo.run_sync(pending_events, events_db) == []
        marked = await mongo.run_sync(lambda: outbox(events_db).find_one({"_id": ev.id}))
        assert marked["sent_at"] is not None
        assert marked["stream_seq"] == first_seq  # JetStream acked the copy as a duplicate

        assert await messages_on(session_js, ev.nats_subject) == 1
        await eventually(
            lambda: consumer_settled(session_js, consumer.durable, first_seq),
            what="the consumer acking everything",
        )
        await asyncio.sleep(0.3)
        info = await session_js.consumer_info("DIEF", consumer.durable)
        assert info.delivered is not None and info.delivered.consumer_seq == 1

    assert [e.id for e in handled] == [ev.id]
    assert handled[0].data == {"n": 1}


# --- 4. the consumer skips an event id it has handled, even without dedup --------------


async def test_consumer_handles_a_republished_envelope_once(
    events_db: str, session_js: JetStreamContext
) -> None:
    ev = new_event(unique_name("twice"), n=2)
    handled: list[str] = []

    async def handler(got: CloudEvent) -> None:
        handled.append(got.id)

    consumer = DurableConsumer(
        session_js,
        alias=events_db,
        durable=unique_name("twice_"),
        subject_filter=ev.nats_subject,
        handler=handler,
    )
    async with consuming(consumer):
        # No Nats-Msg-Id: JetStream cannot tell the copies apart and stores both.
        first = await session_js.publish(ev.nats_subject, ev.to_json())
        await eventually(lambda: handled == [ev.id], what="the first copy handled")
        second = await session_js.publish(ev.nats_subject, ev.to_json())
        assert not first.duplicate and not second.duplicate
        assert second.seq > first.seq
        assert await messages_on(session_js, ev.nats_subject) == 2

        await eventually(
            lambda: consumer_settled(session_js, consumer.durable, second.seq),
            what="both copies acked",
        )
        await asyncio.sleep(0.3)
        info = await session_js.consumer_info("DIEF", consumer.durable)
        assert info.delivered is not None and info.delivered.consumer_seq == 2
        assert info.num_redelivered == 0
        assert info.num_ack_pending == 0

    assert handled == [ev.id]
    processed = await mongo.run_sync(lambda: list(mongo.database(events_db)[PROCESSED].find({})))
    assert [p["_id"] for p in processed] == [f"{consumer.durable}:{ev.id}"]


async def test_consumer_retries_a_failed_handler_until_it_succeeds(
    events_db: str, session_js: JetStreamContext
) -> None:
    """A handler that fails is not marked handled: the message is redelivered."""
    ev = new_event(unique_name("retry"), n=3)
    calls: list[str] = []

    async def flaky(got: CloudEvent) -> None:
        calls.append(got.id)
        if len(calls) == 1:
            raise RuntimeError("downstream unavailable")

    consumer = DurableConsumer(
        session_js,
        alias=events_db,
        durable=unique_name("retry_"),
        subject_filter=ev.nats_subject,
        handler=flaky,
    )
    async with consuming(consumer):
        ack = await session_js.publish(
            ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id}
        )
        await eventually(
            lambda: consumer_settled(session_js, consumer.durable, ack.seq),
            what="the redelivered message acked",
        )
    assert calls == [ev.id, ev.id]
    processed = await mongo.run_sync(
        lambda: mongo.database(events_db)[PROCESSED].count_documents({})
    )
    assert processed == 1


async def test_a_batch_consumer_gets_fresh_events_in_order_and_retries_the_batch(
    events_db: str, session_js: JetStreamContext
) -> None:
    """Batch mode: the handler gets the batch's events not handled before, in stream order
    with their sequences; a failure redelivers the batch; a copy is handled once."""
    entity = unique_name("batch")
    events = [new_event(entity, n=n) for n in range(3)]
    calls: list[list[tuple[str, int]]] = []

    async def flaky(batch: list[Delivered]) -> None:
        calls.append([(d.event.id, d.stream_seq) for d in batch])
        if len(calls) == 1:
            raise RuntimeError("downstream unavailable")

    seqs = [
        (
            await session_js.publish(ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id})
        ).seq
        for ev in events
    ]
    consumer = DurableConsumer(
        session_js,
        alias=events_db,
        durable=unique_name("batch_"),
        subject_filter=events[0].nats_subject,
        batch_handler=flaky,
    )
    async with consuming(consumer):
        await eventually(
            lambda: consumer_settled(session_js, consumer.durable, seqs[-1]),
            what="the redelivered batch acked",
        )
        # The same envelope again, without a message id: stored, delivered, not handled.
        copy = await session_js.publish(events[0].nats_subject, events[0].to_json())
        await eventually(
            lambda: consumer_settled(session_js, consumer.durable, copy.seq),
            what="the copy acked",
        )
    expected = [(ev.id, seq) for ev, seq in zip(events, seqs, strict=True)]
    assert calls[0] == expected
    # The server may split the redelivery over several fetches; each batch is in stream order.
    for call in calls:
        assert call == sorted(call, key=lambda item: item[1])
    redelivered = [item for call in calls[1:] for item in call]
    assert sorted(redelivered, key=lambda item: item[1]) == expected
    processed = await mongo.run_sync(
        lambda: mongo.database(events_db)[PROCESSED].count_documents({})
    )
    assert processed == 3
    with pytest.raises(TypeError):
        DurableConsumer(session_js, alias=events_db, durable="x", subject_filter="dief.>")


# --- 5. a unit of work is all or nothing ------------------------------------------------


def _failing_unit_of_work(alias: str, clash: str) -> tuple[Widget, CloudEvent]:
    """Save a widget and record an event, then hit a duplicate key at commit."""
    existing = Widget(name="existing").save()
    fresh = Widget(name="fresh")
    ev = new_event("uow", n=5)
    with pytest.raises(DuplicateKeyError), unit_of_work(alias) as uow:
        uow.save(fresh)
        uow.record(ev)
        if clash == "document":
            uow.insert(Widget(pk=existing.pk, name="impostor"))
        else:  # the same event twice: the outbox's own key clashes
            uow.record(ev)
    return fresh, ev


@pytest.mark.parametrize("clash", ["document", "outbox"])
async def test_a_failed_commit_writes_nothing(events_db: str, clash: str) -> None:
    fresh, ev = await mongo.run_sync(_failing_unit_of_work, events_db, clash)
    assert fresh.pk is not None  # it was given an id, and the write was attempted

    def state() -> tuple[list[str], int, Any]:
        names = sorted(w.name for w in Widget.objects())
        box = outbox(events_db)
        return names, box.count_documents({}), box.find_one({"_id": ev.id})

    assert await mongo.run_sync(state) == (["existing"], 0, None)


def _unit_of_work_that_raises(alias: str) -> None:
    with pytest.raises(RuntimeError), unit_of_work(alias) as uow:
        uow.save(Widget(name="never"))
        uow.record(new_event("uow", n=6))
        raise RuntimeError("the handler changed its mind")


async def test_an_exception_in_the_block_writes_nothing(events_db: str) -> None:
    await mongo.run_sync(_unit_of_work_that_raises, events_db)
    counts = await mongo.run_sync(
        lambda: (Widget.objects().count(), outbox(events_db).count_documents({}))
    )
    assert counts == (0, 0)


async def test_a_successful_commit_writes_document_and_event_together(events_db: str) -> None:
    def commit() -> tuple[Widget, CloudEvent]:
        uow = UnitOfWork(events_db)
        widget = uow.save(Widget(name="kept"))
        ev = new_event("uow", n=7)
        uow.record(ev)
        assert Widget.objects().count() == 0  # nothing before the commit
        uow.commit()
        return widget, ev

    widget, ev = await mongo.run_sync(commit)
    [entry] = await mongo.run_sync(pending_events, events_db)
    assert entry["_id"] == ev.id and entry["subject"] == ev.nats_subject
    assert CloudEvent.from_json(bytes(entry["payload"])) == ev
    assert await mongo.run_sync(lambda: Widget.objects(pk=widget.pk).first().name) == "kept"


# --- 6. ensure_stream is idempotent and keeps the stream up to date --------------------


async def test_ensure_stream_is_idempotent_and_updates_max_age(own_nats: OwnNats) -> None:
    nc = await connect(own_nats.url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, "DIEF", 365)
        await ensure_stream(js, "DIEF", 365)
        info = await js.stream_info("DIEF")
        assert info.config.max_age == 365 * 86400
        assert info.config.subjects == ["dief.>"]
        assert info.config.duplicate_window == 120

        await js.publish("dief.eventtests.stream.kept", b"{}", headers={"Nats-Msg-Id": "k1"})
        await ensure_stream(js, "DIEF", 30)  # a changed retention: updated, not refused
        info = await js.stream_info("DIEF")
        assert info.config.max_age == 30 * 86400
        assert info.state.messages == 1  # the same stream, not a new one
        assert len(await js.streams_info()) == 1
    finally:
        await nc.close()


async def test_a_failure_mid_batch_marks_what_jetstream_acknowledged(
    events_db: str, session_js: JetStreamContext
) -> None:
    """Events go out in order; the relay stops at the first failed publish, marks the ones
    acknowledged before it with their stream sequences, and leaves the rest pending."""
    entity = unique_name("midbatch")
    events = [new_event(entity, n=n) for n in range(5)]
    with unit_of_work(events_db) as uow:
        for ev in events:
            uow.record(ev)

    class FailsOnThird(OutboxRelay):
        calls = 0

        async def publish_one(self, entry: dict[str, Any], last: int | None = None) -> int:
            self.calls += 1
            if self.calls == 3:
                raise ConnectionError("NATS went away")
            return await super().publish_one(entry, last)

    relay = FailsOnThird(events_db, session_js)
    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    pending = await mongo.run_sync(pending_events, events_db)
    assert [e["_id"] for e in pending] == [ev.id for ev in events[2:]]
    marked = await mongo.run_sync(
        lambda: {
            e["_id"]: e
            for e in outbox(events_db).find({"_id": {"$in": [ev.id for ev in events[:2]]}})
        }
    )
    seqs = [marked[ev.id]["stream_seq"] for ev in events[:2]]
    assert all(marked[ev.id]["sent_at"] is not None for ev in events[:2])
    assert seqs[0] < seqs[1]

    # another replica stands by while this one holds the lease; this one goes on
    assert await OutboxRelay(events_db, session_js).publish_pending() == 0
    assert await relay.publish_pending() == 3
    assert await mongo.run_sync(pending_events, events_db) == []
    assert await messages_on(session_js, events[0].nats_subject) == 5
