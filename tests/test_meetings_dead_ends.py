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
    new_meeting,
    ok,
    refusal,
)

pytest_plugins = ["tests.meetings_support"]

DISTRIBUTE = """mutation($i: AgendaDistributeInput!) { agendaDistribute(input: $i) {
  meeting { agendaStatus agendaLateReason timeline { kind status doneOn } } } }"""


async def test_rule_10_a_late_draft_agenda_goes_out_with_its_reason_flagged_late(
    mq: GraphQLClient, who: Actors, clock: Clock, inbox: Inbox, meetings_app: Any
) -> None:
    mid = await new_meeting(mq, who)
    ok(await mq(ADD_ITEM, {"i": {"meetingId": mid, "title": "Trends"}}, who.sec))
    clock.day(days_before(29))
    late = refusal(await mq(DISTRIBUTE, {"i": {"id": mid}}, who.sec))
    assert late["code"] == "DEADLINE_PASSED" and late["rule"] == 10
    blank = refusal(await mq(DISTRIBUTE, {"i": {"id": mid, "lateReason": "  "}}, who.sec))
    assert blank["code"] == "DEADLINE_PASSED"
    i = {"id": mid, "lateReason": "The host country confirmed the venue late"}
    meeting = ok(await mq(DISTRIBUTE, {"i": i}, who.sec))["agendaDistribute"]["meeting"]
    assert meeting["agendaStatus"] == "DISTRIBUTED"
    assert meeting["agendaLateReason"] == "The host country confirmed the venue late"
    [item] = [t for t in meeting["timeline"] if t["kind"] == "DRAFT_AGENDA"]
    assert item == {"kind": "DRAFT_AGENDA", "status": "LATE", "doneOn": days_before(29).isoformat()}
    [mail] = inbox.to("zoll@deu.example.org")
    assert "distributed late: The host country" in mail.get_payload(decode=True).decode()
    on_time = await new_meeting(mq, who)
    clock.day(days_before(40))
    ok(await mq(DISTRIBUTE, {"i": {"id": on_time, "lateReason": "ignored"}}, who.sec))
    q = "query($id: ID!) { meeting(id: $id) { agendaLateReason } }"
    assert ok(await mq(q, {"id": on_time}, who.sec))["meeting"]["agendaLateReason"] is None
