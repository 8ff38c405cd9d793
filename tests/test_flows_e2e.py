"""Flows across services, end to end: every service and the gateway as its own process,
real MongoDB-wire server and real NATS JetStream in between.

1. A State's status change (contacts) reaches the gateway's participant cache and the
   meetings service's register of participants.
2. A case shared in the cases service and linked to a presentation of the meetings
   service shows up on that presentation, through the gateway (``Presentation.case``).
3. A meeting moved recomputes its timeline, and the meetings scheduler announces
   ``dief.meetings.deadline.approaching`` at the new dates.

The meetings service runs on the wall clock; its scheduler runs every half second and
announces items due within 100 days (``DIEF_MEETINGS_REMINDER_DAYS``), so a meeting ten
months away has nothing to announce and one two months away has every item to announce.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.common.ids import to_global_id
from services.dev.servers import ServerProcess
from tests.events_support import eventually, reader
from tests.flows_support import FlowStack, data_of, pull, refusal, start_stack

pytestmark = pytest.mark.slow

REMINDER_DAYS = 100
SCHEDULER_SECONDS = 0.5

SESSION = "mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { session { id } } }"
SCHEDULE = """mutation($i: MeetingScheduleInput!) {
  meetingSchedule(input: $i) { meeting { id startDate } } }"""
MOVE = """mutation($i: MeetingMoveInput!) {
  meetingMove(input: $i) { meeting { id startDate endDate } } }"""
TIMELINE = """query($id: ID!) {
  meeting(id: $id) { startDate timeline { kind dueOn status rule } } }"""
STATUS = """mutation($i: StateStatusChangeInput!) {
  stateStatusChange(input: $i) { state { code status participant } } }"""
DIRECTORY = "{ states(first: 1, filter: {participant: true}) { totalCount } }"
MEETINGS_OF = "query($year: Int) { meetings(year: $year) { totalCount } }"
REGISTER = """mutation($i: DelegateRegisterInput!) {
  delegateRegister(input: $i) { registration { stateCode name } } }"""
REGISTRATIONS = """query($id: ID!) {
  meeting(id: $id) { registrations { edges { node { stateCode name } } } } }"""
INTEND = """mutation($i: PresentationIntendInput!) {
  presentationIntend(input: $i) { presentation { id } } }"""
CASE_CREATE = """mutation($i: CaseFieldsInput!) { caseCreate(input: $i) { case { id } } }"""
CASE_SHARE = "mutation($id: ID!) { caseShare(id: $id) { case { status } } }"
CASE_LINK = """mutation($id: ID!, $p: ID!) {
  caseLinkPresentation(id: $id, presentationId: $p) { case { presentationIds } } }"""
PRESENTATION = """query($id: ID!) {
  presentation(id: $id) {
    id title presentingStateCode
    case { id title status provider { code name } }
  }
}"""

# Days before the first day, for every item of a meeting's timeline (Terms of Reference).
DAYS_BEFORE = {
    "INVITATION": 50,
    "DRAFT_AGENDA": 30,
    "INVOLVED_STATE_NOTIFICATIONS": 30,
    "EXPERT_PROPOSALS": 30,
    "OBJECTION_RESOLUTION": 20,
    "INVOLVED_STATE_RESPONSES": 15,
}


@pytest.fixture(scope="module")
def stack(mongodb: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowStack]:
    running = start_stack(
        tmp_path_factory.mktemp("flows"),
        mongodb.port,
        {
            "DIEF_MEETINGS_SCHEDULER_SECONDS": str(SCHEDULER_SECONDS),
            "DIEF_MEETINGS_REMINDER_DAYS": json.dumps([REMINDER_DAYS]),
        },
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def secretariat(stack: FlowStack) -> str:
    return stack.token("sec-1", roles=("secretariat",))


async def new_meeting(
    stack: FlowStack, secretariat: str, start: date, session: tuple[date, date] | None = None
) -> str:
    first, last = session or (start - timedelta(days=3), start + timedelta(days=3))
    created = data_of(
        await stack.gateway(
            SESSION,
            {
                "i": {
                    "kind": "PREPARATORY_MEETING",
                    "name": f"Preparatory meetings {first.isoformat()}",
                    "startDate": first.isoformat(),
                    "endDate": last.isoformat(),
                }
            },
            secretariat,
        )
    )
    scheduled = data_of(
        await stack.gateway(
            SCHEDULE,
            {
                "i": {
                    "sessionId": created["sessionCreate"]["session"]["id"],
                    "startDate": start.isoformat(),
                    "endDate": (start + timedelta(days=1)).isoformat(),
                    "venue": "Geneva, CICG",
                    "decidedBy": "President of the CSP",
                    "decidedOn": datetime.now(UTC).date().isoformat(),
                }
            },
            secretariat,
        )
    )
    return scheduled["meetingSchedule"]["meeting"]["id"]


# --- 1. a status change reaches the gateway and the meetings register -----------------------


async def test_a_status_change_reaches_the_gateway_cache_and_the_meetings_register(
    stack: FlowStack, secretariat: str
) -> None:
    year = datetime.now(UTC).year + 4
    meeting_id = await new_meeting(stack, secretariat, date(year, 3, 2))
    # A Mexican delegate calls through the gateway, which takes participation from its
    # registry; ``signed_before`` is a principal token the gateway signed while Mexico was
    # a State Party, presented to the meetings service directly after the change.
    caller = stack.token("mex-1", state="MEX")
    signed_before = stack.token("mex-1", state="MEX", participant=True)

    async def register(name: str) -> dict[str, Any]:
        variables = {
            "i": {"meetingId": meeting_id, "stateCode": "MEX", "name": name, "function": "CUSTOMS"}
        }
        return await stack.call("meetings", REGISTER, variables, signed_before)

    registry = data_of(await stack.call("contacts", DIRECTORY, token=secretariat))
    participants = registry["states"]["totalCount"]
    assert participants > 1
    assert await stack.metric("dief_gateway_participant_states") == participants
    directory = data_of(await stack.gateway(DIRECTORY, token=caller))
    assert directory == {"states": {"totalCount": participants}}
    assert data_of(await stack.gateway(MEETINGS_OF, {"year": year}, caller)) == {
        "meetings": {"totalCount": 1}
    }
    assert data_of(await register("Ana Before")) == {
        "delegateRegister": {"registration": {"stateCode": "MEX", "name": "Ana Before"}}
    }

    withdrawn = await stack.gateway(
        STATUS,
        {"i": {"code": "MEX", "status": "NON_PARTY", "withdrawalDate": "2026-01-15"}},
        secretariat,
    )
    assert data_of(withdrawn)["stateStatusChange"]["state"] == {
        "code": "MEX",
        "status": "NON_PARTY",
        "participant": False,
    }

    # The gateway's cache: one participant fewer, and the directory refused by the
    # gateway itself (its policy check, before any subgraph call).
    await eventually(lambda: _metric_is(stack, participants - 1), timeout=20, what="gateway cache")
    assert refusal(await stack.gateway(DIRECTORY, token=caller)) == {
        "message": "MEX is not a participant (State Party or signatory) and may not read the "
        "contact directory.",
        "code": "FORBIDDEN",
    }
    via_gateway = refusal(await stack.gateway(MEETINGS_OF, {"year": year}, caller))
    assert (via_gateway["code"], via_gateway["rule"]) == ("FORBIDDEN", 14)

    # The meetings register: a token that still says "participant" no longer opens the
    # meetings, and Mexico can no longer register delegates (rule 6).
    async def meetings_refuse_stale_token() -> dict[str, Any] | None:
        result = await stack.call("meetings", MEETINGS_OF, {"year": year}, signed_before)
        return refusal(result) if result.get("errors") else None

    refused = await eventually(meetings_refuse_stale_token, timeout=20, what="meetings register")
    assert refused == {
        "message": "MEX is not a participant (State Party or signatory); Forum meetings are "
        "confidential to participants.",
        "code": "FORBIDDEN",
        "rule": 14,
    }
    assert refusal(await register("Ana Withdrawn")) == {
        "message": "MEX is not a State Party or signatory State and cannot attend.",
        "code": "FORBIDDEN",
        "rule": 6,
    }

    rejoined = await stack.gateway(
        STATUS,
        {
            "i": {
                "code": "MEX",
                "status": "STATE_PARTY",
                "signatureDate": "2013-06-03",
                "ratificationDate": "2013-09-25",
                "entryIntoForceDate": "2014-12-24",
            }
        },
        secretariat,
    )
    assert data_of(rejoined)["stateStatusChange"]["state"]["participant"] is True

    await eventually(lambda: _metric_is(stack, participants), timeout=20, what="gateway cache back")
    assert data_of(await stack.gateway(DIRECTORY, token=caller)) == {
        "states": {"totalCount": participants}
    }

    async def meetings_admit_again() -> dict[str, Any] | None:
        result = await stack.call("meetings", MEETINGS_OF, {"year": year}, signed_before)
        return None if result.get("errors") else result["data"]

    assert await eventually(meetings_admit_again, timeout=20, what="register back") == {
        "meetings": {"totalCount": 1}
    }
    assert data_of(await stack.gateway(MEETINGS_OF, {"year": year}, caller)) == {
        "meetings": {"totalCount": 1}
    }
    assert data_of(await register("Ana After")) == {
        "delegateRegister": {"registration": {"stateCode": "MEX", "name": "Ana After"}}
    }
    registrations = data_of(await stack.gateway(REGISTRATIONS, {"id": meeting_id}, secretariat))
    assert [e["node"] for e in registrations["meeting"]["registrations"]["edges"]] == [
        {"stateCode": "MEX", "name": "Ana Before"},
        {"stateCode": "MEX", "name": "Ana After"},
    ]


async def _metric_is(stack: FlowStack, value: int) -> bool:
    return await stack.metric("dief_gateway_participant_states") == value


# --- 2. a case linked to a presentation shows on the presentation ------------------------


async def test_a_shared_case_linked_to_a_presentation_shows_on_it_through_the_gateway(
    stack: FlowStack, secretariat: str
) -> None:
    year = datetime.now(UTC).year + 3
    meeting_id = await new_meeting(stack, secretariat, date(year, 6, 1))
    fra = stack.token("fra-1", state="FRA")
    deu = stack.token("deu-1", state="DEU", roles=("enforcement_officer",))
    ita = stack.token("ita-1", state="ITA")

    intended = await stack.gateway(
        INTEND,
        {"i": {"meetingId": meeting_id, "stateCode": "FRA", "title": "Rifles via Malta"}},
        fra,
    )
    presentation_id = data_of(intended)["presentationIntend"]["presentation"]["id"]
    case_fields = {
        "title": "Rifles diverted through Malta",
        "summary": "Rifles exported to an authorised end user were re-exported.",
        "categories": ["TRAFFICKING_ROUTES"],
        "audience": {"kind": "NAMED_STATES", "states": ["DEU"]},
    }
    created = await stack.gateway(CASE_CREATE, {"i": case_fields}, fra)
    case_id = data_of(created)["caseCreate"]["case"]["id"]
    shared = await stack.gateway(CASE_SHARE, {"id": case_id}, fra)
    assert data_of(shared) == {"caseShare": {"case": {"status": "SHARED"}}}

    unlinked = data_of(await stack.gateway(PRESENTATION, {"id": presentation_id}, deu))
    assert unlinked["presentation"]["case"] is None

    linked = await stack.gateway(CASE_LINK, {"id": case_id, "p": presentation_id}, fra)
    assert data_of(linked) == {
        "caseLinkPresentation": {"case": {"presentationIds": [presentation_id]}}
    }

    expected_case = {
        "id": case_id,
        "title": "Rifles diverted through Malta",
        "status": "SHARED",
        "provider": {"code": "FRA", "name": "France"},
    }
    for reader_token in (deu, fra):
        answer = data_of(await stack.gateway(PRESENTATION, {"id": presentation_id}, reader_token))
        assert answer == {
            "presentation": {
                "id": presentation_id,
                "title": "Rifles via Malta",
                "presentingStateCode": "FRA",
                "case": expected_case,
            }
        }
    # rule 13: only the presenting State links a case to its presentation. Germany can link
    # none of its cases to France's presentation, nor create one linked to it.
    deu_delegate = stack.token("deu-2", state="DEU")
    deu_fields = {**case_fields, "title": "A German case", "audience": {"kind": "ALL_PARTICIPANTS"}}
    made = data_of(await stack.gateway(CASE_CREATE, {"i": deu_fields}, deu_delegate))
    deu_case = made["caseCreate"]["case"]["id"]
    for attempt in (
        await stack.gateway(CASE_LINK, {"id": deu_case, "p": presentation_id}, deu_delegate),
        await stack.gateway(
            CASE_CREATE, {"i": {**deu_fields, "presentationId": presentation_id}}, deu_delegate
        ),
    ):
        [error] = attempt["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN", attempt
        assert error["extensions"]["rule"] == 13, attempt
    unknown = to_global_id("Presentation", "6650f0f0f0f0f0f0f0f0f0f0")
    missing = await stack.gateway(CASE_LINK, {"id": case_id, "p": unknown}, fra)
    assert [e["extensions"]["code"] for e in missing["errors"]] == ["NOT_FOUND"], missing
    answer = data_of(await stack.gateway(PRESENTATION, {"id": presentation_id}, deu))
    assert answer["presentation"]["case"] == expected_case  # still France's own
    # Italy takes part in the meeting but the case is not shared with it: the presentation
    # answers, its case does not, and nothing says a case is linked.
    answer = await stack.gateway(PRESENTATION, {"id": presentation_id}, ita)
    assert answer == {
        "data": {
            "presentation": {
                "id": presentation_id,
                "title": "Rifles via Malta",
                "presentingStateCode": "FRA",
                "case": None,
            }
        }
    }


# --- 3. a moved meeting: new deadlines, announced at the new dates -----------------------


async def test_a_moved_meeting_recomputes_its_deadlines_and_announces_them_at_the_new_dates(
    stack: FlowStack, secretariat: str
) -> None:
    today = datetime.now(UTC).date()
    first_start, new_start = today + timedelta(days=300), today + timedelta(days=60)
    session = (today, today + timedelta(days=400))
    nc, js = await stack.jetstream()
    sub, durable = await reader(js, "dief.meetings.>")
    try:
        meeting_id = await new_meeting(stack, secretariat, first_start, session)
        before = data_of(await stack.gateway(TIMELINE, {"id": meeting_id}, secretariat))
        assert before["meeting"]["startDate"] == first_start.isoformat()
        assert _due_dates(before) == _expected_due_dates(first_start)

        moved = await stack.gateway(
            MOVE,
            {
                "i": {
                    "id": meeting_id,
                    "startDate": new_start.isoformat(),
                    "endDate": (new_start + timedelta(days=1)).isoformat(),
                }
            },
            secretariat,
        )
        assert data_of(moved)["meetingMove"]["meeting"]["startDate"] == new_start.isoformat()
        after = data_of(await stack.gateway(TIMELINE, {"id": meeting_id}, secretariat))
        assert after["meeting"]["startDate"] == new_start.isoformat()
        assert _due_dates(after) == _expected_due_dates(new_start)
        assert {item["status"] for item in after["meeting"]["timeline"]} == {"PENDING"}

        seen: list[dict[str, Any]] = []

        async def every_item_announced() -> bool:
            seen.extend(e for e in await pull(sub) if e["data"].get("meetingId") == meeting_id)
            return len(_announcements(seen)) >= len(DAYS_BEFORE)

        await eventually(every_item_announced, timeout=30, what="deadline.approaching")
        # A few more scheduler rounds: each item is announced once, not once per round.
        settle_until = time.monotonic() + 4 * SCHEDULER_SECONDS
        while time.monotonic() < settle_until:
            seen.extend(e for e in await pull(sub) if e["data"].get("meetingId") == meeting_id)
        moved_events = [e for e in seen if e["type"] == "dief.meetings.meeting.moved"]
        assert [e["data"] for e in moved_events] == [
            {
                "meetingId": meeting_id,
                "startDate": new_start.isoformat(),
                "endDate": (new_start + timedelta(days=1)).isoformat(),
                "previousStartDate": first_start.isoformat(),
            }
        ]
        announced = sorted(
            (
                e["data"]["item"],
                e["data"]["dueOn"],
                e["data"]["daysLeft"],
                # days left counted from the day the scheduler announced it
                (date.fromisoformat(e["data"]["dueOn"]) - _day_of(e["time"])).days,
            )
            for e in _announcements(seen)
        )
        assert [(kind, due) for kind, due, _, _ in announced] == sorted(
            (kind, due.isoformat()) for kind, due in _expected_due_dates(new_start).items()
        )
        assert all(left == counted for _, _, left, counted in announced), announced
        assert all(0 <= left <= REMINDER_DAYS for _, _, left, _ in announced), announced
    finally:
        await js.delete_consumer("DIEF", durable)
        await nc.close()


def _due_dates(answer: dict[str, Any]) -> dict[str, date]:
    return {i["kind"]: date.fromisoformat(i["dueOn"]) for i in answer["meeting"]["timeline"]}


def _expected_due_dates(start: date) -> dict[str, date]:
    return {kind: start - timedelta(days=days) for kind, days in DAYS_BEFORE.items()}


def _announcements(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "dief.meetings.deadline.approaching"]


def _day_of(stamp: str) -> date:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).date()
