"""The feed's GraphQL types, one ``Notice`` type for every subgraph with a feed (the
meetings service's ``myNotifications``, the contacts service's
``myDirectoryNotifications``): shareable, so that the gateway shows a caller the notices
of each service in the same type, and a client lists them side by side in one request.

Each service builds its ``Notice`` from its own feed entries and deliveries
(``Notice.of``); resolvers only call ``feed``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from services.common.context import RequestContext
from services.common.ids import from_global_id, to_global_id
from services.common.mongo import run_sync
from services.common.notifications import feed
from services.common.notifications.documents import NoticeDelivery as DeliveryDocument
from services.common.notifications.documents import NoticeEntry
from services.common.pagination import Connection, paginate

Ctx = Info[RequestContext, None]
ORGANISERS = [["secretariat"], ["chair"]]


def feed_fields(e: NoticeEntry, subject: str, typename: str) -> dict[str, Any]:
    """What every feed's notice shows of an entry, as seen by the principal ``subject``."""
    return {
        "id": strawberry.ID(to_global_id(typename, e.pk)),
        "kind": e.kind,
        "topic": e.topic,
        "subject": e.subject,
        "body": e.body,
        "link": e.link,
        "issued_at": e.issued_at,
        "read": subject in (e.read_by or []),
        "unreachable_state_codes": list(e.unreachable or []),
    }


def delivery_fields(d: DeliveryDocument) -> dict[str, Any]:
    """What every service's delivery type shows of one email of a notice."""
    return {
        "state": d.state,
        "email": d.email,
        "role": d.role,
        "encrypted": bool(d.public_key),
        "status": d.status,
        "attempts": d.attempts,
        "last_error": d.last_error,
    }


@strawberry.federation.type(shareable=True, description="One email of a notice, and how it went.")
class NoticeDelivery:
    state: str
    email: str
    role: str | None
    encrypted: bool = strawberry.field(description="Encrypted to the contact's key.")
    status: str = strawberry.field(description="PENDING, SENT or FAILED (after every retry).")
    attempts: int
    last_error: str | None


@strawberry.federation.type(
    shareable=True, description="A notice as the caller's feed shows it (rule 14: the open text)."
)
class Notice:
    id: strawberry.ID
    kind: str = strawberry.field(description="INVITATION, AGENDA_DISTRIBUTED, ... (README).")
    topic: str | None = strawberry.field(description="The global ID of what it is about.")
    subject: str
    body: str
    link: str | None
    issued_at: datetime
    read: bool
    recipient_count: int
    unreachable_state_codes: list[str] = strawberry.field(
        description="States it concerns that have no contact to tell (Secretariat report)."
    )
    delivery_document: strawberry.Private[type[DeliveryDocument]]

    @classmethod
    def of(cls, e: NoticeEntry, subject: str, deliveries: type[DeliveryDocument]) -> Notice:
        return cls(
            **feed_fields(e, subject, "Notice"),
            recipient_count=e.recipient_count,
            delivery_document=deliveries,
        )

    @strawberry.federation.field(
        description="Each email of the notice, for the Secretariat and the Chair.",
        policy=ORGANISERS,
    )
    async def deliveries(self, info: Ctx) -> list[NoticeDelivery]:
        oid = from_global_id(self.id, "Notice")
        found = await run_sync(
            feed.deliveries_of, self.delivery_document, info.context.principal, str(oid)
        )
        return [NoticeDelivery(**delivery_fields(d)) for d in found]


@strawberry.input(description="Notices of yours to mark read, or unread again.")
class NoticeMarkInput:
    ids: list[strawberry.ID]
    read: bool = True


def feed_field(of: FeedOf, description: str) -> Any:
    """A subgraph's ``my...Notifications(unread, first, after)`` field over ``of``."""

    async def mine(
        info: Ctx, unread: bool = False, first: int | None = None, after: str | None = None
    ) -> Connection[Notice] | None:
        return await of.mine(info, unread, first, after)

    return strawberry.federation.field(resolver=mine, description=description)


def mark_field(of: FeedOf, description: str) -> Any:
    """A subgraph's mutation marking its notices read (or unread) for the caller."""

    async def mark(info: Ctx, input: NoticeMarkInput) -> list[Notice] | None:
        return await of.mark(info, input)

    return strawberry.federation.mutation(resolver=mark, description=description)


class FeedOf:
    """One service's feed: its entry and delivery documents."""

    def __init__(self, entries: type[NoticeEntry], deliveries: type[DeliveryDocument]) -> None:
        self.entries = entries
        self.deliveries = deliveries

    def notice(self, e: NoticeEntry, subject: str) -> Notice:
        return Notice.of(e, subject, self.deliveries)

    async def mine(
        self, info: Ctx, unread: bool, first: int | None, after: str | None
    ) -> Connection[Notice]:
        p = info.context.principal
        query = await run_sync(feed.my_notices, self.entries, p, unread)
        return await run_sync(paginate, query, first, after, lambda e: self.notice(e, p.subject))

    async def mark(self, info: Ctx, input: NoticeMarkInput) -> list[Notice]:
        p = info.context.principal
        ids = [from_global_id(i, "Notice", field="ids") for i in input.ids]
        found = await run_sync(feed.mark_read, self.entries, p, ids, input.read)
        return [self.notice(e, p.subject) for e in found]
