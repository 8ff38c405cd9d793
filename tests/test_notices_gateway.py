"""Notices through the gateway, the only door: a caller's notices of the meetings and of
the directory (rule 20) come in one request, in the same ``Notice`` type, each marked
read by its own; the one-time link of a re-verification e-mail works anonymously, once,
and a wrong, used or expired one is refused alike, revealing nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.common.mongo import run_sync
from services.contacts.documents import Contact
from services.contacts.freshness import VerificationToken, _hash, run_round
from tests.door_support import Door, door_fixture, door_meeting, door_nats  # noqa: F401
from tests.meetings_support import Inbox, seed_directory

pytest_plugins = ["tests.meetings_support"]

FEEDS = """query($u: Boolean!) {
  myNotifications(unread: $u) { totalCount edges { node { kind } } }
  myDirectoryNotifications(unread: $u) { totalCount edges { node { id kind body read } } }
}"""
MARK = """mutation($i: NoticeMarkInput!) { directoryNotificationsMark(input: $i) { id read } }"""
DELIVERIES = (
    """{ myDirectoryNotifications { edges { node { kind deliveries { email status } } } } }"""
)
VERIFY = """mutation($t: String!) { contactVerifyByToken(token: $t) { functionalEmail
  lastVerifiedAt } }"""
MOVE = """mutation($i: MeetingMoveInput!) { meetingMove(input: $i) { meeting { id } } }"""
SECRETARIAT = "secretariat@att.example.org"
FRA_CONTACTS = ["customs@fra.example.org", "police@fra.example.org", "staff@fra.example.org"]


door = door_fixture("notices")


@pytest.fixture(scope="module")
async def reminded(door: Door, smtp_server: tuple[Controller, Inbox]) -> dict[str, str]:
    """FRA's contacts went unconfirmed too long; one round of the directory's clock told
    them (each its own link) and FRA's point of contact. The tokens, by address."""
    controller, inbox = smtp_server
    await run_sync(seed_directory)
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=door.settings.stale_after_days + 1)
    stale = Contact.objects(functional_email__in=FRA_CONTACTS)
    await run_sync(lambda: stale.update(set__last_verified_at=long_ago))
    mail = {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "smtp_sender": SECRETARIAT}
    await run_sync(run_round, now, door.settings.model_copy(update=mail))
    tokens = {}
    for address in FRA_CONTACTS:
        [message] = [m for m in inbox.to(address) if m["X-DIEF-Notice"] == "REVERIFICATION_DUE"]
        text = message.get_payload(decode=True).decode()
        tokens[address] = re.search(r"contactVerifyByToken\(token: \"([^\"]+)\"\)", text)[1]
    return tokens


async def test_a_callers_notices_of_every_service_come_in_one_request_in_one_type(
    door: Door, reminded: dict[str, str]
) -> None:
    mid = await door_meeting(door)
    move = {"id": mid, "startDate": "2027-06-15", "endDate": "2027-06-16"}
    await door.ok("sec", MOVE, {"i": move})

    fra = await door.ok("fra", FEEDS, {"u": True})
    assert [e["node"]["kind"] for e in fra["myNotifications"]["edges"]] == ["MEETING_MOVED"]
    directory = fra["myDirectoryNotifications"]
    kinds = sorted(e["node"]["kind"] for e in directory["edges"])
    assert kinds == ["REVERIFICATION_DUE"] * 3 + ["STALE_CONTACTS"]
    for edge in directory["edges"]:
        for token in reminded.values():
            assert token not in edge["node"]["body"]  # a one-time link is the mailbox's only
    assert "Officer FRA" not in str(directory)  # names only in the encrypted copy
    # DEU's feed holds none of FRA's directory notices, and DEU cannot mark them.
    deu = await door.ok("deu", FEEDS, {"u": True})
    assert deu["myDirectoryNotifications"]["totalCount"] == 0
    stale = next(e["node"] for e in directory["edges"] if e["node"]["kind"] == "STALE_CONTACTS")
    refused = await door.gql("deu", MARK, {"i": {"ids": [stale["id"]]}})
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    marked = await door.ok("fra", MARK, {"i": {"ids": [stale["id"]]}})
    assert marked["directoryNotificationsMark"] == [{"id": stale["id"], "read": True}]
    after = await door.ok("fra", FEEDS, {"u": True})
    assert after["myDirectoryNotifications"]["totalCount"] == 3
    assert after["myNotifications"]["totalCount"] == 1  # each service's own marks
    # The Secretariat's feed has the freshness report, with its delivery recorded.
    sec = await door.ok("sec", DELIVERIES)
    [report] = [
        e["node"]
        for e in sec["myDirectoryNotifications"]["edges"]
        if e["node"]["kind"] == "FRESHNESS_REPORT"
    ]
    assert report["deliveries"] == [{"email": SECRETARIAT, "status": "SENT"}]
    refused = await door.gql("fra", DELIVERIES)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await door.gql(None, FEEDS, {"u": False})
    assert {e["extensions"]["code"] for e in anonymous["errors"]} == {"UNAUTHENTICATED"}


def _refused_alike(result: dict[str, Any]) -> None:
    """The same answer for an unknown, used or expired link: nothing about the contact."""
    assert result["data"] == {"contactVerifyByToken": None}
    [error] = result["errors"]
    assert error["message"] == "This link is unknown, used or expired."
    assert error["extensions"]["code"] == "NOT_FOUND" and error["extensions"]["rule"] == 20
    assert "fra.example.org" not in str(result) and "Officer" not in str(result)


async def test_the_one_time_link_works_anonymously_through_the_gateway_once(
    door: Door, reminded: dict[str, str]
) -> None:
    customs = reminded["customs@fra.example.org"]
    confirmed = (await door.ok(None, VERIFY, {"t": customs}))["contactVerifyByToken"]
    assert confirmed["functionalEmail"] == "customs@fra.example.org"
    stored = await run_sync(
        lambda: Contact.objects(functional_email="customs@fra.example.org").get()
    )
    assert stored.last_verified_at is not None
    assert stored.last_verified_at.replace(tzinfo=UTC) > datetime.now(UTC) - timedelta(hours=1)
    _refused_alike(await door.gql(None, VERIFY, {"t": customs}))  # used
    _refused_alike(await door.gql(None, VERIFY, {"t": customs[:-2] + "xx"}))  # wrong
    police = reminded["police@fra.example.org"]
    gone = datetime.now(UTC) - timedelta(minutes=1)
    await run_sync(lambda: VerificationToken.objects(pk=_hash(police)).update(set__expires_at=gone))
    _refused_alike(await door.gql(None, VERIFY, {"t": police}))  # expired
    still = await run_sync(lambda: Contact.objects(functional_email="police@fra.example.org").get())
    assert still.last_verified_at.replace(tzinfo=UTC) < datetime.now(UTC) - timedelta(days=100)
    oversized = await door.gql(None, VERIFY, {"t": "x" * 5000})
    assert oversized["errors"][0]["extensions"]["code"] == "VALIDATION"
    # A signed-in caller gets no other answer: the token alone decides.
    _refused_alike(await door.gql("fra", VERIFY, {"t": customs}))
