"""Every notice of the meetings service reaches the real SMTP server, addressed by role
(never to every contact), recorded per delivery, and a refused delivery is retried; the
States nobody can be told are in the payload; rule 14 keeps confidential matters out of
the open copy. And each notice is in the feed of the States it concerns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.mongo import run_sync
from services.common.settings import Settings
from services.contacts import notices as contact_notices
from services.contacts.documents import Contact
from tests.conftest import GraphQLClient
from tests.meetings_support import (
    ADD_ITEM,
    DISTRIBUTE,
    NOTIFY,
    SECRETARIAT,
    Actors,
    Clock,
    Inbox,
    build_meetings,
    days_before,
    intend,
    new_meeting,
    ok,
    refusal,
    seed_directory,
)
from tests.pgp_support import Keys, decrypt

pytest_plugins = ["tests.meetings_support", "tests.pgp_support"]

NOTICE = "notice { id kind body link unreachableStateCodes }"
DELIVERIES = """query($id: ID!) { notice(id: $id) { deliveries { email role status attempts } } }"""
MOVE = f"""mutation($i: MeetingMoveInput!) {{ meetingMove(input: $i) {{ {NOTICE} }} }}"""
CANCEL = f"""mutation($id: ID!) {{ meetingCancel(input: {{id: $id}}) {{ {NOTICE} }} }}"""
DISTRIBUTE_N = f"""mutation($id: ID!) {{ agendaDistribute(input: {{id: $id}}) {{ {NOTICE} }} }}"""
ADOPT_N = f"""mutation($id: ID!) {{ agendaAdopt(input: {{id: $id}}) {{ {NOTICE} }} }}"""
NOTIFY_N = (
    f"""mutation($id: ID!) {{ presentationNotifyInvolved(input: {{id: $id}}) {{ {NOTICE} }} }}"""
)
RESPOND_N = f"""mutation($i: PresentationRespondInput!) {{ presentationRespond(input: $i) {{
  {NOTICE} }} }}"""
PROPOSE_N = f"""mutation($i: ExpertProposalCreateInput!) {{ expertProposalCreate(input: $i) {{
  expertProposal {{ id }} {NOTICE} }} }}"""
OBJECT_N = f"""mutation($id: ID!) {{ expertProposalObject(input: {{id: $id}}) {{ {NOTICE} }} }}"""
FEED = """query($u: Boolean) { myNotifications(unread: $u) { totalCount edges { node {
  id kind read subject } } } }"""
INVITE = """mutation($i: InvitationIssueInput!) { invitationIssue(input: $i) { meeting { id } } }"""
DELIVERIES_ENC = """query($id: ID!) { notice(id: $id) { deliveries { encrypted status } } }"""
MARK = """mutation($i: NoticeMarkInput!) { notificationsMark(input: $i) { id read } }"""

NPCS = ["customs@fra.example.org", "police@fra.example.org", "zoll@deu.example.org"]
SECRET = "Brokers in Lome"  # an agenda item's title: confidential (rule 14)
EXPERT = {
    "expertName": "Dr Jane Expert",
    "expertSubject": "expert-jane",
    "purpose": "Forensic tracing of the rifles.",
}

Arm = Callable[[], None]
Step = Callable[[GraphQLClient, Actors, Clock, str, Arm], Awaitable[dict[str, Any]]]


async def _moved(
    mq: GraphQLClient, who: Actors, clock: Clock, mid: str, arm: Arm = lambda: None
) -> dict[str, Any]:
    i = {"id": mid, "startDate": "2027-06-15", "endDate": "2027-06-16"}
    arm()
    return ok(await mq(MOVE, {"i": i}, who.sec))["meetingMove"]


async def _cancelled(
    mq: GraphQLClient, who: Actors, clock: Clock, mid: str, arm: Arm = lambda: None
) -> dict[str, Any]:
    arm()
    return ok(await mq(CANCEL, {"id": mid}, who.sec))["meetingCancel"]


async def _distributed(
    mq: GraphQLClient, who: Actors, clock: Clock, mid: str, arm: Arm = lambda: None
) -> dict[str, Any]:
    ok(await mq(ADD_ITEM, {"i": {"meetingId": mid, "title": SECRET}}, who.sec))
    clock.day(days_before(35))
    arm()
    return ok(await mq(DISTRIBUTE_N, {"id": mid}, who.sec))["agendaDistribute"]


async def _adopted(
    mq: GraphQLClient, who: Actors, clock: Clock, mid: str, arm: Arm = lambda: None
) -> dict[str, Any]:
    ok(await mq(ADD_ITEM, {"i": {"meetingId": mid, "title": SECRET}}, who.sec))
    clock.day(days_before(35))
    ok(await mq(DISTRIBUTE, {"id": mid}, who.sec))
    clock.day(days_before(10))
    arm()
    return ok(await mq(ADOPT_N, {"id": mid}, who.chair))["agendaAdopt"]


async def _notified(
    mq: GraphQLClient, who: Actors, clock: Clock, mid: str, arm: Arm = lambda: None
) -> dict[str, Any]:
    pid = await intend(mq, who, mid, ["DEU"])
    clock.day(days_before(40))
    arm()
    return ok(await mq(NOTIFY_N, {"id": pid}, who.fra))["presentationNotifyInvolved"]


async def _responded(
    mq: GraphQLClient, who: Actors, clock: Clock, mid: str, arm: Arm = lambda: None
) -> dict[str, Any]:
    pid = await intend(mq, who, mid, ["DEU"])
    clock.day(days_before(40))
    ok(await mq(NOTIFY, {"id": pid}, who.fra))
    i = {"id": pid, "stateCode": "DEU", "response": "DEU will reply in the meeting."}
    arm()
    return ok(await mq(RESPOND_N, {"i": i}, who.deu))["presentationRespond"]


async def _proposed(
    mq: GraphQLClient, who: Actors, clock: Clock, mid: str, arm: Arm = lambda: None
) -> dict[str, Any]:
    pid = await intend(mq, who, mid, [])
    clock.day(days_before(40))
    i = {"presentationId": pid, **EXPERT}
    arm()
    return ok(await mq(PROPOSE_N, {"i": i}, who.fra))["expertProposalCreate"]


async def _objected(
    mq: GraphQLClient, who: Actors, clock: Clock, mid: str, arm: Arm = lambda: None
) -> dict[str, Any]:
    made = await _proposed(mq, who, clock, mid)
    pid = made["expertProposal"]["id"]
    arm()
    return ok(await mq(OBJECT_N, {"id": pid}, who.deu))["expertProposalObject"]


# kind, the step, who receives it (by role), who is unreachable, the open text expected
CASES = [
    ("MEETING_MOVED", _moved, NPCS, ["ISR"], "2027-06-15"),
    ("MEETING_CANCELLED", _cancelled, NPCS, ["ISR"], "cancelled"),
    ("AGENDA_DISTRIBUTED", _distributed, NPCS, ["ISR"], "something for you to see"),
    ("AGENDA_ADOPTED", _adopted, NPCS, ["ISR"], "something for you to see"),
    ("INVOLVED_STATE_NOTIFIED", _notified, ["zoll@deu.example.org"], [], "response is asked"),
    (
        "RESPONSE_RECEIVED",
        _responded,
        ["police@fra.example.org", "customs@fra.example.org"],
        [],
        "responded",
    ),
    ("EXPERT_PROPOSAL_CIRCULATED", _proposed, NPCS, ["ISR"], "may object until"),
    ("EXPERT_OBJECTION_RAISED", _objected, NPCS[:2], [], "consult"),
]


def _kinds(inbox: Inbox, address: str) -> list[str]:
    return [m["X-DIEF-Notice"] for m in inbox.to(address)]


@pytest.mark.parametrize(("kind", "step", "addresses", "unreachable", "says"), CASES)
async def test_each_notice_reaches_its_recipients_by_role_and_a_refusal_is_retried(
    kind: str,
    step: Step,
    addresses: list[str],
    unreachable: list[str],
    says: str,
    mq: GraphQLClient,
    who: Actors,
    clock: Clock,
    inbox: Inbox,
    meetings_app: Any,
) -> None:
    mid = await new_meeting(mq, who)
    retried = addresses[-1]
    payload = await step(mq, who, clock, mid, lambda: inbox.refuse.update({retried: 1}))
    notice = payload["notice"]
    assert notice["kind"] == kind and notice["unreachableStateCodes"] == unreachable
    deliveries = ok(await mq(DELIVERIES, {"id": notice["id"]}, who.sec))["notice"]["deliveries"]
    roles = {d["email"]: d["role"] for d in deliveries}
    assert sorted(roles) == sorted(addresses)  # by role: no staff, no alternate, no USA
    for address in addresses[:-1]:
        assert kind in _kinds(inbox, address)
    [refused] = [d for d in deliveries if d["email"] == retried]
    assert refused["status"] == "PENDING" and refused["attempts"] == 1
    assert kind not in _kinds(inbox, retried)
    scheduler = meetings_app.state.meetings.scheduler
    await run_sync(scheduler.round, clock.now + timedelta(minutes=2))
    assert kind in _kinds(inbox, retried)
    [message] = [m for m in inbox.to(retried) if m["X-DIEF-Notice"] == kind]
    body = message.get_payload(decode=True).decode()
    assert says in body
    raw = b"".join(c for _, c in inbox.messages)
    for secret in (SECRET.encode(), b"Dr Jane Expert", b"Rifles via a third country"):
        assert secret not in raw  # rule 14: only encrypted copies carry the details
    if notice["link"]:
        assert notice["link"] in body and "/notices/" in notice["link"]
    for address in ("staff@fra.example.org", "vertretung@deu.example.org", "cbp@usa.example.org"):
        assert kind not in _kinds(inbox, address)


async def test_the_feed_shows_a_states_own_notices_read_and_unread(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox, meetings_app: Any
) -> None:
    mid = await new_meeting(mq, who)
    notified = await _notified(mq, who, clock, mid)
    nid = notified["notice"]["id"]
    deu = ok(await mq(FEED, {"u": True}, who.deu))["myNotifications"]
    assert [e["node"]["kind"] for e in deu["edges"]] == ["INVOLVED_STATE_NOTIFIED"]
    assert ok(await mq(FEED, {}, who.isr))["myNotifications"]["totalCount"] == 0
    # FRA cannot mark DEU's notice; DEU can, and it is then read.
    assert refusal(await mq(MARK, {"i": {"ids": [nid]}}, who.fra))["code"] == "NOT_FOUND"
    assert ok(await mq(MARK, {"i": {"ids": [nid]}}, who.deu))["notificationsMark"][0]["read"]
    assert ok(await mq(FEED, {"u": True}, who.deu))["myNotifications"]["totalCount"] == 0
    [entry] = ok(await mq(FEED, {}, who.deu))["myNotifications"]["edges"]
    assert entry["node"]["read"] is True
    # Another user of the same State has not read it.
    other = who.token(sub="deu2", state="DEU")
    assert ok(await mq(FEED, {"u": True}, other))["myNotifications"]["totalCount"] == 1
    mark_unread = {"i": {"ids": [nid], "read": False}}
    assert not ok(await mq(MARK, mark_unread, who.deu))["notificationsMark"][0]["read"]
    assert refusal(await mq(FEED, {}, None))["code"] == "UNAUTHENTICATED"


async def test_a_contact_with_a_key_gets_the_notice_encrypted_and_signed_with_the_details(
    meetings_settings: Settings,
    contacts_app: Any,
    clock: Clock,
    who: Actors,
    inbox: Inbox,
    pgp_keys: Keys,
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secretariat.asc"
    secret.write_text(pgp_keys.secretariat.secret)
    signed = meetings_settings.model_copy(update={"notice_signing_key": f"file:{secret}"})
    await run_sync(seed_directory)
    zoll = await run_sync(lambda: Contact.objects(functional_email="zoll@deu.example.org").get())
    await run_sync(contact_notices.register_key, SECRETARIAT, zoll.pk, pgp_keys.contact.public)
    app = build_meetings(signed, clock, contacts_app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client,
    ):
        mq = GraphQLClient(client)
        mid = await new_meeting(mq, who)
        clock.day(days_before(55))
        issue = {"meetingId": mid, "callForPresentations": "Present cases of diversion."}
        ok(await mq(INVITE, {"i": issue}, who.sec))
        notified = await _notified(mq, who, clock, mid)
        found = ok(await mq(DELIVERIES_ENC, {"id": notified["notice"]["id"]}, who.sec))
    [delivery] = found["notice"]["deliveries"]
    assert delivery["encrypted"] is True and delivery["status"] == "SENT"
    [invitation, notice] = [c for rcpt, c in inbox.messages if "zoll@deu.example.org" in rcpt]
    assert b"Dr Jane" not in notice and b"Rifles via a third country" not in notice
    opened = decrypt(notice, pgp_keys.contact, pgp_keys.secretariat)
    assert opened.signed_by == pgp_keys.secretariat.fingerprint
    assert "Presentation: Rifles via a third country" in opened.text  # the details, encrypted
    assert "Presenting State: FRA" in opened.text
    invited = decrypt(invitation, pgp_keys.contact, pgp_keys.secretariat)
    assert "Geneva, CICG" in invited.text
    [ics] = [p for p in invited.inner.walk() if p.get_content_type() == "text/calendar"]
    assert b"Geneva" in ics.get_payload(decode=True)
    # The others, without a key, got the open copy.
    [open_copy] = inbox.to("customs@fra.example.org")
    assert open_copy.get_content_type() == "multipart/mixed"


PROPOSAL_VIEW = """query($id: ID!) { expertProposal(id: $id) {
  proposingStateCode presentingStateCode presenterPosition } }"""
RESOLVE_N = """mutation($id: ID!) { expertProposalResolve(input: {id: $id}) {
  expertProposal { presenterPosition } } }"""
SPECIFIC = "EXPERT_PROPOSED_FOR_YOUR_PRESENTATION"


async def test_another_states_expert_proposal_is_told_to_the_presenter_at_once_with_its_position(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox, meetings_app: Any
) -> None:
    """Rule 8: DEU proposes an expert for France's presentation (which the expert would
    read). France is told at once, specifically, in its feed and by mail to its point of
    contact; the proposal shows France's position, which its objection then changes."""
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, [])
    clock.day(days_before(40))
    made = ok(await mq(PROPOSE_N, {"i": {"presentationId": pid, **EXPERT}}, who.deu))
    assert made["expertProposalCreate"]["notice"]["kind"] == "EXPERT_PROPOSAL_CIRCULATED"
    eid = made["expertProposalCreate"]["expertProposal"]["id"]
    view = ok(await mq(PROPOSAL_VIEW, {"id": eid}, who.fra))["expertProposal"]
    assert view == {
        "proposingStateCode": "DEU",
        "presentingStateCode": "FRA",
        "presenterPosition": "NONE",
    }
    fra_feed = ok(await mq(FEED, {}, who.fra))["myNotifications"]["edges"]
    assert SPECIFIC in [e["node"]["kind"] for e in fra_feed]
    for outsider in (who.deu, who.isr):  # only the presenting State gets this one
        feed = ok(await mq(FEED, {}, outsider))["myNotifications"]["edges"]
        assert SPECIFIC not in [e["node"]["kind"] for e in feed]
    assert SPECIFIC in _kinds(inbox, "customs@fra.example.org")  # France's point of contact
    assert SPECIFIC not in _kinds(inbox, "zoll@deu.example.org")
    [mail] = [m for m in inbox.to("customs@fra.example.org") if m["X-DIEF-Notice"] == SPECIFIC]
    body = mail.get_payload(decode=True).decode()
    assert "your presentation" in body and "may object until" in body
    assert b"Dr Jane Expert" not in b"".join(c for _, c in inbox.messages)  # rule 14
    # France objects: its position shows it, and after consulting it withdraws
    ok(await mq(OBJECT_N, {"id": eid}, who.fra))
    view = ok(await mq(PROPOSAL_VIEW, {"id": eid}, who.isr))["expertProposal"]
    assert view["presenterPosition"] == "OBJECTED"
    clock.day(days_before(38))
    ok(await mq(RESOLVE_N, {"id": eid}, who.fra))
    view = ok(await mq(PROPOSAL_VIEW, {"id": eid}, who.deu))["expertProposal"]
    assert view["presenterPosition"] == "OBJECTION_WITHDRAWN"


async def test_a_states_own_expert_proposal_tells_it_nothing_specific(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox, meetings_app: Any
) -> None:
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, [])
    clock.day(days_before(40))
    made = ok(await mq(PROPOSE_N, {"i": {"presentationId": pid, **EXPERT}}, who.fra))
    eid = made["expertProposalCreate"]["expertProposal"]["id"]
    view = ok(await mq(PROPOSAL_VIEW, {"id": eid}, who.deu))["expertProposal"]
    assert view["presenterPosition"] == "PROPOSER"
    feed = ok(await mq(FEED, {}, who.fra))["myNotifications"]["edges"]
    assert [e["node"]["kind"] for e in feed] == ["EXPERT_PROPOSAL_CIRCULATED"]
    assert SPECIFIC not in _kinds(inbox, "customs@fra.example.org")
