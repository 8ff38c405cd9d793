"""Rule 8: non-state experts: the silence procedure closes by itself (also across a
restart), objections, consultation, referral and decision; an approved expert sees only
their presentation. And the participant register fed by the contacts service's events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from services.common.mongo import run_sync
from services.common.settings import Settings
from tests.conftest import GraphQLClient
from tests.events_support import eventually, outbox_published
from tests.meetings_support import (
    ATTACH,
    MEETING,
    SCHEDULE_PRES,
    Actors,
    Clock,
    build_meetings,
    days_before,
    intend,
    new_meeting,
    ok,
    pdf,
    refusal,
    register_caught_up,
)

pytest_plugins = ["tests.meetings_support"]

PROPOSE = """mutation($i: ExpertProposalCreateInput!) { expertProposalCreate(input: $i) {
  expertProposal { id status silenceEndsOn approved } } }"""
OBJECT = """mutation($id: ID!) { expertProposalObject(input: {id: $id}) {
  expertProposal { status objections { stateCode } } } }"""
CONSULT = """mutation($id: ID!) { expertProposalConsult(input: {id: $id}) {
  expertProposal { consultations { stateCode } } } }"""
DECIDE = """mutation($i: ExpertProposalDecideInput!) { expertProposalDecide(input: $i) {
  expertProposal { status decision approved } } }"""
STATUS = """query($id: ID!) { expertProposal(id: $id) { status approved } }"""


async def propose(mq: GraphQLClient, who: Actors, pid: str) -> dict[str, Any]:
    i = {
        "presentationId": pid,
        "expertName": "Dr Jane Expert",
        "expertSubject": "expert-jane",
        "purpose": "Forensic tracing of the rifles.",
    }
    return await mq(PROPOSE, {"i": i}, who.fra)


async def circulated(mq: GraphQLClient, who: Actors, clock: Clock) -> dict[str, Any]:
    """A proposal made 40 days before a new meeting, for a presentation of FRA's."""
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, [])
    clock.day(days_before(40))
    return ok(await propose(mq, who, pid))["expertProposalCreate"]["expertProposal"]


async def test_rule_8_proposal_on_day_30_opens_silence_day_29_is_refused(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, [])
    clock.day(days_before(29))
    late = refusal(await propose(mq, who, pid))
    assert late["code"] == "DEADLINE_PASSED" and late["rule"] == 8
    clock.day(days_before(30))
    proposal = ok(await propose(mq, who, pid))["expertProposalCreate"]["expertProposal"]
    assert proposal["status"] == "SILENCE"
    assert proposal["silenceEndsOn"] == days_before(25).isoformat()
    i = {"presentationId": pid, "expertName": "X", "expertSubject": "x", "purpose": "y"}
    usa = refusal(await mq(PROPOSE, {"i": i}, who.usa))
    assert usa["code"] == "FORBIDDEN"


async def test_rule_8_silence_procedure_closes_by_itself_across_a_restart(
    meetings_settings: Settings, contacts_app: Any, clock: Clock, who: Actors
) -> None:
    from tests.meetings_support import register_caught_up, seed_and_announce

    await seed_and_announce()
    app = build_meetings(meetings_settings, clock, contacts_app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client,
    ):
        await register_caught_up(meetings_settings)
        gql = GraphQLClient(client)
        mid = await new_meeting(gql, who)
        pid = await intend(gql, who, mid, [])
        clock.day(days_before(40))
        made = ok(await propose(gql, who, pid))["expertProposalCreate"]["expertProposal"]
    # the service is down while the five days pass
    clock.day(days_before(34))
    app = build_meetings(meetings_settings, clock, contacts_app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client,
    ):
        gql = GraphQLClient(client)

        async def approved() -> bool:
            got = ok(await gql(STATUS, {"id": made["id"]}, who.deu))["expertProposal"]
            return got["status"] == "APPROVED" and got["approved"]

        await eventually(approved, what="the silence procedure to close by itself")


async def test_rule_8_silence_still_open_on_its_fifth_day(
    mq: GraphQLClient, who: Actors, clock: Clock, meetings_app: Any
) -> None:
    made = await circulated(mq, who, clock)
    scheduler = meetings_app.state.meetings.scheduler
    await run_sync(scheduler.round, clock.now + timedelta(days=5))
    assert ok(await mq(STATUS, {"id": made["id"]}, who.deu))["expertProposal"]["status"] == (
        "SILENCE"
    )
    clock.day(days_before(35))
    ok(await mq(OBJECT, {"id": made["id"]}, who.deu))  # the fifth day: still in time


async def test_rule_8_objection_consultation_referral_and_decision(
    mq: GraphQLClient, who: Actors, clock: Clock, meetings_app: Any
) -> None:
    made = await circulated(mq, who, clock)
    own = refusal(await mq(OBJECT, {"id": made["id"]}, who.fra))
    assert own["code"] == "CONFLICT" and own["rule"] == 8
    non_party = refusal(await mq(OBJECT, {"id": made["id"]}, who.usa))
    assert non_party["code"] == "FORBIDDEN"
    objected = ok(await mq(OBJECT, {"id": made["id"]}, who.deu))["expertProposalObject"]
    assert objected["expertProposal"] == {
        "status": "OBJECTED",
        "objections": [{"stateCode": "DEU"}],
    }
    ok(await mq(CONSULT, {"id": made["id"]}, who.deu))
    ok(await mq(CONSULT, {"id": made["id"]}, who.fra))
    outsider = refusal(await mq(CONSULT, {"id": made["id"]}, who.isr))
    assert outsider["code"] == "FORBIDDEN" and outsider["rule"] == 8
    early = refusal(
        await mq(
            DECIDE,
            {"i": {"id": made["id"], "decision": "APPROVED", "decidedOn": "2027-06-01"}},
            who.chair,
        )
    )
    assert early["code"] == "CONFLICT" and early["rule"] == 8
    scheduler = meetings_app.state.meetings.scheduler
    await run_sync(scheduler.round, clock.now + timedelta(days=19))  # day 21: not yet
    assert ok(await mq(STATUS, {"id": made["id"]}, who.deu))["expertProposal"]["status"] == (
        "OBJECTED"
    )
    await run_sync(scheduler.round, clock.now + timedelta(days=20))  # day 20: referred
    assert ok(await mq(STATUS, {"id": made["id"]}, who.deu))["expertProposal"]["status"] == (
        "REFERRED"
    )
    by_state = refusal(
        await mq(
            DECIDE,
            {"i": {"id": made["id"], "decision": "APPROVED", "decidedOn": "2027-06-01"}},
            who.fra,
        )
    )
    assert by_state["code"] == "FORBIDDEN" and by_state["rule"] == 8
    decided = ok(
        await mq(
            DECIDE,
            {"i": {"id": made["id"], "decision": "REJECTED", "decidedOn": "2027-06-01"}},
            who.chair,
        )
    )
    assert decided["expertProposalDecide"]["expertProposal"] == {
        "status": "DECIDED",
        "decision": "REJECTED",
        "approved": False,
    }


async def test_rule_8_approved_expert_sees_only_their_presentation_and_its_documents(
    mq: GraphQLClient, http: httpx.AsyncClient, who: Actors, clock: Clock, meetings_app: Any
) -> None:
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, [])
    other = await intend(mq, who, mid, [])
    item = ok(await mq(SCHEDULE_PRES, {"id": pid}, who.sec))["presentationSchedule"]
    item_id = item["agendaItem"]["id"]
    i = {
        "agendaItemId": item_id,
        "filename": "tracing.pdf",
        "mediaType": "application/pdf",
        "language": "en",
        "contentBase64": pdf(),
    }
    doc = ok(await mq(ATTACH, {"i": i}, who.fra))["documentAttach"]["document"]
    q = """query($id: ID!) { presentation(id: $id) { title documents { id } } }"""
    before = refusal(await mq(q, {"id": pid}, who.expert))
    assert before["code"] == "FORBIDDEN" and before["rule"] == 8
    clock.day(days_before(40))
    ok(await propose(mq, who, pid))
    await run_sync(meetings_app.state.meetings.scheduler.round, clock.now + timedelta(days=6))
    seen = ok(await mq(q, {"id": pid}, who.expert))["presentation"]
    assert seen["documents"] == [{"id": doc["id"]}]
    got = await http.get(doc["downloadPath"], headers={"Authorization": f"Bearer {who.expert}"})
    assert got.status_code == 200
    assert refusal(await mq(q, {"id": other}, who.expert))["rule"] == 8
    assert refusal(await mq(MEETING, {"id": mid}, who.expert))["rule"] == 8


async def _a_state_of_its_own(who: Actors, code: str, party: bool, settings: Settings) -> str:
    """A State no other test uses becomes a State Party (or a signatory): its event reaches
    the shared stream, where nobody else reads that State, and the meetings register has
    learnt it. The token of its delegate."""
    from datetime import date

    from services.contacts import handlers as contacts
    from services.contacts.domain import AttStatus, StatusDates
    from tests.meetings_support import SECRETARIAT

    signed = date(2013, 7, 2)
    change = contacts.StatusChangeInput(
        code=code,
        status=AttStatus.STATE_PARTY if party else AttStatus.SIGNATORY,
        dates=StatusDates(signature=signed, ratification=signed if party else None),
        note="Ratified." if party else "Signed.",
    )
    await run_sync(contacts.change_state_status, SECRETARIAT, change)
    await outbox_published("contacts")
    await register_caught_up(settings)
    return who.token(sub=f"{code.lower()}1", state=code)


async def test_participant_register_follows_the_contacts_status_events(
    mq: GraphQLClient, who: Actors, contacts_app: Any, meetings_settings: Settings
) -> None:
    """Rules 1 and 6: a State that withdraws loses access here once the event arrives.
    San Marino, a State of this test's own: its events reach the shared stream, where a
    later test's consumer may still be handed them (ISR is every other test's signatory)."""
    from datetime import date

    from services.contacts import handlers as contacts
    from services.contacts.domain import AttStatus, StatusDates
    from tests.meetings_support import SECRETARIAT

    smr = await _a_state_of_its_own(who, "SMR", party=False, settings=meetings_settings)
    mid = await new_meeting(mq, who)
    assert ok(await mq(MEETING, {"id": mid}, smr))["meeting"]["id"] == mid
    change = contacts.StatusChangeInput(
        code="SMR",
        status=AttStatus.NON_PARTY,
        dates=StatusDates(signature=date(2013, 7, 2), withdrawal=date(2019, 7, 18)),
        note="Withdrew its signature.",
    )
    await run_sync(contacts.change_state_status, SECRETARIAT, change)
    contacts_app.state.runtime.wake_relay()

    async def refused() -> bool:
        result = await mq(MEETING, {"id": mid}, smr)  # the token still says participant
        return bool(result.get("errors")) and result["errors"][0]["extensions"]["rule"] == 14

    await eventually(refused, timeout=30, what="SMR to lose access to meetings")


RESOLVE = """mutation($id: ID!) { expertProposalResolve(input: {id: $id}) {
  expertProposal { status approved } } }"""


async def test_rule_8_objection_withdrawn_after_consultation_resolves_the_proposal(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    mid = await new_meeting(mq, who)
    pid = await intend(mq, who, mid, [])
    clock.day(days_before(40))
    made = ok(await propose(mq, who, pid))["expertProposalCreate"]["expertProposal"]
    timeline = """query($id: ID!) { meeting(id: $id) { timeline { kind dueOn status } } }"""
    items = ok(await mq(timeline, {"id": mid}, who.fra))["meeting"]["timeline"]
    silence = {i["kind"]: i for i in items}["SILENCE_PROCEDURE_END"]
    assert silence == {
        "kind": "SILENCE_PROCEDURE_END",
        "dueOn": days_before(35).isoformat(),
        "status": "PENDING",
    }
    early = refusal(await mq(RESOLVE, {"id": made["id"]}, who.deu))
    assert early["code"] == "CONFLICT" and early["rule"] == 8
    ok(await mq(OBJECT, {"id": made["id"]}, who.deu))
    not_objecting = refusal(await mq(RESOLVE, {"id": made["id"]}, who.isr))
    assert not_objecting["code"] == "FORBIDDEN" and not_objecting["rule"] == 8
    resolved = ok(await mq(RESOLVE, {"id": made["id"]}, who.deu))["expertProposalResolve"]
    assert resolved["expertProposal"] == {"status": "RESOLVED", "approved": True}


async def test_rule_8_with_two_objecting_states_both_must_withdraw(
    mq: GraphQLClient, who: Actors, clock: Clock, meetings_settings: Settings
) -> None:
    isl = await _a_state_of_its_own(who, "ISL", party=True, settings=meetings_settings)
    made = await circulated(mq, who, clock)
    ok(await mq(OBJECT, {"id": made["id"]}, who.deu))
    ok(await mq(OBJECT, {"id": made["id"]}, isl))
    one = ok(await mq(RESOLVE, {"id": made["id"]}, who.deu))["expertProposalResolve"]
    assert one["expertProposal"] == {"status": "OBJECTED", "approved": False}
    both = ok(await mq(RESOLVE, {"id": made["id"]}, isl))["expertProposalResolve"]
    assert both["expertProposal"] == {"status": "RESOLVED", "approved": True}


async def test_rule_8_a_signatory_state_is_told_of_the_proposal_but_may_not_object(
    mq: GraphQLClient, who: Actors, clock: Clock, meetings_settings: Settings
) -> None:
    # Andorra, a signatory of its own here: ISR's participation is another test's to change
    signatory = await _a_state_of_its_own(who, "AND", party=False, settings=meetings_settings)
    made = await circulated(mq, who, clock)
    seen = ok(await mq(STATUS, {"id": made["id"]}, signatory))["expertProposal"]
    assert seen == {"status": "SILENCE", "approved": False}  # it takes part and sees it
    result = await mq(OBJECT, {"id": made["id"]}, signatory)
    refused = refusal(result)
    assert refused["code"] == "FORBIDDEN" and refused["rule"] == 8
    message = result["errors"][0]["message"]
    assert "Rule 8" in message and "AND is not a State Party" in message
    after = ok(await mq(STATUS, {"id": made["id"]}, who.deu))["expertProposal"]
    assert after == {"status": "SILENCE", "approved": False}  # nothing was recorded


async def test_rule_8_with_the_directory_away_the_last_word_on_each_state_holds(
    mq: GraphQLClient, who: Actors, clock: Clock, meetings_settings: Settings, contacts_app: Any
) -> None:
    """The directory named every participant State when the proposal was circulated; with
    it away afterwards, DEU (a State Party) still objects and ISR (a signatory) still may
    not; a State never named is refused for now (UNAVAILABLE), nothing recorded."""
    from services.dev.servers import free_port
    from services.meetings.app import build

    made = await circulated(mq, who, clock)
    away = meetings_settings.model_copy(
        update={"meetings_contacts_url": f"http://127.0.0.1:{free_port()}/graphql"}
    )
    app = build(away, clock=clock)  # the real HTTP client, to a port nobody listens on
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as http,
    ):
        cut_off = GraphQLClient(http)
        never_named = who.token(sub="lie1", state="LIE")  # no test uses LIE
        unknown = refusal(await cut_off(OBJECT, {"id": made["id"]}, never_named))
        assert unknown["code"] == "UNAVAILABLE" and unknown["rule"] == 8
        signatory = refusal(await cut_off(OBJECT, {"id": made["id"]}, who.isr))
        assert signatory["code"] == "FORBIDDEN" and signatory["rule"] == 8
        objected = ok(await cut_off(OBJECT, {"id": made["id"]}, who.deu))["expertProposalObject"]
    assert objected["expertProposal"]["objections"] == [{"stateCode": "DEU"}]
