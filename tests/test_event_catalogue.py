"""The event catalogue: declared once, documented as AsyncAPI, thin, enforced."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from nats.aio.client import Client as NATS

from services.cli import main
from services.common.catalogue import (
    EventData,
    EventType,
    MalformedEvent,
    UndeclaredEvent,
    confidentiality_findings,
    validate,
)
from services.common.events import CloudEvent, event
from services.common.settings import Settings
from services.event_catalogue import load_all
from services.events_tail import tail


def test_committed_asyncapi_document_matches_the_catalogue() -> None:
    """docs/asyncapi.yaml is generated; regenerate it with `dief events docs`."""
    assert main(["events", "docs", "--check"]) == 0


def test_every_declared_event_is_thin() -> None:
    """Rules 14 and 15: no event carries case text, agenda content, involved States,
    audiences or personal data of contacts."""
    event_types = load_all()
    assert {e.type for e in event_types} >= {
        "dief.contacts.state.status_changed",
        "dief.contacts.contact.changed",
        "dief.contacts.authority.changed",
    }
    findings = [f for e in event_types for f in confidentiality_findings(e)]
    assert findings == []


class LeakyData(EventData):
    contactId: str
    contactName: str
    extra: dict[str, str]


def test_the_thinness_check_catches_a_leaky_declaration() -> None:
    leaky = EventType("dief.contacts.contact.leaked", "contacts", "x", "y", LeakyData)
    findings = confidentiality_findings(leaky)
    assert any("contactName" in f and "'name'" in f for f in findings)
    assert any("'extra' is free-form" in f for f in findings)
    assert any("'contactId' is free-form" in f for f in findings)


def test_undeclared_and_malformed_events_are_refused() -> None:
    load_all()
    with pytest.raises(UndeclaredEvent):
        validate(event("contacts", "contact", "deleted", subject="x"))
    with pytest.raises(MalformedEvent):
        validate(event("contacts", "state", "status_changed", subject="FRA", stateCode="FRA"))
    good = event(
        "contacts",
        "state",
        "status_changed",
        subject="FRA",
        stateCode="FRA",
        status="STATE_PARTY",
        previousStatus="SIGNATORY",
        participant=True,
        changedAt=datetime.now(UTC).isoformat(),
    )
    validate(good)
    with pytest.raises(MalformedEvent):
        validate(CloudEvent(type=good.type, source="/dief/cases", subject="FRA", data=good.data))
    leaky = dict(good.data, contactEmail="someone@example.org")
    with pytest.raises(MalformedEvent):
        validate(CloudEvent(type=good.type, source=good.source, subject="FRA", data=leaky))


async def test_events_tail_replays_from_a_sequence(settings: Settings) -> None:
    from services.common.messaging import connect_nats, ensure_stream

    nc: NATS = await connect_nats(settings.nats_url, "test-tail")
    js = nc.jetstream()
    await ensure_stream(js, settings.stream_name, 1)
    marker = f"tail-{datetime.now(UTC).timestamp()}"
    sent = []
    for entity in ("contact", "authority"):
        ev = event("contacts", entity, "changed", subject=marker)
        ack = await js.publish(ev.nats_subject, ev.to_json(), headers={"Nats-Msg-Id": ev.id})
        sent.append((ev.id, ack.seq))
    await nc.close()

    out = io.StringIO()
    count = await tail(
        settings, subject="dief.contacts.>", from_seq=sent[0][1], follow=False, out=out
    )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(lines) >= 2
    assert [(e["id"], e["streamsequence"]) for e in lines[:2]] == sent

    only_contacts = io.StringIO()
    await tail(
        settings,
        subject="dief.contacts.contact.>",
        from_seq=sent[0][1],
        follow=False,
        out=only_contacts,
    )
    ids = [json.loads(line)["id"] for line in only_contacts.getvalue().splitlines()]
    assert sent[0][0] in ids and sent[1][0] not in ids
