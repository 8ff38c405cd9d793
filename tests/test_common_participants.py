"""The shared register of participant States (``services.common.participants``): the rule
without servers, and the register itself on a real MongoDB-wire server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import mongoengine
import pytest

from services.common import mongo
from services.common.events import event
from services.common.messaging import Delivered
from services.common.participants import (
    KnownParticipantStatus,
    ParticipantRegister,
    StatusChange,
    standing,
)
from services.common.principal import Principal, Role
from services.dev.servers import ServerProcess, mongodb_uri

ALIAS = "participants_test"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class KnownState(KnownParticipantStatus):
    meta = {"db_alias": ALIAS, "collection": "participant_states"}


REGISTER = ParticipantRegister(KnownState, durable="test-participants")


def delegate(state: str | None, participant: bool = True) -> Principal:
    return Principal("someone", frozenset({Role.DELEGATE}), state, participant)


@pytest.fixture(scope="module")
def register(mongodb: ServerProcess) -> Iterator[ParticipantRegister]:
    db = mongo.connect(ALIAS, mongodb_uri(mongodb.port), "test_common_participants")
    db.client.drop_database(db.name)
    yield REGISTER
    db.client.drop_database(db.name)
    mongoengine.disconnect(ALIAS)


@pytest.mark.parametrize(
    ("participant", "state", "known", "expected"),
    [
        (True, "FRA", None, False),  # never heard of: not a participant, whatever the token
        (True, "FRA", True, True),
        (True, "FRA", False, False),  # withdrawn, token still valid
        (False, "FRA", True, False),  # the register never grants what the token denies
        (False, "FRA", None, False),
        (True, None, None, False),  # no State, no participation
    ],
)
def test_standing(participant: bool, state: str | None, known: bool | None, expected: bool) -> None:
    assert standing(delegate(state, participant), known) is expected


def test_a_status_change_is_read_from_the_contacts_event() -> None:
    ev = event(
        "contacts",
        "state",
        "status_changed",
        subject="NZL",
        stateCode="NZL",
        status="NON_PARTY",
        previousStatus="STATE_PARTY",
        participant=False,
        changedAt="2026-01-01T10:00:00Z",
    )
    assert StatusChange.of(ev, 42) == StatusChange("NZL", False, T0 + timedelta(hours=10), 42)


def test_the_register_keeps_the_change_latest_in_the_stream_whatever_the_order(
    register: ParticipantRegister,
) -> None:
    assert register.known("NZL") is None
    assert not register.effective_participant(delegate("NZL"))  # never heard of
    assert register.record(StatusChange("NZL", True, T0 + timedelta(hours=1), 10))
    assert register.effective_participant(delegate("NZL"))
    assert register.record(StatusChange("NZL", False, T0 + timedelta(hours=2), 20))
    assert register.known("NZL") is False
    assert not register.effective_participant(delegate("NZL"))
    # earlier in the stream, applied late (a redelivery, a slower replica): nothing changes,
    # even when its own clock says later
    assert not register.record(StatusChange("NZL", True, T0 + timedelta(hours=5), 15))
    assert not register.record(StatusChange("NZL", True, T0 + timedelta(hours=2), 20))  # again
    assert register.known("NZL") is False
    assert register.record(StatusChange("NZL", True, T0 + timedelta(hours=3), 21))
    assert register.known("NZL") is True
    assert register.effective_participant(delegate("NZL"))
    assert not register.effective_participant(delegate("NZL", participant=False))
    assert register.known("AUS") is None  # other States untouched


def _status_event(code: str, participant: bool, changed_at: datetime) -> Delivered:
    ev = event(
        "contacts",
        "state",
        "status_changed",
        subject=code,
        stateCode=code,
        status="SIGNATORY" if participant else "NON_PARTY",
        previousStatus="NON_PARTY" if participant else "SIGNATORY",
        participant=participant,
        changedAt=changed_at.isoformat(),
    )
    return Delivered(ev, 0)


async def test_two_out_of_order_applications_keep_the_later_event(
    register: ParticipantRegister,
) -> None:
    """Two replicas each handed one of two changes of a State: the one that writes last
    holds the earlier event. The register keeps the later one in the stream."""
    joined = _status_event("CHL", True, T0 + timedelta(days=1))
    withdrew = _status_event("CHL", False, T0 + timedelta(days=2))
    later = Delivered(withdrew.event, 31)
    earlier = Delivered(joined.event, 30)
    await register.on_status_changes([later])  # the replica with the later event first
    await register.on_status_changes([earlier])  # then the other, late
    assert await mongo.run_sync(register.known, "CHL") is False
    stored = await mongo.run_sync(lambda: KnownState.objects(code="CHL").first())
    assert stored is not None
    assert (stored.sequence, stored.changed_at) == (31, T0 + timedelta(days=2))
    # one batch holding both, out of order: applied in the stream's order
    await register.on_status_changes([Delivered(withdrew.event, 41), Delivered(joined.event, 40)])
    assert await mongo.run_sync(register.known, "CHL") is False
