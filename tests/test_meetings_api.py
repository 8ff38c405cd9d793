"""The meetings subgraph over GraphQL, against real servers: MongoDB-wire (with GridFS),
NATS, the contacts service (in-process, for invitation recipients) and an SMTP server."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from services.common.mongo import run_sync
from services.meetings.handlers import PARTICIPANTS
from tests.conftest import GraphQLClient
from tests.meetings_support import (
    ADD_ITEM,
    ADOPT,
    ATTACH,
    DISTRIBUTE,
    END,
    INTEND,
    MEETING,
    NOTIFY,
    ORDER,
    RESPOND,
    SCHEDULE,
    SCHEDULE_PRES,
    SECRETARIAT,
    SESSION,
    START,
    Actors,
    Clock,
    add_item,
    days_before,
    intend,
    new_meeting,
    new_session,
    ok,
    pdf,
    refusal,
    schedule,
)
from tests.test_common_files import EXE

pytest_plugins = ["tests.meetings_support"]


# --- schema ------------------------------------------------------------------------------


async def test_subgraph_declares_entities_state_extension_and_authorisation(
    mq: GraphQLClient,
) -> None:
    sdl = ok(await mq("{ _service { sdl } }"))["_service"]["sdl"]
    assert 'url: "https://specs.apollo.dev/federation/v2.9"' in sdl
    for entity in ("Meeting", "AgendaItem", "Presentation", "ExpertProposal"):
        assert f'type {entity} @key(fields: "id") @authenticated' in sdl
    assert 'type State @key(fields: "code") @authenticated' in sdl
    assert "meetingsParticipated(" in sdl and "presentations(" in sdl
    assert '@policy(policies: [["secretariat"]])' in sdl


async def test_rule_17_the_schema_has_no_minutes_report_or_debate(mq: GraphQLClient) -> None:
    """Rule 17: no official minutes, no report, no debate content, anywhere."""
    query = "{ __schema { types { name fields { name } inputFields { name } } } }"
    types = ok(await mq(query))["__schema"]["types"]
    names = [t["name"] for t in types]
    names += [f["name"] for t in types for f in (t["fields"] or [])]
    names += [f["name"] for t in types for f in (t["inputFields"] or [])]
    lowered = [n.lower() for n in names]
    for word in ("minute", "report", "debate", "transcript", "discussion", "speech"):
        assert not [n for n in lowered if word in n and not n.startswith("__")], word


# --- rule 3: scheduling ------------------------------------------------------------------


async def test_rule_3_third_meeting_in_a_year_is_a_conflict(mq: GraphQLClient, who: Actors) -> None:
    session = await new_session(mq, who)
    ok(await schedule(mq, who, session, date(2027, 3, 1), date(2027, 3, 2)))
    second = ok(await schedule(mq, who, session))["meetingSchedule"]["meeting"]
    assert second["decidedBy"] == "CSP13 President"
    third = refusal(await schedule(mq, who, session, date(2027, 10, 1), date(2027, 10, 2)))
    assert third["code"] == "CONFLICT" and third["rule"] == 3


async def test_rule_3_two_meetings_scheduled_at_once_cannot_both_take_the_last_slot(
    mq: GraphQLClient, who: Actors, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bson import ObjectId

    from services.common.ids import from_global_id
    from services.meetings import handlers

    session = await new_session(mq, who)
    ok(await schedule(mq, who, session, date(2027, 3, 1), date(2027, 3, 2)))
    counted = handlers.meetings_in_year

    def another_request_commits_meanwhile(year: int) -> list:
        seen = counted(year)  # this request sees one meeting: a slot is free
        monkeypatch.setattr(handlers, "meetings_in_year", counted)
        other = handlers.ScheduleInput(
            ObjectId(from_global_id(session, "Session")),
            date(2027, 10, 1),
            date(2027, 10, 2),
            "Vienna",
            "President",
            date(2027, 1, 10),
        )
        handlers.schedule_meeting(SECRETARIAT, clock.now, other)  # takes that slot first
        return seen

    monkeypatch.setattr(handlers, "meetings_in_year", another_request_commits_meanwhile)
    late = refusal(await schedule(mq, who, session))
    assert late["code"] == "CONFLICT"
    listed = ok(await mq("{ meetings(year: 2027) { totalCount } }", token=who.sec))
    assert listed["meetings"]["totalCount"] == 2


async def test_rule_3_only_the_secretariat_schedules(mq: GraphQLClient, who: Actors) -> None:
    session = await new_session(mq, who)
    i = {
        "sessionId": session,
        "startDate": "2027-06-01",
        "endDate": "2027-06-02",
        "venue": "Geneva",
        "decidedBy": "P",
        "decidedOn": "2027-01-10",
    }
    refused = refusal(await mq(SCHEDULE, {"i": i}, who.fra))
    assert refused["code"] == "FORBIDDEN" and refused["rule"] == 3


# --- rule 4: Chair -----------------------------------------------------------------------


async def test_rule_4_current_chair_follows_the_term(mq: GraphQLClient, who: Actors) -> None:
    csp = {"kind": "CSP", "name": "CSP13", "startDate": "2027-08-23", "endDate": "2027-08-27"}
    ok(await mq(SESSION, {"i": csp}, who.sec))
    appoint = """mutation($i: ChairAppointInput!) { chairAppoint(input: $i) {
      chairTerm { chair termEndsOn } } }"""
    i = {"chair": "Ambassador A", "appointedOn": "2026-08-28", "appointedBy": "CSP12 President"}
    term = ok(await mq(appoint, {"i": i}, who.sec))["chairAppoint"]["chairTerm"]
    assert term == {"chair": "Ambassador A", "termEndsOn": "2027-08-27"}
    q = "query($on: Date!) { currentChair(on: $on) { chair } }"
    assert ok(await mq(q, {"on": "2027-08-27"}, who.fra))["currentChair"]["chair"] == "Ambassador A"
    assert ok(await mq(q, {"on": "2027-08-28"}, who.fra))["currentChair"] is None
    refused = refusal(await mq(appoint, {"i": i}, who.chair))
    assert refused["code"] == "FORBIDDEN" and refused["rule"] == 4


async def test_rule_4_an_overlapping_term_is_refused_unless_the_previous_is_ended(
    mq: GraphQLClient, who: Actors
) -> None:
    csp = {"kind": "CSP", "name": "CSP13", "startDate": "2027-08-23", "endDate": "2027-08-27"}
    ok(await mq(SESSION, {"i": csp}, who.sec))
    appoint = """mutation($i: ChairAppointInput!) { chairAppoint(input: $i) {
      chairTerm { chair termEndsOn endedOn } } }"""
    a = {"chair": "Ambassador A", "appointedOn": "2026-08-28", "appointedBy": "CSP12 President"}
    ok(await mq(appoint, {"i": a}, who.sec))
    b = {"chair": "Ambassador B", "appointedOn": "2027-02-01", "appointedBy": "CSP12 President"}
    overlap = refusal(await mq(appoint, {"i": b}, who.sec))
    assert overlap["code"] == "CONFLICT" and overlap["rule"] == 4
    q = "query($on: Date!) { currentChair(on: $on) { chair } }"
    assert ok(await mq(q, {"on": "2027-03-01"}, who.fra))["currentChair"]["chair"] == "Ambassador A"
    ok(await mq(appoint, {"i": {**b, "endPreviousTerm": True}}, who.sec))
    terms = ok(await mq("{ chairAppointments { chair endedOn } }", {}, who.sec))
    assert terms["chairAppointments"] == [
        {"chair": "Ambassador A", "endedOn": "2027-01-31"},
        {"chair": "Ambassador B", "endedOn": None},
    ]
    assert ok(await mq(q, {"on": "2027-01-31"}, who.fra))["currentChair"]["chair"] == "Ambassador A"
    assert ok(await mq(q, {"on": "2027-02-01"}, who.fra))["currentChair"]["chair"] == "Ambassador B"
    back = {**a, "chair": "Ambassador C", "appointedOn": "2026-12-01", "endPreviousTerm": True}
    assert refusal(await mq(appoint, {"i": back}, who.sec))["code"] == "CONFLICT"


# --- timeline ----------------------------------------------------------------------------

TIMELINE = (
    """query($id: ID!) { meeting(id: $id) { startDate timeline { kind dueOn status rule } } }"""
)


async def test_timeline_shows_every_due_item_and_moves_with_the_meeting(
    mq: GraphQLClient, who: Actors
) -> None:
    mid = await new_meeting(mq, who)
    items = ok(await mq(TIMELINE, {"id": mid}, who.fra))["meeting"]["timeline"]
    due = {i["kind"]: i["dueOn"] for i in items}
    assert due == {
        "INVITATION": "2027-04-12",
        "DRAFT_AGENDA": "2027-05-02",
        "INVOLVED_STATE_NOTIFICATIONS": "2027-05-02",
        "EXPERT_PROPOSALS": "2027-05-02",
        "OBJECTION_RESOLUTION": "2027-05-12",
        "INVOLVED_STATE_RESPONSES": "2027-05-17",
    }
    assert {i["status"] for i in items} == {"PENDING"}
    move = """mutation($i: MeetingMoveInput!) { meetingMove(input: $i) { meeting { id } } }"""
    i = {"id": mid, "startDate": "2027-06-11", "endDate": "2027-06-12"}
    ok(await mq(move, {"i": i}, who.sec))
    items = ok(await mq(TIMELINE, {"id": mid}, who.fra))["meeting"]["timeline"]
    assert {i["kind"]: i["dueOn"] for i in items}["INVITATION"] == "2027-04-22"


async def test_timeline_item_is_late_the_day_after_it_was_due(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    mid = await new_meeting(mq, who)
    clock.day(days_before(50))
    items = ok(await mq(TIMELINE, {"id": mid}, who.sec))["meeting"]["timeline"]
    assert {i["kind"]: i["status"] for i in items}["INVITATION"] == "PENDING"
    clock.day(days_before(49))
    items = ok(await mq(TIMELINE, {"id": mid}, who.sec))["meeting"]["timeline"]
    assert {i["kind"]: i["status"] for i in items}["INVITATION"] == "LATE"


# --- rule 14: who sees a meeting ---------------------------------------------------------


async def test_rule_14_non_party_expert_and_anonymous_callers_are_refused(
    mq: GraphQLClient, who: Actors
) -> None:
    mid = await new_meeting(mq, who)
    assert ok(await mq(MEETING, {"id": mid}, who.fra))["meeting"]["venue"] == "Geneva, CICG"
    assert ok(await mq(MEETING, {"id": mid}, who.chair))["meeting"]["id"] == mid
    usa = refusal(await mq(MEETING, {"id": mid}, who.usa))
    assert usa["code"] == "FORBIDDEN" and usa["rule"] == 14
    expert = refusal(await mq(MEETING, {"id": mid}, who.expert))
    assert expert["code"] == "FORBIDDEN" and expert["rule"] == 8
    anonymous = refusal(await mq(MEETING, {"id": mid}))
    assert anonymous["code"] == "UNAUTHENTICATED"
    listed = refusal(await mq("{ meetings { totalCount } }", token=who.usa))
    assert listed["code"] == "FORBIDDEN"


async def test_rule_14_lifted_confidentiality_is_honoured(mq: GraphQLClient, who: Actors) -> None:
    mid = await new_meeting(mq, who)
    lift = """mutation($i: ConfidentialityLiftInput!) { confidentialityLift(input: $i) {
      meeting { confidentialityDecisions { target decidedOn } } } }"""
    i = {"meetingId": mid, "target": "AGENDA", "decidedOn": "2027-06-02"}
    refused = refusal(await mq(lift, {"i": i}, who.fra))
    assert refused["code"] == "FORBIDDEN" and refused["rule"] == 14
    decisions = ok(await mq(lift, {"i": i}, who.sec))["confidentialityLift"]["meeting"]
    assert decisions["confidentialityDecisions"] == [
        {"target": "AGENDA", "decidedOn": "2027-06-02"}
    ]
    assert ok(await mq(MEETING, {"id": mid}, who.usa))["meeting"]["id"] == mid


async def test_rule_14_a_document_made_non_confidential_is_served_to_any_signed_in_caller(
    mq: GraphQLClient, http: httpx.AsyncClient, who: Actors
) -> None:
    mid = await new_meeting(mq, who)
    item = await add_item(mq, who, mid)
    i = {
        "agendaItemId": item,
        "filename": "public.pdf",
        "mediaType": "application/pdf",
        "language": "en",
        "contentBase64": pdf(),
    }
    doc = ok(await mq(ATTACH, {"i": i}, who.sec))["documentAttach"]["document"]
    usa = {"Authorization": f"Bearer {who.usa}"}
    assert (await http.get(doc["downloadPath"], headers=usa)).status_code == 403
    lift = """mutation($i: ConfidentialityLiftInput!) { confidentialityLift(input: $i) {
      meeting { id } } }"""
    i = {"meetingId": mid, "target": "DOCUMENT", "documentId": doc["id"], "decidedOn": "2027-06-02"}
    ok(await mq(lift, {"i": i}, who.sec))
    assert (await http.get(doc["downloadPath"], headers=usa)).status_code == 200
    assert refusal(await mq(MEETING, {"id": mid}, who.usa))["rule"] == 14  # the rest stays
    assert (await http.get(doc["downloadPath"])).status_code == 401


# --- rules 10, 11, 23: the agenda --------------------------------------------------------


async def test_rules_10_23_documents_are_stored_in_gridfs_and_served_to_participants(
    mq: GraphQLClient, http: httpx.AsyncClient, who: Actors
) -> None:
    mid = await new_meeting(mq, who)
    item = await add_item(mq, who, mid)
    i = {
        "agendaItemId": item,
        "filename": "brief.pdf",
        "mediaType": "application/pdf",
        "language": "fr",
        "contentBase64": pdf(),
    }
    document = ok(await mq(ATTACH, {"i": i}, who.sec))["documentAttach"]["document"]
    assert document["language"] == "fr" and document["size"] == len(b"%PDF-1.4 brief")
    got = await http.get(document["downloadPath"], headers={"Authorization": f"Bearer {who.deu}"})
    assert got.status_code == 200 and got.content == b"%PDF-1.4 brief"
    assert got.headers["content-language"] == "fr"
    denied = await http.get(
        document["downloadPath"], headers={"Authorization": f"Bearer {who.usa}"}
    )
    assert denied.status_code == 403 and denied.json()["rule"] == 14
    assert (await http.get(document["downloadPath"])).status_code == 401
    german = refusal(await mq(ATTACH, {"i": {**i, "language": "de"}}, who.sec))
    assert german["code"] == "VALIDATION" and german["rule"] == 23
    exe = refusal(await mq(ATTACH, {"i": {**i, "mediaType": "application/x-msdownload"}}, who.sec))
    assert exe["code"] == "VALIDATION"
    # a Windows program declared as a PDF: the shared content check (services.common.files)
    exe_as_pdf = refusal(await mq(ATTACH, {"i": {**i, "contentBase64": pdf(EXE)}}, who.sec))
    assert (exe_as_pdf["code"], exe_as_pdf["field"]) == ("VALIDATION", "content")
    quoted = {**i, "filename": "brief.pdf\"; filename*=UTF-8''update.exe; x=\".pdf"}
    assert refusal(await mq(ATTACH, {"i": quoted}, who.sec))["field"] == "filename"
    not_mine = refusal(await mq(ATTACH, {"i": i}, who.fra))
    assert not_mine["code"] == "FORBIDDEN"


async def test_document_larger_than_the_limit_is_refused_and_nothing_is_written(
    mq: GraphQLClient, who: Actors, meetings_app: Any
) -> None:
    mid = await new_meeting(mq, who)
    item = await add_item(mq, who, mid)
    limit = meetings_app.state.meetings.settings.meetings_document_max_bytes
    i = {
        "agendaItemId": item,
        "filename": "big.pdf",
        "mediaType": "application/pdf",
        "language": "en",
        "contentBase64": pdf(b"x" * (limit + 1)),
    }
    assert refusal(await mq(ATTACH, {"i": i}, who.sec))["code"] == "VALIDATION"
    q = """query($id: ID!) { agendaItem(id: $id) { documents { id } } }"""
    assert ok(await mq(q, {"id": item}, who.sec))["agendaItem"]["documents"] == []


async def test_rule_10_draft_agenda_on_day_30_then_adoption_freezes_it(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    mid = await new_meeting(mq, who)
    await add_item(mq, who, mid)
    clock.day(days_before(30))
    assert ok(await mq(DISTRIBUTE, {"id": mid}, who.sec))["agendaDistribute"]["meeting"] == {
        "agendaStatus": "DISTRIBUTED"
    }
    adopted = ok(await mq(ADOPT, {"id": mid}, who.chair))["agendaAdopt"]["meeting"]
    assert adopted["agendaStatus"] == "ADOPTED"
    frozen = refusal(await mq(ADD_ITEM, {"i": {"meetingId": mid, "title": "Late"}}, who.sec))
    assert frozen["code"] == "CONFLICT" and frozen["rule"] == 10


async def test_rule_10_draft_agenda_on_day_29_is_refused(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    mid = await new_meeting(mq, who)
    clock.day(days_before(29))
    late = refusal(await mq(DISTRIBUTE, {"id": mid}, who.sec))
    assert late["code"] == "DEADLINE_PASSED" and late["rule"] == 10


async def test_rule_11_intentions_are_accepted_until_adoption_then_refused(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    mid = await new_meeting(mq, who)
    i = {"meetingId": mid, "stateCode": "FRA", "title": "Diverted rifles"}
    pres = ok(await mq(INTEND, {"i": i}, who.fra))["presentationIntend"]["presentation"]
    assert pres["presentingStateCode"] == "FRA"
    clock.day(days_before(30))
    ok(await mq(DISTRIBUTE, {"id": mid}, who.sec))
    ok(await mq(ADOPT, {"id": mid}, who.sec))
    late = refusal(await mq(INTEND, {"i": i}, who.fra))
    assert late["code"] == "DEADLINE_PASSED" and late["rule"] == 11


async def test_rule_11_a_state_announces_only_its_own_presentations(
    mq: GraphQLClient, who: Actors
) -> None:
    mid = await new_meeting(mq, who)
    i = {"meetingId": mid, "stateCode": "FRA", "title": "Diverted rifles"}
    other = refusal(await mq(INTEND, {"i": i}, who.deu))
    assert other["code"] == "FORBIDDEN" and other["rule"] == 11
    usa = refusal(await mq(INTEND, {"i": {**i, "stateCode": "USA"}}, who.usa))
    assert usa["code"] == "FORBIDDEN"


# --- rule 12: presentations involving other States ---------------------------------------


async def test_rule_12_notified_on_day_30_responded_scheduled_with_right_of_reply(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, ["DEU"])
    clock.day(days_before(30))
    notified = ok(await mq(NOTIFY, {"id": pid}, who.fra))["presentationNotifyInvolved"]
    assert notified["presentation"]["notifications"] == [
        {"stateCode": "DEU", "replyDueOn": days_before(15).isoformat()}
    ]
    assert notified["presentation"]["notifiedInTime"] is True
    i = {"id": pid, "stateCode": "DEU", "response": "Our authorities are investigating."}
    answered = ok(await mq(RESPOND, {"i": i}, who.deu))["presentationRespond"]["presentation"]
    assert answered["responses"] == [
        {"stateCode": "DEU", "response": "Our authorities are investigating."}
    ]
    for_someone_else = refusal(await mq(RESPOND, {"i": i}, who.isr))
    assert for_someone_else["code"] == "FORBIDDEN" and for_someone_else["rule"] == 12
    ok(await mq(SCHEDULE_PRES, {"id": pid}, who.sec))
    order = ok(await mq(ORDER, {"id": mid}, who.isr))["meeting"]["runningOrder"]
    assert order == [
        {"kind": "PRESENTATION", "stateCode": None},
        {"kind": "RIGHT_OF_REPLY", "stateCode": "DEU"},
    ]
    ok(await mq(DISTRIBUTE, {"id": mid}, who.sec))
    ok(await mq(ADOPT, {"id": mid}, who.sec))


async def test_rule_12_notification_on_day_29_is_refused_and_it_cannot_be_scheduled(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, ["DEU"])
    clock.day(days_before(29))
    late = refusal(await mq(NOTIFY, {"id": pid}, who.fra))
    assert late["code"] == "DEADLINE_PASSED" and late["rule"] == 12
    unscheduled = refusal(await mq(SCHEDULE_PRES, {"id": pid}, who.sec))
    assert unscheduled["code"] == "CONFLICT" and unscheduled["rule"] == 12


async def test_rule_12_meeting_moved_earlier_leaves_a_late_notification_off_the_adopted_agenda(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, ["DEU"])
    clock.day(days_before(31))
    ok(await mq(NOTIFY, {"id": pid}, who.fra))
    ok(await mq(SCHEDULE_PRES, {"id": pid}, who.sec))
    ok(await mq(DISTRIBUTE, {"id": mid}, who.sec))
    move = """mutation($i: MeetingMoveInput!) { meetingMove(input: $i) { meeting { id } } }"""
    ok(
        await mq(
            move, {"i": {"id": mid, "startDate": "2027-05-30", "endDate": "2027-05-31"}}, who.sec
        )
    )
    refused = refusal(await mq(ADOPT, {"id": mid}, who.sec))
    assert refused["code"] == "CONFLICT" and refused["rule"] == 12
    q = """query($id: ID!) { presentation(id: $id) { notifiedInTime } }"""
    assert ok(await mq(q, {"id": pid}, who.deu))["presentation"]["notifiedInTime"] is False


async def test_rule_12_only_the_presenting_state_notifies(mq: GraphQLClient, who: Actors) -> None:
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, ["DEU"])
    other = refusal(await mq(NOTIFY, {"id": pid}, who.deu))
    assert other["code"] == "FORBIDDEN" and other["rule"] == 12


# --- rules 6, 7: participation -----------------------------------------------------------

REGISTER = """mutation($i: DelegateRegisterInput!) { delegateRegister(input: $i) {
  registration { stateCode function } } }"""
FIGURES = """query($id: ID!) { meeting(id: $id) { participation { delegates states
  enforcementOfficers } } }"""


async def test_rules_6_7_participants_register_and_figures_count_enforcement_officers(
    mq: GraphQLClient, who: Actors
) -> None:
    mid = await new_meeting(mq, who)
    for tok, state, function in (
        (who.fra, "FRA", "CUSTOMS"),
        (who.fra, "FRA", "LICENSING"),
        (who.deu, "DEU", "POLICE"),
    ):
        i = {"meetingId": mid, "stateCode": state, "name": "Delegate", "function": function}
        ok(await mq(REGISTER, {"i": i}, tok))
    figures = ok(await mq(FIGURES, {"id": mid}, who.sec))["meeting"]["participation"]
    assert figures == {"delegates": 3, "states": 2, "enforcementOfficers": 2}
    i = {"meetingId": mid, "stateCode": "USA", "name": "Observer", "function": "POLICE"}
    non_party = refusal(await mq(REGISTER, {"i": i}, who.usa))
    assert non_party["code"] == "FORBIDDEN" and non_party["rule"] == 6
    i = {"meetingId": mid, "stateCode": "FRA", "name": "Someone", "function": "POLICE"}
    other = refusal(await mq(REGISTER, {"i": i}, who.deu))
    assert other["code"] == "FORBIDDEN" and other["rule"] == 6
    q = """query { _entities(representations: [{__typename: "State", code: "DEU"}]) {
      ... on State { meetingsParticipated { totalCount edges { node { id } } } } } }"""
    met = ok(await mq(q, token=who.fra))["_entities"][0]["meetingsParticipated"]
    assert met["totalCount"] == 1 and met["edges"][0]["node"]["id"] == mid


# --- rule 22: briefings ------------------------------------------------------------------


async def test_rule_22_consensus_case_objection_and_attribution_consent(
    mq: GraphQLClient, who: Actors
) -> None:
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, [])
    propose = """mutation($i: BriefingProposeInput!) { briefingPropose(input: $i) {
      briefing { id mayBrief } } }"""
    b = ok(await mq(propose, {"i": {"meetingId": mid, "forum": "WGETI"}}, who.chair))
    bid = b["briefingPropose"]["briefing"]["id"]
    assert b["briefingPropose"]["briefing"]["mayBrief"] is False
    consensus = """mutation($id: ID!) { briefingConsensusRecord(input: {id: $id}) {
      briefing { mayBrief } } }"""
    assert ok(await mq(consensus, {"id": bid}, who.chair))["briefingConsensusRecord"][
        "briefing"
    ] == {"mayBrief": True}
    obj = """mutation($i: BriefingObjectInput!) { briefingObject(input: $i) {
      briefing { excludedPresentationIds } } }"""
    other = refusal(await mq(obj, {"i": {"id": bid, "presentationId": pid}}, who.deu))
    assert other["code"] == "FORBIDDEN" and other["rule"] == 22
    excluded = ok(await mq(obj, {"i": {"id": bid, "presentationId": pid}}, who.fra))
    assert excluded["briefingObject"]["briefing"]["excludedPresentationIds"] == [pid]
    consent = """mutation($i: BriefingAttributionConsentInput!) {
      briefingAttributionConsent(input: $i) { briefing { attributableStateCodes } } }"""
    for_other = refusal(await mq(consent, {"i": {"id": bid, "stateCode": "FRA"}}, who.deu))
    assert for_other["code"] == "FORBIDDEN" and for_other["rule"] == 22
    given = ok(await mq(consent, {"i": {"id": bid, "stateCode": "DEU"}}, who.deu))
    assert given["briefingAttributionConsent"]["briefing"]["attributableStateCodes"] == ["DEU"]


# --- the calendar feed -------------------------------------------------------------------


async def test_calendar_feed_for_an_authenticated_participant(
    mq: GraphQLClient, http: httpx.AsyncClient, who: Actors
) -> None:
    from icalendar import Calendar

    mid = await new_meeting(mq, who)
    await intend(mq, who, mid, ["DEU"])
    got = await http.get("/meetings/calendar.ics", headers={"Authorization": f"Bearer {who.deu}"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/calendar")
    events = {str(e["SUMMARY"]): e for e in Calendar.from_ical(got.content).walk("VEVENT")}
    meeting = events["Diversion Information Exchange Forum meeting"]
    assert meeting.decoded("DTSTART") == START
    assert meeting.decoded("DTEND") == END + timedelta(days=1)
    assert str(meeting["LOCATION"]) == "Geneva, CICG"
    response_due = events["DIEF: response to a presentation involving your State due (rule 12)"]
    assert response_due.decoded("DTSTART") == days_before(15)
    assert "Rifles" not in got.text  # no agenda content in the feed
    assert (await http.get("/meetings/calendar.ics")).status_code == 401
    usa = await http.get("/meetings/calendar.ics", headers={"Authorization": f"Bearer {who.usa}"})
    assert usa.status_code == 403


# --- thin events -------------------------------------------------------------------------


async def test_events_carry_no_agenda_content_no_involved_states_and_no_names(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    from services.common import mongo

    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, ["DEU"])
    await add_item(mq, who, mid, title="Secret trafficking route")
    clock.day(days_before(30))
    ok(await mq(NOTIFY, {"id": pid}, who.fra))
    ok(await mq(DISTRIBUTE, {"id": mid}, who.sec))
    outbox = await run_sync(lambda: list(mongo.database("meetings")["outbox"].find()))
    subjects = {o["subject"] for o in outbox}
    assert {
        "dief.meetings.meeting.scheduled",
        "dief.meetings.notification.sent",
        "dief.meetings.agenda.distributed",
    } <= subjects
    payloads = b" ".join(o["payload"] for o in outbox)
    for forbidden in (b"DEU", b"FRA", b"Secret", b"Rifles", b"Geneva", b"President"):
        assert forbidden not in payloads


# --- rule 14: every confidential read, every outsider -----------------------------------

CONFIDENTIAL_READS = {
    "meeting": "query($m: ID!) { meeting(id: $m) { venue } }",
    "meetings": "{ meetings { totalCount edges { node { venue } } } }",
    "presentation": "query($p: ID!) { presentation(id: $p) { title } }",
    "agendaItem": "query($i: ID!) { agendaItem(id: $i) { title } }",
    "expertProposal": "query($e: ID!) { expertProposal(id: $e) { purpose } }",
    "statePresentations": """{ _entities(representations: [{__typename: "State", code: "FRA"}])
      { ... on State { presentations { totalCount } } } }""",
    "entityMeeting": """query($m: _Any!) { _entities(representations: [$m])
      { ... on Meeting { venue } } }""",
}


async def test_rule_14_outsiders_are_refused_on_every_confidential_read(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    """A non-party State, an expert outside their item and an anonymous caller get
    nothing on any read; a participant gets each. So does a token that claims
    ``participant: true`` for a State the service's register never heard of (a forged or
    mis-issued token sent to the subgraph directly): the register is the only source."""
    assert await run_sync(PARTICIPANTS.known, "USA") is None  # seeded a non-party
    forged = who.token(sub="usa-forged", state="USA", participant=True)
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, ["DEU"])
    ok(await mq(NOTIFY, {"id": pid}, who.fra))
    item = ok(await mq(SCHEDULE_PRES, {"id": pid}, who.sec))["presentationSchedule"]
    clock.day(days_before(40))
    propose = """mutation($i: ExpertProposalCreateInput!) { expertProposalCreate(input: $i) {
      expertProposal { id } } }"""
    i = {
        "presentationId": pid,
        "expertName": "Dr X",
        "expertSubject": "someone-else",
        "purpose": "Tracing.",
    }
    eid = ok(await mq(propose, {"i": i}, who.fra))["expertProposalCreate"]["expertProposal"]["id"]
    ids = {"m": mid, "p": pid, "i": item["agendaItem"]["id"], "e": eid}
    for read, query in CONFIDENTIAL_READS.items():
        used = {k: v for k, v in ids.items() if f"${k}" in query}
        if read == "entityMeeting":
            used = {"m": {"__typename": "Meeting", "id": mid}}
        assert ok(await mq(query, used, who.isr)), read  # a participant reads it
        for outsider, token, code in (
            ("non-party", who.usa, "FORBIDDEN"),
            ("forged participant", forged, "FORBIDDEN"),
            ("expert", who.expert, "FORBIDDEN"),
            ("anonymous", None, "UNAUTHENTICATED"),
        ):
            result = await mq(query, used, token)
            assert refusal(result)["code"] == code, (read, outsider)
            assert "Rifles" not in str(result) and "Geneva" not in str(result), (read, outsider)
    # nor may it act as a participant: no presentation, no delegate of its own
    i = {"meetingId": mid, "stateCode": "USA", "title": "Forged", "involvedStateCodes": []}
    assert refusal(await mq(INTEND, {"i": i}, forged))["code"] == "FORBIDDEN"
