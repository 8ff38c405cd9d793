"""The shared register of participant States (``services.common.participants``): the rule
without servers, and the register itself on a real MongoDB-wire server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import mongoengine
import pytest

from services.common import mongo
from services.common.events import event
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
        (True, "FRA", None, True),  # not heard of yet: the token's word
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
    assert StatusChange.of(ev) == StatusChange("NZL", False, T0 + timedelta(hours=10))


def test_the_register_keeps_the_latest_change_whatever_the_order(
    register: ParticipantRegister,
) -> None:
    assert register.known("NZL") is None
    assert register.effective_participant(delegate("NZL"))
    register.record(StatusChange("NZL", False, T0 + timedelta(hours=2)))
    assert register.known("NZL") is False
    assert not register.effective_participant(delegate("NZL"))
    register.record(StatusChange("NZL", True, T0 + timedelta(hours=1)))  # older, late
    register.record(StatusChange("NZL", True, T0 + timedelta(hours=2)))  # same time again
    assert register.known("NZL") is False
    register.record(StatusChange("NZL", True, T0 + timedelta(hours=3)))
    assert register.known("NZL") is True
    assert register.effective_participant(delegate("NZL"))
    assert not register.effective_participant(delegate("NZL", participant=False))
    assert register.known("AUS") is None  # other States untouched


async def test_the_handler_records_the_event(register: ParticipantRegister) -> None:
    ev = event(
        "contacts",
        "state",
        "status_changed",
        subject="CHL",
        stateCode="CHL",
        status="NON_PARTY",
        previousStatus="SIGNATORY",
        participant=False,
        changedAt=(T0 + timedelta(days=1)).isoformat(),
    )
    await register.on_status_changed(ev)
    assert await mongo.run_sync(register.known, "CHL") is False
    stored = await mongo.run_sync(lambda: KnownState.objects(code="CHL").first())
    assert stored is not None and stored.changed_at == T0 + timedelta(days=1)
