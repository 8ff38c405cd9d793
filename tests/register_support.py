"""How a test service's register of participants learns its States: as in production,
from the contacts service's ``dief.contacts.state.status_changed`` announcements on the
DIEF stream. A register knows only what the stream told it (a State it never heard of is
not a participant, whatever a token says), so a test module whose callers act for
participant States announces them first, then waits for the service's consumer.

The events are the contacts service's own (``services.contacts.handlers.status_changed``,
checked against the event catalogue) and are published as its outbox relay publishes
them (``Nats-Msg-Id`` = the event id). Tests that run the contacts app itself get them
from its seed instead (``tests.meetings_support``)."""

from __future__ import annotations

from collections.abc import Iterable

from services.common import catalogue
from services.common.clock import utcnow
from services.common.messaging import connect_nats, ensure_stream
from services.common.settings import Settings
from services.contacts import events as _declared  # noqa: F401 - the catalogue
from services.contacts.documents import State
from services.contacts.domain import AttStatus
from services.contacts.handlers import status_changed
from tests.events_support import consumer_caught_up


async def announce(
    settings: Settings,
    codes: Iterable[str],
    *,
    participant: bool = True,
    durable: str | None = None,
) -> None:
    """Publish each State's status change (to STATE_PARTY, or to NON_PARTY), then, with
    ``durable``, wait until that service's participant consumer has handled it."""
    status, before = (
        (AttStatus.STATE_PARTY, AttStatus.NON_PARTY)
        if participant
        else (AttStatus.NON_PARTY, AttStatus.STATE_PARTY)
    )
    nc = await connect_nats(settings.nats_url, "test-contacts-announcer")
    try:
        js = nc.jetstream()
        await ensure_stream(  # as every service does, with the same settings
            js,
            settings.stream_name,
            settings.stream_max_age_days,
            settings.stream_replicas,
            settings.stream_duplicate_window_seconds,
        )
        for code in codes:
            ev = status_changed(State(code=code, name=code, status=status), before, utcnow())
            catalogue.validate(ev)
            await js.publish(ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id})
    finally:
        await nc.close()
    if durable is not None:
        await consumer_caught_up(settings.nats_url, durable)
