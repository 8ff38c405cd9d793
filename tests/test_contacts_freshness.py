"""Rule 20 by the clock: each stale contact is sent a one-time link to confirm its
details, the State's national point of contact is told who is stale, the Secretariat
gets a freshness report; once per period, through the real SMTP server, retried."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.mongo import run_sync
from services.common.settings import Settings
from services.contacts.documents import Contact
from services.contacts.freshness import ContactsDelivery, run_round
from tests.conftest import GraphQLClient, TokenFactory, error_codes
from tests.meetings_support import Inbox, seed_directory

pytest_plugins = ["tests.meetings_support"]

VERIFY = """mutation($t: String!) { contactVerifyByToken(token: $t) { functionalEmail
  lastVerifiedAt } }"""
REPORT = "{ freshnessReport { stateCode contacts stale } }"
STALE = ["customs@fra.example.org", "police@fra.example.org", "staff@fra.example.org"]


def _kinds(inbox: Inbox, address: str) -> list[str]:
    return [m["X-DIEF-Notice"] for m in inbox.to(address)]


async def test_stale_contacts_are_reminded_their_npc_told_and_the_secretariat_reported(
    gql: GraphQLClient,
    token: TokenFactory,
    contacts_app: Any,
    meetings_settings: Settings,
    inbox: Inbox,
) -> None:
    await run_sync(seed_directory)
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=meetings_settings.stale_after_days + 1)
    await run_sync(lambda: Contact.objects.update(set__last_verified_at=long_ago))
    zoll = Contact.objects(functional_email="zoll@deu.example.org")
    await run_sync(lambda: zoll.update_one(set__last_verified_at=now - timedelta(days=1)))
    inbox.refuse["staff@fra.example.org"] = 1
    first = await run_sync(run_round, now, meetings_settings)
    assert first.reminded == 5 and first.states_told == 3 and first.reported == 1
    # DEU's point of contact is fresh, not reminded, and told of DEU's stale alternate.
    assert _kinds(inbox, "zoll@deu.example.org") == ["STALE_CONTACTS"]
    assert _kinds(inbox, "customs@fra.example.org") == ["REVERIFICATION_DUE", "STALE_CONTACTS"]
    assert _kinds(inbox, "staff@fra.example.org") == []  # refused once: waits for a retry
    [report] = inbox.to("secretariat@att.example.org")
    text = report.get_payload(decode=True).decode()
    assert "FRA: 3 of 3 contacts stale" in text and "without any contact: ISR" in text
    [stale] = [
        m for m in inbox.to("police@fra.example.org") if m["X-DIEF-Notice"] == "STALE_CONTACTS"
    ]
    assert b"Officer FRA" not in stale.as_bytes()  # names only in an encrypted copy
    # The next round repeats nothing, and retries the refused one.
    again = await run_sync(run_round, now + timedelta(minutes=2), meetings_settings)
    assert (again.reminded, again.states_told, again.reported) == (0, 0, 0)
    assert _kinds(inbox, "staff@fra.example.org") == ["REVERIFICATION_DUE"]
    delivered = await run_sync(
        lambda: ContactsDelivery.objects(email="staff@fra.example.org").get()
    )
    assert delivered.status == "SENT" and delivered.attempts == 2
    # The one-time link confirms the contact, once.
    [reminder] = inbox.to("customs@fra.example.org")[:1]
    body = reminder.get_payload(decode=True).decode()
    one_time = re.search(r"/verify/([A-Za-z0-9_-]+)", body).group(1)
    done = await gql(VERIFY, {"t": one_time})
    assert "errors" not in done, done
    assert done["data"]["contactVerifyByToken"]["functionalEmail"] == "customs@fra.example.org"
    assert error_codes(await gql(VERIFY, {"t": one_time})) == ["NOT_FOUND"]
    assert error_codes(await gql(VERIFY, {"t": "guessed"})) == ["NOT_FOUND"]
    assert error_codes(await gql(VERIFY, {"t": "x" * 500})) == ["VALIDATION"]
    # The Secretariat's report through the API; not for a State.
    sec = token(sub="sec", roles=("secretariat",), participant=False)
    rows = {r["stateCode"]: r for r in (await gql(REPORT, {}, sec))["data"]["freshnessReport"]}
    assert rows["FRA"] == {"stateCode": "FRA", "contacts": 3, "stale": 2}
    assert rows["DEU"]["stale"] == 1
    assert error_codes(await gql(REPORT, {}, token(state="FRA"))) == ["FORBIDDEN"]
