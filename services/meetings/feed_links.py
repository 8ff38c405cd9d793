"""Personal calendar feed links: a capability URL per user for calendar apps, which cannot
send a bearer token (``GET /meetings/calendar/{secret}.ics``).

The secret is shown once, when the link is made; only its SHA-256 is stored. A link opens
the calendar feed and nothing else, as the user who made it: their subject, State and roles
as the gateway vouched for them then. Participation is the State's current one at each
fetch: the service's register of participants (fed by the contacts service's status events),
the only source; a State it has never heard of is not a participant.
The user lists and revokes their links through the API; the Secretariat may revoke anyone's.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from bson import ObjectId
from mongoengine import BooleanField, DateTimeField, Document, ListField, StringField

from services.common.errors import NotFound, ValidationFailed
from services.common.principal import Principal, Role, require_authenticated
from services.meetings import access
from services.meetings.documents import ALIAS
from services.meetings.feed import participant_feed
from services.meetings.handlers import PARTICIPANTS, caller

PREFIX = "dcf_"
MAX_ACTIVE_LINKS = 10
MAX_LABEL = 100


class CalendarFeedLink(Document):
    meta = {
        "db_alias": ALIAS,
        "collection": "calendar_feed_links",
        "indexes": [{"fields": ["digest"], "unique": True}, "subject"],
    }

    digest = StringField(required=True)  # SHA-256 of the secret, hex
    subject = StringField(required=True)
    state = StringField()
    roles = ListField(StringField())
    participant = BooleanField(default=False)  # the gateway's word when the link was made
    label = StringField(max_length=MAX_LABEL, default="")
    created_at = DateTimeField(required=True)
    revoked_at = DateTimeField()
    last_fetched_at = DateTimeField()


# --- pure rules -------------------------------------------------------------------------


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def feed_path(secret: str) -> str:
    return f"/meetings/calendar/{secret}.ics"


def participant_at_fetch(given_at_creation: bool, register: bool | None) -> bool:
    """The State's participation now: the register's word alone (what the gateway said
    when the link was made is history; a State the register never heard of takes no part)."""
    return register is True


def principal_of(link: CalendarFeedLink, register: bool | None) -> Principal:
    return Principal(
        subject=link.subject,
        roles=frozenset(Role(r) for r in link.roles if r in Role.__members__.values()),
        state=link.state,
        participant=link.state is not None
        and participant_at_fetch(bool(link.participant), register),
    )


# --- handlers -----------------------------------------------------------------------------


def create_link(
    principal: Principal | None, now: datetime, label: str
) -> tuple[CalendarFeedLink, str]:
    """A new link for the caller, who must be allowed the feed now; the secret is returned
    here and never again."""
    p, part = caller(principal)
    access.ensure_may_see_meeting(p, part)
    label = label.strip()
    if len(label) > MAX_LABEL:
        raise ValidationFailed(f"A label has at most {MAX_LABEL} characters.", field="label")
    active = CalendarFeedLink.objects(subject=p.subject, revoked_at=None).count()
    if active >= MAX_ACTIVE_LINKS:
        raise ValidationFailed(
            f"At most {MAX_ACTIVE_LINKS} calendar feed links may be active; revoke one first.",
            field="label",
        )
    secret = new_secret()
    link = CalendarFeedLink(
        digest=digest(secret),
        subject=p.subject,
        state=p.state,
        roles=sorted(p.roles),
        participant=part,
        label=label,
        created_at=now,
    ).save()
    return link, secret


def links_of(principal: Principal | None) -> list[CalendarFeedLink]:
    p = require_authenticated(principal)
    return list(CalendarFeedLink.objects(subject=p.subject).order_by("-created_at"))


def revoke_link(principal: Principal | None, now: datetime, oid: ObjectId) -> CalendarFeedLink:
    p = require_authenticated(principal)
    link = CalendarFeedLink.objects(pk=oid).first()
    if link is None or (link.subject != p.subject and not p.is_secretariat):
        raise NotFound("No calendar feed link of yours with this id.", field="id")
    if link.revoked_at is None:
        link.revoked_at = now
        link.save()
    return link


def feed_for_secret(secret: str, now: datetime) -> bytes:
    """The feed a link opens, as its owner would see it now; a revoked or unknown link is
    NOT_FOUND (the two are not told apart)."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        raise NotFound("No such calendar feed link (it may have been revoked).", field="link")
    link = CalendarFeedLink.objects(digest=digest(secret), revoked_at=None).first()
    if link is None:
        raise NotFound("No such calendar feed link (it may have been revoked).", field="link")
    register = PARTICIPANTS.known(link.state) if link.state else None
    body = participant_feed(principal_of(link, register), now)
    CalendarFeedLink.objects(pk=link.pk).update_one(set__last_fetched_at=now)
    return body


def ensure_indexes() -> None:
    CalendarFeedLink.ensure_indexes()
