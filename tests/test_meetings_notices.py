"""Every notice of the meetings service reaches the real SMTP server, addressed by role
(never to every contact), recorded per delivery, and a refused delivery is retried; the
States nobody can be told are in the payload; rule 14 keeps confidential matters out of
the open copy. And each notice is in the feed of the States it concerns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
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
    register_caught_up,
    seed_and_announce,
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


@dataclass(frozen=True)
class Stage:
    """What a step acts with: the API, the callers, the clock, the meeting and the
    scheduler; ``arm`` is called just before the act whose notice the test looks at."""

    mq: GraphQLClient
    who: Actors
    clock: Clock
    mid: str
    scheduler: Any = None
    arm: Arm = lambda: None

    def quiet(self) -> Stage:
        """The same, for a step taken on the way (not the one looked at)."""
        return replace(self, arm=lambda: None)


Step = Callable[[Stage], Awaitable[dict[str, Any]]]


async def _moved(s: Stage) -> dict[str, Any]:
    i = {"id": s.mid, "startDate": "2027-06-15", "endDate": "2027-06-16"}
    s.arm()
    return ok(await s.mq(MOVE, {"i": i}, s.who.sec))["meetingMove"]


async def _cancelled(s: Stage) -> dict[str, Any]:
    s.arm()
    return ok(await s.mq(CANCEL, {"id": s.mid}, s.who.sec))["meetingCancel"]


async def _distributed(s: Stage) -> dict[str, Any]:
    ok(await s.mq(ADD_ITEM, {"i": {"meetingId": s.mid, "title": SECRET}}, s.who.sec))
    s.clock.day(days_before(35))
    s.arm()
    return ok(await s.mq(DISTRIBUTE_N, {"id": s.mid}, s.who.sec))["agendaDistribute"]


async def _adopted(s: Stage) -> dict[str, Any]:
    ok(await s.mq(ADD_ITEM, {"i": {"meetingId": s.mid, "title": SECRET}}, s.who.sec))
    s.clock.day(days_before(35))
    ok(await s.mq(DISTRIBUTE, {"id": s.mid}, s.who.sec))
    s.clock.day(days_before(10))
    s.arm()
    return ok(await s.mq(ADOPT_N, {"id": s.mid}, s.who.chair))["agendaAdopt"]


async def _notified(s: Stage) -> dict[str, Any]:
    pid = await intend(s.mq, s.who, s.mid, ["DEU"])
    s.clock.day(days_before(40))
    s.arm()
    return ok(await s.mq(NOTIFY_N, {"id": pid}, s.who.fra))["presentationNotifyInvolved"]


async def _responded(s: Stage) -> dict[str, Any]:
    pid = await intend(s.mq, s.who, s.mid, ["DEU"])
    s.clock.day(days_before(40))
    ok(await s.mq(NOTIFY, {"id": pid}, s.who.fra))
    i = {"id": pid, "stateCode": "DEU", "response": "DEU will reply in the meeting."}
    s.arm()
    return ok(await s.mq(RESPOND_N, {"i": i}, s.who.deu))["presentationRespond"]


async def _proposed(s: Stage) -> dict[str, Any]:
    pid = await intend(s.mq, s.who, s.mid, [])
    s.clock.day(days_before(40))
    i = {"presentationId": pid, **EXPERT}
    s.arm()
    return ok(await s.mq(PROPOSE_N, {"i": i}, s.who.fra))["expertProposalCreate"]


async def _objected(s: Stage) -> dict[str, Any]:
    made = await _proposed(s.quiet())
    pid = made["expertProposal"]["id"]
    s.arm()
    return ok(await s.mq(OBJECT_N, {"id": pid}, s.who.deu))["expertProposalObject"]


FEED_ALL = """{ myNotifications(first: 50) { edges { node {
  id kind body link unreachableStateCodes } } } }"""
REGISTER = """mutation($i: DelegateRegisterInput!) { delegateRegister(input: $i) {
  registration { stateCode } } }"""
SECRETARIAT_MAIL = "secretariat@att.example.org"


async def _told_by_the_clock(s: Stage, kind: str, says: str) -> dict[str, Any]:
    """A notice time gave: one scheduler round at the clock's time; the notice as the
    Secretariat's feed shows it (each clock notice is the Secretariat's too)."""
    await run_sync(s.scheduler.round, s.clock.now)
    edges = ok(await s.mq(FEED_ALL, {}, s.who.sec))["myNotifications"]["edges"]
    [notice] = [e["node"] for e in edges if e["node"]["kind"] == kind and says in e["node"]["body"]]
    return {"notice": notice}


async def _silence_ended(s: Stage) -> dict[str, Any]:
    await _proposed(s.quiet())  # circulated on day 40: silence until day 35
    s.clock.day(days_before(34))
    s.arm()
    return await _told_by_the_clock(s, "EXPERT_SILENCE_ENDED", "ended")


async def _referred(s: Stage) -> dict[str, Any]:
    for state, token in (("DEU", s.who.deu), ("ISR", s.who.isr)):
        i = {"meetingId": s.mid, "stateCode": state, "name": "Delegate", "function": "CUSTOMS"}
        ok(await s.mq(REGISTER, {"i": i}, token))
    await _objected(s.quiet())  # DEU objects on day 40 and nobody resolves it
    s.clock.day(days_before(20))
    s.arm()
    return await _told_by_the_clock(s, "EXPERT_REFERRED", "referred")


async def _reminded(s: Stage) -> dict[str, Any]:
    await _notified(s.quiet())  # DEU asked to respond by day 15
    s.clock.day(days_before(29))  # 14 days left: the first of DIEF_MEETINGS_REMINDER_DAYS
    s.arm()
    return await _told_by_the_clock(s, "DEADLINE_REMINDER", "involved state responses due")


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
    ("EXPERT_SILENCE_ENDED", _silence_ended, NPCS, ["ISR"], "ended: approved"),
    # rule 8: to the States Parties registered for the meeting: not ISR, a signatory
    ("EXPERT_REFERRED", _referred, ["zoll@deu.example.org"], [], "referred"),
    # to the State asked to respond, and to the Secretariat for every deadline
    (
        "DEADLINE_REMINDER",
        _reminded,
        [SECRETARIAT_MAIL, "zoll@deu.example.org"],
        [],
        "involved state responses due",
    ),
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
    scheduler = meetings_app.state.meetings.scheduler
    # refused until the retry, whatever else is sent to that address meanwhile
    arm = lambda: inbox.refuse.update({retried: -1})  # noqa: E731
    payload = await step(Stage(mq, who, clock, mid, scheduler, arm))
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
    inbox.refuse.clear()
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


async def test_a_reminder_goes_only_to_the_states_that_still_have_to_act(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox, meetings_app: Any
) -> None:
    """Day 34: objections are due to be resolved by day 20 (rule 8). Nobody objected: FRA
    and DEU (known from the circulated proposal) are not reminded, the Secretariat is."""
    mid = await new_meeting(mq, who)
    await _silence_ended(Stage(mq, who, clock, mid, meetings_app.state.meetings.scheduler))

    def objection_reminders(address: str) -> list[str]:
        return [
            m.get_payload(decode=True).decode()
            for m in inbox.to(address)
            if m["X-DIEF-Notice"] == "DEADLINE_REMINDER"
        ]

    [secretariat] = [
        b for b in objection_reminders(SECRETARIAT_MAIL) if "objection resolution" in b
    ]
    assert "14 days left" in secretariat
    for address in NPCS:
        assert not [b for b in objection_reminders(address) if "objection resolution" in b]
    # Where DEU objected to FRA's expert, both are reminded (and ISR, a bystander, is not).
    inbox.messages.clear()
    objected = await new_meeting(mq, who)
    await _objected(Stage(mq, who, clock, objected))
    clock.day(days_before(34))
    await run_sync(meetings_app.state.meetings.scheduler.round, clock.now)
    for address in NPCS:
        assert [b for b in objection_reminders(address) if "objection resolution" in b]


async def test_the_feed_shows_a_states_own_notices_read_and_unread(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox, meetings_app: Any
) -> None:
    mid = await new_meeting(mq, who)
    notified = await _notified(Stage(mq, who, clock, mid))
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
    await seed_and_announce()
    zoll = await run_sync(lambda: Contact.objects(functional_email="zoll@deu.example.org").get())
    await run_sync(contact_notices.register_key, SECRETARIAT, zoll.pk, pgp_keys.contact.public)
    app = build_meetings(signed, clock, contacts_app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client,
    ):
        await register_caught_up(signed)
        mq = GraphQLClient(client)
        mid = await new_meeting(mq, who)
        clock.day(days_before(55))
        issue = {"meetingId": mid, "callForPresentations": "Present cases of diversion."}
        ok(await mq(INVITE, {"i": issue}, who.sec))
        notified = await _notified(Stage(mq, who, clock, mid))
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
