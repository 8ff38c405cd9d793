"""Rule 20, kept up by the clock: a contact not verified for ``stale_after_days`` is sent
a one-time link (or the token for ``contactVerifyByToken``) to confirm its details; each
State's national point of contact is told which of its contacts are stale; the
Secretariat gets a freshness report per State. Once per period each (a notice's ``key``),
through the shared notices (``services.common.notifications``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from mongoengine import DateTimeField, Document, ObjectIdField, StringField
from mongoengine.queryset.visitor import Q
from pymongo.errors import DuplicateKeyError

from services.common import mongo
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.notifications.documents import NoticeDelivery, NoticeEntry
from services.common.notifications.kinds import Audience, NoticeKind
from services.common.notifications.queue import Notice, deliver_due, entry_and_deliveries
from services.common.notifications.recipients import Recipient, Resolution
from services.common.notifications.setup import smtp_settings
from services.common.principal import Principal, require_authenticated
from services.common.settings import Settings
from services.common.tasks import raise_if_cancelled
from services.common.unit_of_work import unit_of_work
from services.contacts import domain
from services.contacts.documents import ALIAS, Contact, State, snapshot, utcnow

log = logging.getLogger("dief.contacts.freshness")
TOKEN_DAYS = 30


class ContactsDelivery(NoticeDelivery):
    meta = {
        "db_alias": ALIAS,
        "collection": "notice_deliveries",
        "indexes": [("status", "next_attempt_at"), "notice_id"],
    }

    contact_id = ObjectIdField()


class ContactsNotice(NoticeEntry):
    meta = {
        "db_alias": ALIAS,
        "collection": "notices",
        "indexes": [{"fields": ["key"], "unique": True, "sparse": True}, "issued_at"],
    }


class VerificationToken(Document):
    """A one-time confirmation of a contact's details; only its hash is kept."""

    meta = {"db_alias": ALIAS, "collection": "verification_tokens"}

    token_hash = StringField(primary_key=True)
    contact_id = ObjectIdField(required=True)
    issued_at = DateTimeField(required=True)
    expires_at = DateTimeField(required=True)
    used_at = DateTimeField()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class FreshnessReport:
    state: str
    contacts: int
    stale: int


@dataclass(frozen=True)
class Round:
    reminded: int
    states_told: int
    reported: int
    sent: int


def _stale_query(now: datetime, days: int) -> Q:
    before = domain.stale_before(now, days)
    return Q(archived_at=None) & (Q(last_verified_at=None) | Q(last_verified_at__lt=before))


def report(now: datetime, days: int) -> list[FreshnessReport]:
    total = Counter(c.state_code for c in Contact.objects(archived_at=None).only("state_code"))
    stale = Counter(
        c.state_code for c in Contact.objects(_stale_query(now, days)).only("state_code")
    )
    return [FreshnessReport(s, total[s], stale[s]) for s in sorted(total)]


def freshness_report(
    principal: Principal | None, now: datetime, days: int
) -> list[FreshnessReport]:
    p = require_authenticated(principal)
    if not p.is_secretariat:
        raise Forbidden("The freshness report is the Secretariat's.", rule=20)
    return report(now, days)


def _issue(
    key: str,
    notice: Notice,
    resolution: Resolution,
    now: datetime,
    feed_body: str | None = None,
    **extra: object,
) -> int:
    """``feed_body``: what the feed shows instead of the e-mail's text (a one-time link
    is for the contact's own mailbox, never for everyone of its State who reads the feed)."""
    if ContactsNotice.objects(key=key).first() is not None:
        return 0
    entry, deliveries = entry_and_deliveries(
        notice, resolution, now, ContactsNotice, ContactsDelivery, key=key, **extra
    )
    if feed_body is not None:
        entry.body = feed_body
    try:
        with unit_of_work(ALIAS) as uow:
            uow.insert(entry)
            for d in deliveries:
                uow.insert(d)
    except (DuplicateKeyError, Conflict):
        return 0
    return 1


def _remind(contact: Contact, now: datetime, days: int, link: str) -> int:
    since = contact.last_verified_at or contact.created_at
    key = f"REVERIFY:{contact.pk}:{since.isoformat() if since else 'never'}"
    if ContactsNotice.objects(key=key).first() is not None:
        return 0
    token = secrets.token_urlsafe(32)
    VerificationToken(
        token_hash=_hash(token),
        contact_id=contact.pk,
        issued_at=now,
        expires_at=now + timedelta(days=TOKEN_DAYS),
    ).save()
    last = contact.last_verified_at.date().isoformat() if contact.last_verified_at else "never"
    body = "\n".join(
        [
            "Your contact details in the DIEF Exchange directory (rule 20) were last "
            f"confirmed: {last}. Contacts are confirmed at least every {days} days.",
            "",
            "If they are still right, confirm them with this one-time link "
            f"(valid {TOKEN_DAYS} days):",
            f"{link.rstrip('/')}/verify/{token}",
            "",
            'or with the mutation contactVerifyByToken(token: "' + token + '").',
            "If something changed, ask your State's national point of contact to correct it.",
        ]
    )
    notice = Notice(
        NoticeKind.REVERIFICATION_DUE,
        "DIEF Exchange: please confirm your contact details (rule 20)",
        body,
        topic=f"Contact:{contact.pk}",
    )
    recipient = Recipient(
        contact.state_code,
        contact.functional_email,
        "CONTACT",
        contact.pgp_key or None,
        contact.pgp_key_fingerprint if contact.pgp_key else None,
    )
    feed_body = (
        f"A contact of {contact.state_code} was last confirmed: {last} (rule 20); it was sent "
        "a one-time link to confirm its details."
    )
    resolution = Resolution((recipient,), ())
    return _issue(key, notice, resolution, now, feed_body, contact_id=contact.pk)


def _period(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def _tell_states(now: datetime, days: int, stale: list[Contact], link: str) -> int:
    from services.contacts.notices import recipients_of

    by_state: dict[str, list[Contact]] = {}
    for c in stale:
        by_state.setdefault(c.state_code, []).append(c)
    told = 0
    found = {s.state: s for s in recipients_of(sorted(by_state), Audience.DIRECTORY)}
    for state, contacts in sorted(by_state.items()):
        names = "\n".join(f"  {c.name} <{c.functional_email}>" for c in contacts)
        notice = Notice(
            NoticeKind.STALE_CONTACTS,
            f"DIEF Exchange: {len(contacts)} contacts of {state} to confirm (rule 20)",
            f"{len(contacts)} contacts of {state} have not been confirmed for more than "
            f"{days} days; each was sent a link to confirm. "
            f"There is something for you to see:\n{link}",
            topic=f"State:{state}",
            link=link,
            private_body=f"Stale contacts:\n{names}",
        )
        chosen = found[state].recipients if state in found else ()
        resolution = Resolution.of([state], chosen)
        told += _issue(f"STALE:{state}:{_period(now)}", notice, resolution, now, states=[state])
    return told


def _report_to_secretariat(now: datetime, days: int, address: str) -> int:
    rows = report(now, days)
    lines = [f"  {r.state}: {r.stale} of {r.contacts} contacts stale" for r in rows if r.stale]
    states_with = {r.state for r in rows}
    participants = {
        s.code for s in State.objects.only("code", "status") if domain.is_participant(s.status)
    }
    empty = sorted(participants - states_with)
    body = [
        f"Freshness of the directory on {now.date().isoformat()} (stale: not confirmed for "
        f"more than {days} days).",
        "",
        *(lines or ["  No stale contacts."]),
    ]
    if empty:
        body += ["", "Participant States without any contact: " + ", ".join(empty)]
    notice = Notice(
        NoticeKind.FRESHNESS_REPORT,
        "DIEF Exchange: freshness of the contact directory (rule 20)",
        "\n".join(body),
    )
    secretariat = Recipient("SECRETARIAT", address, "SECRETARIAT")
    return _issue(
        f"FRESHNESS:{_period(now)}", notice, Resolution((secretariat,), ()), now, secretariat=True
    )


def run_round(now: datetime, settings: Settings) -> Round:
    days = settings.stale_after_days
    link = settings.notice_link_base
    stale = list(Contact.objects(_stale_query(now, days)))
    reminded = sum(_remind(c, now, days, link) for c in stale)
    told = _tell_states(now, days, stale, link) if stale else 0
    address = settings.notice_secretariat_email or settings.smtp_sender
    reported = _report_to_secretariat(now, days, address)
    sent = deliver_due(ContactsDelivery, smtp_settings(settings), now)
    return Round(reminded, told, reported, sent)


def verify_by_token(token: str, now: datetime) -> Contact:
    """Rule 20: the contact confirms its own details with the one-time token."""
    from services.contacts.handlers import _save_contact

    if not token or len(token) > 200:
        raise ValidationFailed("Give the token from the message.", field="token", rule=20)
    found = VerificationToken.objects(pk=_hash(token)).first()
    if (
        found is None
        or found.used_at is not None
        or found.expires_at.replace(tzinfo=now.tzinfo) < now
    ):
        raise NotFound("This link is unknown, used or expired.", field="token", rule=20)
    claimed = VerificationToken.objects(pk=found.pk, used_at=None).update_one(set__used_at=now)
    if not claimed:
        raise NotFound("This link is unknown, used or expired.", field="token", rule=20)
    contact = Contact.objects(pk=found.contact_id).first()
    if contact is None or contact.archived_at is not None:
        raise NotFound("This contact is no longer in the directory.", field="token", rule=20)
    before = snapshot(contact)
    contact.last_verified_at = now
    contact.verified_by = f"one-time link ({contact.functional_email})"
    actor = Principal(f"contact:{contact.functional_email}", frozenset(), contact.state_code)
    _save_contact(actor, contact, "VERIFIED", before)
    return contact


@dataclass
class FreshnessSchedule:
    """A background task of the contacts service (``ServiceRuntime.consumers``)."""

    settings: Settings

    async def run(self) -> None:
        interval = 60.0 * self.settings.contacts_freshness_interval_minutes
        while True:
            await asyncio.sleep(interval)  # the first round one interval after start-up
            raise_if_cancelled()
            try:
                await mongo.run_sync(run_round, utcnow(), self.settings)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("freshness round failed; the next one retries")


def ensure_indexes() -> None:
    for document in (ContactsDelivery, ContactsNotice, VerificationToken):
        document.ensure_indexes()
