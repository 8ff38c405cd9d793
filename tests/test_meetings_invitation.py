"""Rule 9: the invitation, to every participant State's contacts at the moment of issue,
sent through a real SMTP server with its iCalendar attachment; failures retried, reported."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from icalendar import Calendar

from services.common.mongo import run_sync
from services.common.settings import Settings
from services.dev.servers import free_port
from tests.conftest import GraphQLClient
from tests.meetings_support import (
    END,
    START,
    Actors,
    Clock,
    Inbox,
    add_item,
    build_meetings,
    days_before,
    new_meeting,
    ok,
    refusal,
    register_caught_up,
    seed_and_announce,
)

pytest_plugins = ["tests.meetings_support"]

ISSUE = """mutation($i: InvitationIssueInput!) { invitationIssue(input: $i) { meeting {
  invitation { late lateReason recipientCount callForPresentations unreachableStateCodes
    deliveries { state email role status attempts lastError } } } } }"""
GAPS = """{ noticeGaps { kind topic issuedAt unreachableStateCodes } }"""
CALL = "Participants are invited to present cases of diversion and share information."
PARTICIPANT_ADDRESSES = {
    "customs@fra.example.org",
    "police@fra.example.org",
    "zoll@deu.example.org",
}


async def test_rule_9_invitation_on_day_50_reaches_every_participant_contact_with_ics(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox
) -> None:
    mid = await new_meeting(mq, who)
    await add_item(mq, who, mid, title="Confidential item about brokers")
    clock.day(days_before(50))
    inv = ok(await mq(ISSUE, {"i": {"meetingId": mid, "callForPresentations": CALL}}, who.sec))
    invitation = inv["invitationIssue"]["meeting"]["invitation"]
    assert invitation["late"] is False and invitation["recipientCount"] == 3
    assert {d["email"]: d["status"] for d in invitation["deliveries"]} == {
        a: "SENT" for a in PARTICIPANT_ADDRESSES
    }
    assert inbox.to("cbp@usa.example.org") == []  # a non-party is not invited
    # By role: the national points of contact, not every contact of a State (staff@fra
    # has no role; DEU's alternate is only the fallback); ISR has nobody: reported.
    assert inbox.to("staff@fra.example.org") == inbox.to("vertretung@deu.example.org") == []
    assert {d["role"] for d in invitation["deliveries"]} == {"NATIONAL_POINT_OF_CONTACT"}
    assert invitation["unreachableStateCodes"] == ["ISR"]
    [gap] = ok(await mq(GAPS, {}, who.sec))["noticeGaps"]
    assert gap["kind"] == "INVITATION" and gap["unreachableStateCodes"] == ["ISR"]
    assert refusal(await mq(GAPS, {}, who.fra))["code"] == "FORBIDDEN"
    [message] = inbox.to("zoll@deu.example.org")
    body = message.get_payload()[0].get_payload(decode=True).decode()
    assert "2027-06-01 to 2027-06-02" in body and "Geneva, CICG" in body and CALL in body
    raw = b"".join(c for _, c in inbox.messages)
    assert b"brokers" not in raw  # never agenda content
    [attachment] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert attachment.get_filename() == "invitation.ics"
    [event] = Calendar.from_ical(attachment.get_payload(decode=True)).walk("VEVENT")
    assert event.decoded("DTSTART") == START
    assert event.decoded("DTEND") == END + timedelta(days=1)
    assert str(event["LOCATION"]) == "Geneva, CICG"
    again = refusal(
        await mq(ISSUE, {"i": {"meetingId": mid, "callForPresentations": CALL}}, who.sec)
    )
    assert again["code"] == "CONFLICT" and again["rule"] == 9


async def test_rule_9_invitation_on_day_49_is_refused_without_a_reason(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox
) -> None:
    mid = await new_meeting(mq, who)
    clock.day(days_before(49))
    late = refusal(
        await mq(ISSUE, {"i": {"meetingId": mid, "callForPresentations": CALL}}, who.sec)
    )
    assert late["code"] == "DEADLINE_PASSED" and late["rule"] == 9
    assert inbox.messages == []
    i = {"meetingId": mid, "callForPresentations": CALL, "lateReason": "Venue confirmed late"}
    inv = ok(await mq(ISSUE, {"i": i}, who.sec))["invitationIssue"]["meeting"]["invitation"]
    assert inv["late"] is True and inv["lateReason"] == "Venue confirmed late"
    timeline = """query($id: ID!) { meeting(id: $id) { timeline { kind status } } }"""
    items = ok(await mq(timeline, {"id": mid}, who.fra))["meeting"]["timeline"]
    assert {i["kind"]: i["status"] for i in items}["INVITATION"] == "LATE"


async def test_rule_9_only_the_secretariat_issues_and_without_a_call_nothing_goes_out(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox
) -> None:
    mid = await new_meeting(mq, who)
    clock.day(days_before(60))
    chair = refusal(
        await mq(ISSUE, {"i": {"meetingId": mid, "callForPresentations": CALL}}, who.chair)
    )
    assert chair["code"] == "FORBIDDEN" and chair["rule"] == 9
    blank = refusal(
        await mq(ISSUE, {"i": {"meetingId": mid, "callForPresentations": " "}}, who.sec)
    )
    assert blank["code"] == "VALIDATION" and blank["rule"] == 9
    assert inbox.messages == []


async def test_rule_9_failed_delivery_is_retried_then_sent(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox, meetings_app: Any
) -> None:
    inbox.refuse["zoll@deu.example.org"] = 1
    mid = await new_meeting(mq, who)
    clock.day(days_before(55))
    inv = ok(await mq(ISSUE, {"i": {"meetingId": mid, "callForPresentations": CALL}}, who.sec))
    deliveries = {
        d["email"]: d for d in inv["invitationIssue"]["meeting"]["invitation"]["deliveries"]
    }
    failed = deliveries["zoll@deu.example.org"]
    assert failed["status"] == "PENDING" and failed["attempts"] == 1
    assert "451" in failed["lastError"]
    scheduler = meetings_app.state.meetings.scheduler
    report = await run_sync(scheduler.round, clock.now)  # the back-off has not passed yet
    assert report.emails_sent == 0
    report = await run_sync(scheduler.round, clock.now + timedelta(minutes=2))
    assert report.emails_sent == 1
    assert len(inbox.to("zoll@deu.example.org")) == 1


async def test_rule_9_delivery_failing_every_retry_is_reported_failed(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox, meetings_app: Any
) -> None:
    inbox.refuse["zoll@deu.example.org"] = -1
    mid = await new_meeting(mq, who)
    clock.day(days_before(55))
    ok(await mq(ISSUE, {"i": {"meetingId": mid, "callForPresentations": CALL}}, who.sec))
    scheduler = meetings_app.state.meetings.scheduler
    for hours in (1, 2, 3):
        await run_sync(scheduler.round, clock.now + timedelta(hours=hours))
    q = """query($id: ID!) { meeting(id: $id) { invitation { deliveries { email status
      attempts lastError } } } }"""
    deliveries = ok(await mq(q, {"id": mid}, who.sec))["meeting"]["invitation"]["deliveries"]
    failed = {d["email"]: d for d in deliveries}["zoll@deu.example.org"]
    assert failed["status"] == "FAILED" and failed["attempts"] == 3
    assert "451" in failed["lastError"]
    hidden = refusal(await mq(q, {"id": mid}, who.fra))
    assert hidden["code"] == "FORBIDDEN"


async def test_rule_9_a_moved_meeting_needs_a_new_invitation(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox
) -> None:
    mid = await new_meeting(mq, who)
    clock.day(days_before(60))
    ok(await mq(ISSUE, {"i": {"meetingId": mid, "callForPresentations": CALL}}, who.sec))
    move = """mutation($i: MeetingMoveInput!) { meetingMove(input: $i) { meeting { id } } }"""
    i = {"id": mid, "startDate": "2027-06-15", "endDate": "2027-06-16"}
    ok(await mq(move, {"i": i}, who.sec))
    timeline = """query($id: ID!) { meeting(id: $id) { timeline { kind status } } }"""
    items = ok(await mq(timeline, {"id": mid}, who.sec))["meeting"]["timeline"]
    assert {i["kind"]: i["status"] for i in items}["INVITATION"] == "PENDING"
    again = ok(await mq(ISSUE, {"i": {"meetingId": mid, "callForPresentations": CALL}}, who.sec))
    assert again["invitationIssue"]["meeting"]["invitation"]["late"] is False
    mails = inbox.to("zoll@deu.example.org")
    assert [m["X-DIEF-Notice"] for m in mails] == ["INVITATION", "MEETING_MOVED", "INVITATION"]
    second = mails[-1]
    assert "2027-06-15 to 2027-06-16" in second.get_payload()[0].get_payload(decode=True).decode()


async def test_rule_9_unreachable_mail_server_keeps_every_delivery_pending_with_its_error(
    meetings_settings: Settings, contacts_app: Any, clock: Clock, who: Actors
) -> None:
    """Nothing is dropped: each address waits, with the error, for the next attempt."""
    unreachable = meetings_settings.model_copy(update={"smtp_port": free_port()})
    await seed_and_announce()
    app = build_meetings(unreachable, clock, contacts_app)
    async with app.router.lifespan_context(app):
        await register_caught_up(unreachable)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
            gql = GraphQLClient(client)
            mid = await new_meeting(gql, who)
            clock.day(days_before(55))
            i = {"meetingId": mid, "callForPresentations": CALL}
            inv = ok(await gql(ISSUE, {"i": i}, who.sec))["invitationIssue"]["meeting"]
            deliveries = inv["invitation"]["deliveries"]
            assert {d["email"] for d in deliveries} == PARTICIPANT_ADDRESSES
            for delivery in deliveries:
                assert delivery["status"] == "PENDING" and delivery["attempts"] == 1
                assert "cannot reach the mail server" in delivery["lastError"]
