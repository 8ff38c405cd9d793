"""Events this service listens to: the contacts service's State status changes, which
keep the local register of participants (rules 1 and 6) current without a call per
request. A State that withdraws loses access here as soon as the event arrives."""

from __future__ import annotations

from datetime import datetime

from services.common.events import CloudEvent
from services.common.messaging import DurableConsumer
from services.common.mongo import run_sync
from services.common.runtime import ServiceRuntime
from services.meetings.handlers import record_participant_status

SUBJECT = "dief.contacts.state.status_changed"
DURABLE = "meetings-participants"


async def on_status_changed(event: CloudEvent) -> None:
    data = event.data
    changed_at = datetime.fromisoformat(str(data["changedAt"]).replace("Z", "+00:00"))
    await run_sync(
        record_participant_status, str(data["stateCode"]), bool(data["participant"]), changed_at
    )


def participant_register(runtime: ServiceRuntime) -> DurableConsumer:
    assert runtime.nats.js is not None
    return DurableConsumer(
        runtime.nats.js,
        alias=runtime.alias,
        durable=DURABLE,
        subject_filter=SUBJECT,
        handler=on_status_changed,
        stream=runtime.settings.stream_name,
    )
