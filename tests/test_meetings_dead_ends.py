"""Dead ends a user hit in the meetings service, each now a way through: a late draft
agenda (rule 10) and a late involved-State notification (rule 12) with a recorded reason,
and the running order derived from the adopted agenda."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQLClient
from tests.meetings_support import (
    ADD_ITEM,
    Actors,
    Clock,
    Inbox,
    days_before,
    intend,
    new_meeting,
    ok,
    refusal,
)

pytest_plugins = ["tests.meetings_support"]

DISTRIBUTE = """mutation($i: MeetingRefInput!, $r: String) { agendaDistribute(input: $i,
  lateReason: $r) {
  meeting { agendaStatus agendaLateReason timeline { kind status doneOn } } } }"""


async def test_rule_10_a_late_draft_agenda_goes_out_with_its_reason_flagged_late(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox, meetings_app: Any
) -> None:
    mid = await new_meeting(mq, who)
    ok(await mq(ADD_ITEM, {"i": {"meetingId": mid, "title": "Trends"}}, who.sec))
    clock.day(days_before(29))
    late = refusal(await mq(DISTRIBUTE, {"i": {"id": mid}}, who.sec))
    assert late["code"] == "DEADLINE_PASSED" and late["rule"] == 10
    blank = refusal(await mq(DISTRIBUTE, {"i": {"id": mid}, "r": "  "}, who.sec))
    assert blank["code"] == "DEADLINE_PASSED"
    reason = "The host country confirmed the venue late"
    meeting = ok(await mq(DISTRIBUTE, {"i": {"id": mid}, "r": reason}, who.sec))[
        "agendaDistribute"
    ]["meeting"]
    assert meeting["agendaStatus"] == "DISTRIBUTED"
    assert meeting["agendaLateReason"] == "The host country confirmed the venue late"
    [item] = [t for t in meeting["timeline"] if t["kind"] == "DRAFT_AGENDA"]
    assert item == {"kind": "DRAFT_AGENDA", "status": "LATE", "doneOn": days_before(29).isoformat()}
    [mail] = inbox.to("zoll@deu.example.org")
    assert "distributed late: The host country" in mail.get_payload(decode=True).decode()
    on_time = await new_meeting(mq, who)
    clock.day(days_before(40))
    ok(await mq(DISTRIBUTE, {"i": {"id": on_time}, "r": "ignored"}, who.sec))
    q = "query($id: ID!) { meeting(id: $id) { agendaLateReason } }"
    assert ok(await mq(q, {"id": on_time}, who.sec))["meeting"]["agendaLateReason"] is None


NOTIFY_LATE = """mutation($i: PresentationRefInput!, $r: String) {
  presentationNotifyInvolved(input: $i, lateReason: $r) {
  presentation { id notifiedInTime chairKeeps notifications { stateCode late lateReason } } } }"""
DECIDE = """mutation($i: PresentationLateDecideInput!) { presentationLateDecide(input: $i) {
  presentation { chairKeeps agendaItemId } } }"""
SCHEDULE = """mutation($id: ID!) { presentationSchedule(input: {id: $id}) { agendaItem { id } } }"""
SEEN = """query($id: ID!) { presentation(id: $id) { notifications { stateCode late lateReason }
  chairKeeps } }"""
ADOPT = """mutation($id: ID!) { agendaAdopt(input: {id: $id}) { meeting { agendaStatus } } }"""


async def test_rule_12_a_late_notification_with_a_reason_and_the_chair_decides(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox, meetings_app: Any
) -> None:
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, ["DEU"])
    clock.day(days_before(29))
    refused = refusal(await mq(NOTIFY_LATE, {"i": {"id": pid}}, who.fra))
    assert refused["code"] == "DEADLINE_PASSED" and refused["rule"] == 12
    why = {"i": {"id": pid}, "r": "The seizure happened last week"}
    pres = ok(await mq(NOTIFY_LATE, why, who.fra))["presentationNotifyInvolved"]["presentation"]
    assert pres["notifiedInTime"] is False and pres["chairKeeps"] is None
    assert pres["notifications"] == [
        {"stateCode": "DEU", "late": True, "lateReason": "The seizure happened last week"}
    ]
    # The involved State sees the lateness, in the API and in its notice.
    seen = ok(await mq(SEEN, {"id": pid}, who.deu))["presentation"]
    assert seen["notifications"][0]["late"] is True
    [mail] = inbox.to("zoll@deu.example.org")
    assert "This notification is late" in mail.get_payload(decode=True).decode()
    # Not on the agenda until the Chair decides; only the Chair decides.
    assert refusal(await mq(SCHEDULE, {"id": pid}, who.sec))["rule"] == 12
    assert refusal(await mq(DECIDE, {"i": {"id": pid, "keep": True}}, who.sec))["code"] == (
        "FORBIDDEN"
    )
    kept = ok(await mq(DECIDE, {"i": {"id": pid, "keep": True}}, who.chair))
    assert kept["presentationLateDecide"]["presentation"]["chairKeeps"] is True
    ok(await mq(SCHEDULE, {"id": pid}, who.sec))
    # The Chair changes its mind: the presentation comes off the agenda.
    dropped = ok(await mq(DECIDE, {"i": {"id": pid, "keep": False}}, who.chair))
    assert dropped["presentationLateDecide"]["presentation"] == {
        "chairKeeps": False,
        "agendaItemId": None,
    }
    assert refusal(await mq(SCHEDULE, {"id": pid}, who.sec))["rule"] == 12
    ok(await mq(DECIDE, {"i": {"id": pid, "keep": True}}, who.chair))
    ok(await mq(SCHEDULE, {"id": pid}, who.sec))
    ok(await mq(DISTRIBUTE, {"i": {"id": mid}, "r": "late presentation"}, who.sec))
    adopted = ok(await mq(ADOPT, {"id": mid}, who.chair))  # the kept one does not block
    assert adopted["agendaAdopt"]["meeting"]["agendaStatus"] == "ADOPTED"


async def test_the_running_order_follows_from_the_adopted_agenda(
    mq: GraphQLClient, who: Actors, clock: Clock, meetings_app: Any
) -> None:
    mid = await new_meeting(mq, who)
    ok(await mq(ADD_ITEM, {"i": {"meetingId": mid, "title": "Trends"}}, who.sec))
    pid = await intend(mq, who, mid, ["DEU"])
    not_notified = await intend(mq, who, mid, ["ISR"])
    clock.day(days_before(35))
    ok(await mq(NOTIFY_LATE, {"i": {"id": pid}}, who.fra))
    ok(await mq(DISTRIBUTE, {"i": {"id": mid}}, who.sec))
    order = """query($id: ID!) { meeting(id: $id) { runningOrder { kind presentationId
      stateCode } } }"""
    before = ok(await mq(order, {"id": mid}, who.deu))["meeting"]["runningOrder"]
    assert [e["kind"] for e in before] == ["ITEM"]  # nothing placed yet
    ok(await mq(ADOPT, {"id": mid}, who.chair))
    after = ok(await mq(order, {"id": mid}, who.deu))["meeting"]["runningOrder"]
    assert [(e["kind"], e["presentationId"], e["stateCode"]) for e in after] == [
        ("ITEM", None, None),
        ("PRESENTATION", pid, None),
        ("RIGHT_OF_REPLY", pid, "DEU"),
    ]
    assert not_notified not in {e["presentationId"] for e in after}
