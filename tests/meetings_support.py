"""Fixtures and shared steps of the meetings tests: the meetings app against real servers
(MongoDB-wire with GridFS, NATS), the contacts app in-process for invitation recipients,
a real SMTP server (aiosmtpd), a settable service clock, and the callers' tokens.

Loaded as a plugin by the meetings test modules. PYTEST_DONT_REWRITE: its few asserts
carry their own messages.
"""

from __future__ import annotations

import base64
import email
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from services.common.mongo import run_sync
from services.common.principal import Principal, Role
from services.common.settings import Settings
from services.contacts import handlers as contacts
from services.contacts.domain import AuthorityKind, ContactRole
from services.dev.servers import free_port
from services.meetings.handlers import PARTICIPANTS
from tests.conftest import GraphQLClient, TokenFactory
from tests.events_support import consumer_caught_up, outbox_published
from tests.test_contacts_api import PARTIES

START = date(2027, 6, 1)
END = date(2027, 6, 2)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def days_before(n: int) -> date:
    return START - timedelta(days=n)


class Clock:
    """The service clock, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def day(self, day: date, hour: int = 12) -> None:
        self.now = at(day, hour)


class Inbox:
    """An aiosmtpd handler that keeps what it receives and can refuse chosen recipients
    (``refuse[address]``: how many more times; -1 for ever)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse: dict[str, int] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        left = self.refuse.get(address, 0)
        if left:
            self.refuse[address] = left - 1 if left > 0 else left
            return "451 4.3.0 Mailbox temporarily unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        return [email.message_from_bytes(c) for rcpt, c in self.messages if address in rcpt]


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    # aiosmtpd's own INFO lines come from its thread, also after a test's output capture
    # has closed ("Logging error"); the tests read the inbox, never those lines
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def inbox(smtp_server: tuple[Controller, Inbox]) -> Inbox:
    _, box = smtp_server
    box.messages.clear()
    box.refuse.clear()
    return box


@pytest.fixture
def meetings_settings(settings: Settings, smtp_server: tuple[Controller, Inbox]) -> Settings:
    controller, _ = smtp_server
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": controller.port,
            "smtp_sender": "secretariat@att.example.org",
            "smtp_max_attempts": 3,
            "smtp_retry_seconds": 60.0,
            "meetings_scheduler_seconds": 3600.0,
        }
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(at(days_before(92)))


SECRETARIAT = Principal("sec", frozenset({Role.SECRETARIAT}))
NPC, ENFORCEMENT, ALTERNATE = (
    ContactRole.NATIONAL_POINT_OF_CONTACT,
    ContactRole.DIEF_ENFORCEMENT_CONTACT,
    ContactRole.ALTERNATE,
)
# (address, roles) per State. ISR, a signatory, has no contact at all: it is reported.
RECIPIENTS = {
    "FRA": [
        ("customs@fra.example.org", [NPC]),
        ("police@fra.example.org", [NPC, ENFORCEMENT]),
        ("staff@fra.example.org", []),  # an imported colleague: never told by default
    ],
    "DEU": [
        ("zoll@deu.example.org", [NPC, ENFORCEMENT]),
        ("vertretung@deu.example.org", [ALTERNATE]),
    ],
    "USA": [("cbp@usa.example.org", [NPC])],  # not a participant: never invited
}


def seed_directory() -> None:
    contacts.seed_states(PARTIES)
    for state, addresses in RECIPIENTS.items():
        authority = contacts.create_authority(
            SECRETARIAT, state, {"kind": AuthorityKind.CUSTOMS, "name": f"{state} customs"}
        )
        for i, (address, roles) in enumerate(addresses):
            contacts.create_contact(
                SECRETARIAT,
                authority.pk,
                {"name": f"Officer {state} {i}", "functional_email": address, "roles": roles},
            )


async def seed_and_announce() -> None:
    """``seed_directory``, then wait until the contacts service relayed its announcements of
    the seeded participants (which the meetings register learns them from)."""
    await run_sync(seed_directory)
    await outbox_published("contacts")


async def register_caught_up(settings: Settings) -> None:
    """Wait until a started meetings app's register handled what the stream holds."""
    await consumer_caught_up(settings.nats_url, PARTICIPANTS.durable)


def build_meetings(settings: Settings, clock: Clock, contacts_app: Any):
    from services.meetings.app import build

    return build(settings, clock=clock, contacts_transport=httpx.ASGITransport(app=contacts_app))


@pytest.fixture
async def meetings_app(
    meetings_settings: Settings, contacts_app: Any, clock: Clock
) -> AsyncIterator[Any]:
    # the register of participants learns the seeded participants as in production: from
    # the contacts service's announcements on the stream
    await seed_and_announce()
    app = build_meetings(meetings_settings, clock, contacts_app)
    async with app.router.lifespan_context(app):
        await register_caught_up(meetings_settings)
        yield app


@pytest.fixture
async def http(meetings_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=meetings_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meetings") as client:
        yield client


@pytest.fixture
def mq(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


class Actors:
    def __init__(self, token: TokenFactory) -> None:
        self.token = token
        self.sec = token(sub="sec", roles=("secretariat",), participant=False)
        self.chair = token(sub="chair", roles=("chair",), participant=False)
        self.fra = token(sub="fra1", state="FRA")
        self.deu = token(sub="deu1", state="DEU")
        self.isr = token(sub="isr1", state="ISR")
        self.usa = token(sub="usa1", state="USA", participant=False)
        self.expert = token(sub="expert-jane", roles=("expert",), participant=False)


@pytest.fixture
def who(token: TokenFactory) -> Actors:
    return Actors(token)


def ok(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result
    return result["data"]


def refusal(result: dict[str, Any]) -> dict[str, Any]:
    assert result.get("errors"), result
    return result["errors"][0]["extensions"]


SESSION = """mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { session { id } } }"""
SCHEDULE = """mutation($i: MeetingScheduleInput!) {
  meetingSchedule(input: $i) { meeting { id startDate venue decidedBy } } }"""


async def new_session(mq: GraphQLClient, who: Actors) -> str:
    i = {
        "kind": "PREPARATORY_MEETING",
        "name": "Preparatory meetings 2027",
        "startDate": "2027-01-01",
        "endDate": "2027-12-31",
    }
    return ok(await mq(SESSION, {"i": i}, who.sec))["sessionCreate"]["session"]["id"]


async def schedule(
    mq: GraphQLClient, who: Actors, session: str, start: date = START, end: date = END
) -> dict[str, Any]:
    i = {
        "sessionId": session,
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "venue": "Geneva, CICG",
        "decidedBy": "CSP13 President",
        "decidedOn": "2027-01-10",
    }
    return await mq(SCHEDULE, {"i": i}, who.sec)


async def new_meeting(mq: GraphQLClient, who: Actors) -> str:
    session = await new_session(mq, who)
    return ok(await schedule(mq, who, session))["meetingSchedule"]["meeting"]["id"]


MEETING = """query($id: ID!) { meeting(id: $id) { id venue agendaItems { totalCount } } }"""


ADD_ITEM = """mutation($i: AgendaItemAddInput!) { agendaItemAdd(input: $i) {
  agendaItem { id position title } } }"""
ATTACH = """mutation($i: DocumentAttachInput!) { documentAttach(input: $i) {
  document { id language size mediaType downloadPath } } }"""
DISTRIBUTE = (
    """mutation($id: ID!) { agendaDistribute(input: {id: $id}) { meeting { agendaStatus } } }"""
)
ADOPT = """mutation($id: ID!) { agendaAdopt(input: {id: $id}) { meeting { agendaStatus } } }"""
INTEND = """mutation($i: PresentationIntendInput!) { presentationIntend(input: $i) {
  presentation { id presentingStateCode involvedStateCodes notifiedInTime } } }"""


async def add_item(mq: GraphQLClient, who: Actors, mid: str, title: str = "Trends") -> str:
    data = ok(await mq(ADD_ITEM, {"i": {"meetingId": mid, "title": title}}, who.sec))
    return data["agendaItemAdd"]["agendaItem"]["id"]


def pdf(content: bytes = b"%PDF-1.4 brief") -> str:
    return base64.b64encode(content).decode()


NOTIFY = """mutation($id: ID!) { presentationNotifyInvolved(input: {id: $id}) {
  presentation { notifiedInTime notifications { stateCode replyDueOn } } } }"""
RESPOND = """mutation($i: PresentationRespondInput!) { presentationRespond(input: $i) {
  presentation { responses { stateCode response } } } }"""
SCHEDULE_PRES = """mutation($id: ID!) { presentationSchedule(input: {id: $id}) {
  agendaItem { id presentationId } } }"""
ORDER = """query($id: ID!) { meeting(id: $id) { runningOrder { kind stateCode } } }"""


async def intend(mq: GraphQLClient, who: Actors, mid: str, involved: list[str]) -> str:
    i = {
        "meetingId": mid,
        "stateCode": "FRA",
        "title": "Rifles via a third country",
        "involvedStateCodes": involved,
    }
    return ok(await mq(INTEND, {"i": i}, who.fra))["presentationIntend"]["presentation"]["id"]
