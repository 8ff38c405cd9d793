"""Events this service listens to: the contacts service's State status changes, which
keep the local register of participants (rules 1 and 6) current without a call per
request. A State that withdraws loses access here as soon as the event arrives; the
register itself is the shared one of ``services.common.participants``."""

from __future__ import annotations

from services.common.messaging import DurableConsumer
from services.common.participants import SUBJECT
from services.common.runtime import ServiceRuntime
from services.meetings.handlers import PARTICIPANTS

__all__ = ["DURABLE", "SUBJECT", "participant_register"]

DURABLE = PARTICIPANTS.durable


def participant_register(runtime: ServiceRuntime) -> DurableConsumer:
    return PARTICIPANTS.consumer(runtime)
