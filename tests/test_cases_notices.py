"""Rules 15 and 16 notices: a disclosure concern raised and answered reaches the two sides
only, an operational-use request the providing State and its decision the requesting
State, by role, through the real SMTP server; the details only encrypted; a refused
delivery is retried; each is in the State's own feed of case notices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services.cases.handlers import PARTICIPANTS
from services.cases.notices import CaseDelivery
from services.common.clock import utcnow
from services.common.mongo import run_sync
from services.common.notifications.queue import deliver_due
from services.common.notifications.setup import smtp_settings
from services.common.settings import Settings
from services.contacts import handlers as contacts
from services.contacts.domain import AttStatus, StatusDates
from tests.cases_support import Cases, share_case
from tests.events_support import consumer_caught_up, outbox_published
from tests.meetings_support import SECRETARIAT, Inbox, seed_directory

pytest_plugins = ["tests.meetings_support"]

NAMED = {"kind": "NAMED_STATES", "states": ["DEU", "ITA"]}
REQUEST = """mutation($c: ID!, $j: String!) {
  useRequestCreate(caseId: $c, use: INVESTIGATION, justification: $j) { id } }"""
DECIDE = """mutation($id: ID!) { useRequestDecide(id: $id, decision: DECLINED,
  reason: "The investigation is ongoing") { id } }"""
RAISE = """mutation($c: ID!, $d: String!) {
  concernRaise(caseId: $c, respondent: "DEU", description: $d) { id } }"""
EXPLAIN = """mutation($id: ID!) { concernExplain(id: $id, explanation: "A leak by a clerk",
  remedialMeasures: "Access withdrawn") { id } }"""
FEED = "query { myCaseNotifications { id kind read body link unreachableStateCodes } }"
MARK = "mutation($ids: [ID!]!) { caseNotificationsMark(ids: $ids) { id read } }"

FRA = ["police@fra.example.org", "customs@fra.example.org"]  # enforcement, then NPC
DEU = ["zoll@deu.example.org"]


@pytest.fixture
async def cases(
    meetings_settings: Settings, contacts_app: Any, signing_key: Any
) -> AsyncIterator[Cases]:
    from services.cases.app import build

    await run_sync(seed_directory)
    # ITA, a caller here, signs: the contacts service announces it like every status change
    await run_sync(
        contacts.change_state_status,
        SECRETARIAT,
        contacts.StatusChangeInput(
            "ITA", AttStatus.SIGNATORY, StatusDates(signature=date(2013, 6, 3))
        ),
    )
    await outbox_published("contacts")
    app = build(meetings_settings, contacts_transport=httpx.ASGITransport(app=contacts_app))
    async with app.router.lifespan_context(app):
        await consumer_caught_up(meetings_settings.nats_url, PARTICIPANTS.durable)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cases") as http:
            yield Cases(http, signing_key, meetings_settings)


def _kinds(inbox: Inbox, address: str) -> list[str]:
    return [m["X-DIEF-Notice"] for m in inbox.to(address)]


async def test_rule_16_request_to_the_provider_decision_to_the_requester_retried(
    cases: Cases, inbox: Inbox, meetings_settings: Settings
) -> None:
    case = await share_case(cases, "provider", "Rifles to Libya", audience=NAMED)
    made = await cases.ok("named", REQUEST, {"c": case, "j": "Our customs investigation"})
    assert _kinds(inbox, FRA[0]) == _kinds(inbox, FRA[1]) == ["USE_REQUESTED"]
    inbox.refuse[DEU[0]] = 1
    await cases.ok("provider", DECIDE, {"id": made["useRequestCreate"]["id"]})
    assert _kinds(inbox, DEU[0]) == []
    [pending] = await run_sync(lambda: list(CaseDelivery.objects(kind="USE_DECIDED")))
    assert pending.status == "PENDING" and pending.attempts == 1 and "451" in pending.last_error
    assert pending.role == "DIEF_ENFORCEMENT_CONTACT"
    later = utcnow() + timedelta(minutes=2)
    sent = await run_sync(deliver_due, CaseDelivery, smtp_settings(cases.settings), later)
    assert sent == 1 and _kinds(inbox, DEU[0]) == ["USE_DECIDED"]
    raw = b"".join(c for _, c in inbox.messages)
    assert b"Our customs investigation" not in raw and b"investigation is ongoing" not in raw
    [notice] = (await cases.ok("named", FEED))["myCaseNotifications"]
    assert notice["kind"] == "USE_DECIDED" and notice["link"] in notice["body"]


async def test_rule_15_concern_reaches_the_two_sides_only(cases: Cases, inbox: Inbox) -> None:
    case = await share_case(cases, "provider", "Rifles to Libya", audience=NAMED)
    raised = await cases.ok("provider", RAISE, {"c": case, "d": "Our case was in the press"})
    assert _kinds(inbox, DEU[0]) == ["DISCLOSURE_CONCERN_RAISED"]
    assert all(_kinds(inbox, a) == [] for a in FRA)
    await cases.ok("named", EXPLAIN, {"id": raised["concernRaise"]["id"]})
    assert all(_kinds(inbox, a) == ["DISCLOSURE_CONCERN_ANSWERED"] for a in FRA)
    assert {r for rcpt, _ in inbox.messages for r in rcpt} == {*FRA, *DEU}  # nobody else
    raw = b"".join(c for _, c in inbox.messages)
    assert b"in the press" not in raw and b"clerk" not in raw
    assert (await cases.ok("other", FEED))["myCaseNotifications"] == []  # ITA got the case
    [deu] = (await cases.ok("named", FEED))["myCaseNotifications"]
    marked = await cases.ok("named", MARK, {"ids": [deu["id"]]})
    assert marked["caseNotificationsMark"][0]["read"] is True
    refused = await cases("other", MARK, {"ids": [deu["id"]]})
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
