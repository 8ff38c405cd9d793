"""The scheduler's ``dief.meetings.deadline.approaching`` events: once per due item and
threshold, thin, and on the stream."""

from __future__ import annotations

import json
from typing import Any

from nats.js.api import DeliverPolicy

from services.common import mongo
from services.common.mongo import run_sync
from tests.conftest import GraphQLClient
from tests.events_support import drain_messages, reader
from tests.meetings_support import (
    Actors,
    Clock,
    at,
    days_before,
    new_meeting,
)

pytest_plugins = ["tests.meetings_support"]

SUBJECT = "dief.meetings.deadline.approaching"


def reminders() -> list[dict[str, Any]]:
    entries = mongo.database("meetings")["outbox"].find({"subject": SUBJECT}).sort("created_at", 1)
    return [json.loads(e["payload"])["data"] for e in entries]


async def test_deadline_approaching_once_per_item_and_threshold(
    mq: GraphQLClient, who: Actors, clock: Clock, meetings_app: Any
) -> None:
    scheduler = meetings_app.state.meetings.scheduler
    mid = await new_meeting(mq, who)
    runtime = meetings_app.state.runtime
    await runtime.nats.ready.wait()
    sub, name = await reader(runtime.nats.js, SUBJECT, deliver_policy=DeliverPolicy.NEW)
    try:
        await run_sync(scheduler.round, at(days_before(65)))  # 15 days before the invitation
        assert await run_sync(reminders) == []
        await run_sync(scheduler.round, at(days_before(64)))  # 14 days before
        await run_sync(scheduler.round, at(days_before(64), 18))  # again the same day
        await run_sync(scheduler.round, at(days_before(60)))  # 10 days: same threshold
        found = await run_sync(reminders)
        assert found == [
            {
                "meetingId": mid,
                "item": "INVITATION",
                "dueOn": days_before(50).isoformat(),
                "daysLeft": 14,
            }
        ]
        await run_sync(scheduler.round, at(days_before(57)))  # 7 days before
        await run_sync(scheduler.round, at(days_before(51)))  # 1 day before
        assert [r["daysLeft"] for r in await run_sync(reminders)] == [14, 7, 1]
        runtime.wake_relay()
        msgs = await drain_messages(sub, at_least=3)
        data = [json.loads(m.data)["data"] for m in msgs]
        assert sorted(d["daysLeft"] for d in data if d["meetingId"] == mid) == [1, 7, 14]
    finally:
        await runtime.nats.js.delete_consumer("DIEF", name)


async def test_no_reminder_for_what_is_done_or_for_a_cancelled_meeting(
    mq: GraphQLClient, who: Actors, clock: Clock, meetings_app: Any
) -> None:
    scheduler = meetings_app.state.meetings.scheduler
    mid = await new_meeting(mq, who)
    cancel = """mutation($id: ID!) { meetingCancel(input: {id: $id}) { meeting { status } } }"""
    result = await mq(cancel, {"id": mid}, who.sec)
    assert result["data"]["meetingCancel"]["meeting"]["status"] == "CANCELLED"
    await run_sync(scheduler.round, at(days_before(51)))
    assert await run_sync(reminders) == []
