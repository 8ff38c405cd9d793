"""Rule 12: the Chair changes the running order of the adopted agenda, recorded; a right
of reply stays right after its presentation unless the Chair places it; only what is on
the adopted agenda, each once; nobody else may change it."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.errors import ValidationFailed
from services.meetings.presentations import (
    OrderStep,
    RunningOrderEntry,
    RunningOrderKind,
    arrange,
    follow,
)
from tests.conftest import GraphQLClient
from tests.meetings_support import (
    ADD_ITEM,
    ADOPT,
    DISTRIBUTE,
    NOTIFY,
    Actors,
    Clock,
    days_before,
    intend,
    new_meeting,
    ok,
    refusal,
)

pytest_plugins = ["tests.meetings_support"]

ORDER = """query($id: ID!) { meeting(id: $id) {
  runningOrder { kind agendaItemId stateCode }
  runningOrderChanges { changedBy reason } } }"""
SET = """mutation($i: RunningOrderSetInput!) { runningOrderSet(input: $i) {
  meeting { runningOrder { kind agendaItemId stateCode } } } }"""

IT, P, R = RunningOrderKind.ITEM, RunningOrderKind.PRESENTATION, RunningOrderKind.RIGHT_OF_REPLY
AGENDA = [
    RunningOrderEntry(IT, "t"),
    RunningOrderEntry(P, "a", "pa"),
    RunningOrderEntry(R, "a", "pa", "DEU"),
    RunningOrderEntry(P, "b", "pb"),
    RunningOrderEntry(R, "b", "pb", "DEU"),
    RunningOrderEntry(R, "b", "pb", "ISR"),
]


def _shape(entries: list[RunningOrderEntry]) -> list[tuple[str, str, str | None]]:
    return [(e.kind.value, e.item_id, e.state) for e in entries]


def test_replies_follow_their_presentation_unless_the_chair_places_them() -> None:
    moved = arrange(AGENDA, [OrderStep(P, "b"), OrderStep(IT, "t"), OrderStep(P, "a")])
    assert _shape(moved) == [
        ("PRESENTATION", "b", None),
        ("RIGHT_OF_REPLY", "b", "DEU"),
        ("RIGHT_OF_REPLY", "b", "ISR"),
        ("ITEM", "t", None),
        ("PRESENTATION", "a", None),
        ("RIGHT_OF_REPLY", "a", "DEU"),
    ]
    placed = arrange(
        AGENDA,
        [OrderStep(P, "b"), OrderStep(R, "b", "ISR"), OrderStep(IT, "t"), OrderStep(P, "a")],
    )
    assert _shape(placed)[:4] == [
        ("PRESENTATION", "b", None),
        ("RIGHT_OF_REPLY", "b", "DEU"),  # not placed: right after its presentation
        ("RIGHT_OF_REPLY", "b", "ISR"),
        ("ITEM", "t", None),
    ]
    later = arrange(
        AGENDA,
        [OrderStep(IT, "t"), OrderStep(P, "a"), OrderStep(P, "b"), OrderStep(R, "a", "DEU")],
    )
    assert _shape(later)[-1] == ("RIGHT_OF_REPLY", "a", "DEU")  # the Chair said otherwise


@pytest.mark.parametrize(
    "steps",
    [
        [OrderStep(IT, "t"), OrderStep(P, "a")],  # b is missing
        [OrderStep(IT, "t"), OrderStep(P, "a"), OrderStep(P, "b"), OrderStep(P, "b")],  # twice
        [OrderStep(R, "a", "DEU"), OrderStep(IT, "t"), OrderStep(P, "a"), OrderStep(P, "b")],
        [OrderStep(IT, "t"), OrderStep(P, "a"), OrderStep(P, "b"), OrderStep(R, "a", "ISR")],
        [OrderStep(IT, "t"), OrderStep(P, "a"), OrderStep(P, "b"), OrderStep(IT, "elsewhere")],
        [OrderStep(IT, "a"), OrderStep(IT, "t"), OrderStep(P, "b")],  # a presentation as an item
    ],
)
def test_an_order_that_is_not_the_adopted_agendas_is_refused(steps: list[OrderStep]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        arrange(AGENDA, steps)
    assert refused.value.rule == 12


def test_the_chairs_order_holds_for_what_stays_on_the_agenda() -> None:
    stored = [OrderStep(P, "b"), OrderStep(P, "a"), OrderStep(IT, "t")]
    added = [*AGENDA, RunningOrderEntry(IT, "new")]
    assert _shape(follow(added, stored))[-1] == ("ITEM", "new", None)
    without_b = [e for e in AGENDA if e.item_id != "b"]
    assert _shape(follow(without_b, stored)) == [
        ("PRESENTATION", "a", None),
        ("RIGHT_OF_REPLY", "a", "DEU"),
        ("ITEM", "t", None),
    ]
    assert follow(AGENDA, []) == AGENDA


async def _adopted_meeting(mq: GraphQLClient, who: Actors, clock: Clock) -> tuple[str, list]:
    mid = await new_meeting(mq, who)
    ok(await mq(ADD_ITEM, {"i": {"meetingId": mid, "title": "Trends"}}, who.sec))
    first = await intend(mq, who, mid, ["DEU"])
    second = await intend(mq, who, mid, ["DEU", "ISR"])
    clock.day(days_before(35))
    for pid in (first, second):
        ok(await mq(NOTIFY, {"id": pid}, who.fra))
    ok(await mq(DISTRIBUTE, {"id": mid}, who.sec))
    return mid, [first, second]


def _step(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": entry["kind"],
        "agendaItemId": entry["agendaItemId"],
        **({"stateCode": entry["stateCode"]} if entry["stateCode"] else {}),
    }


async def test_rule_12_only_the_chair_changes_the_running_order_after_adoption_recorded(
    mq: GraphQLClient, who: Actors, clock: Clock, meetings_app: Any
) -> None:
    mid, _ = await _adopted_meeting(mq, who, clock)
    draft = ok(await mq(ORDER, {"id": mid}, who.sec))["meeting"]["runningOrder"]
    early = refusal(await mq(SET, {"i": {"meetingId": mid, "steps": [_step(draft[0])]}}, who.chair))
    assert early["code"] == "CONFLICT" and early["rule"] == 10
    ok(await mq(ADOPT, {"id": mid}, who.chair))
    adopted = ok(await mq(ORDER, {"id": mid}, who.sec))["meeting"]["runningOrder"]
    assert [(e["kind"], e["stateCode"]) for e in adopted] == [
        ("ITEM", None),
        ("PRESENTATION", None),
        ("RIGHT_OF_REPLY", "DEU"),
        ("PRESENTATION", None),
        ("RIGHT_OF_REPLY", "DEU"),
        ("RIGHT_OF_REPLY", "ISR"),
    ]
    trends, first, first_reply, second = adopted[0], adopted[1], adopted[2], adopted[3]
    swapped = {
        "meetingId": mid,
        "steps": [_step(second), _step(trends), _step(first)],
        "reason": "FRA asked to present its second case first.",
    }
    for intruder in (who.fra, who.deu, who.sec, who.expert, None):
        attack = refusal(await mq(SET, {"i": swapped}, intruder))
        assert attack["code"] in ({"FORBIDDEN"} if intruder else {"UNAUTHENTICATED"}), attack
    assert ok(await mq(ORDER, {"id": mid}, who.sec))["meeting"]["runningOrder"] == adopted

    changed = ok(await mq(SET, {"i": swapped}, who.chair))["runningOrderSet"]["meeting"]
    assert changed["runningOrder"] == [
        adopted[3],
        adopted[4],
        adopted[5],  # the replies moved with their presentation
        adopted[0],
        adopted[1],
        adopted[2],
    ]
    # The Chair holds one reply over until after the item; a bad order changes nothing.
    held = {"meetingId": mid, "steps": [_step(first), _step(trends), _step(first_reply)]}
    held["steps"].append(_step(second))
    before_reply = {"meetingId": mid, "steps": [_step(first_reply), *held["steps"][:2]]}
    bad = refusal(await mq(SET, {"i": before_reply}, who.chair))
    assert bad["code"] == "VALIDATION" and bad["rule"] == 12
    shown = ok(await mq(ORDER, {"id": mid}, who.deu))["meeting"]
    assert shown["runningOrder"] == changed["runningOrder"]
    ok(await mq(SET, {"i": held}, who.chair))
    shown = ok(await mq(ORDER, {"id": mid}, who.deu))["meeting"]
    assert shown["runningOrder"] == [adopted[i] for i in (1, 0, 2, 3, 4, 5)]
    assert shown["runningOrderChanges"] == [
        {"changedBy": "chair", "reason": "FRA asked to present its second case first."},
        {"changedBy": "chair", "reason": None},
    ]
    other, _ = await _adopted_meeting(mq, who, clock)
    foreign = {"meetingId": other, "steps": swapped["steps"]}
    ok(await mq(ADOPT, {"id": other}, who.chair))
    assert refusal(await mq(SET, {"i": foreign}, who.chair))["code"] == "VALIDATION"
