"""The notices part of the meetings subgraph: the caller's own feed, read/unread, and the
Secretariat's report of States nobody could be told. Resolvers only call ``feed``."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from services.common.context import RequestContext
from services.common.ids import from_global_id, to_global_id
from services.common.mongo import run_sync
from services.common.notifications import feed
from services.common.pagination import Connection, paginate
from services.meetings.documents import Delivery, NoticeRecord

Ctx = Info[RequestContext, None]
SECRETARIAT = [["secretariat"]]
ORGANISERS = [["secretariat"], ["chair"]]


@strawberry.type(description="One email of a notice, and how it went.")
class NoticeDelivery:
    state: str
    email: str
    role: str | None
    encrypted: bool = strawberry.field(description="Encrypted to the contact's key.")
    status: str = strawberry.field(description="PENDING, SENT or FAILED (after every retry).")
    attempts: int
    last_error: str | None


@strawberry.type(description="A notice as the caller's feed shows it (rule 14: the open text).")
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

    @classmethod
    def of(cls, e: NoticeRecord, subject: str) -> Notice:
        return cls(
            id=strawberry.ID(to_global_id("Notice", e.pk)),
            kind=e.kind,
            topic=e.topic,
            subject=e.subject,
            body=e.body,
            link=e.link,
            issued_at=e.issued_at,
            read=subject in (e.read_by or []),
            recipient_count=e.recipient_count,
            unreachable_state_codes=list(e.unreachable or []),
        )

    @strawberry.federation.field(
        description="Each email of the notice, for the Secretariat and the Chair.",
        policy=ORGANISERS,
    )
    async def deliveries(self, info: Ctx) -> list[NoticeDelivery]:
        oid = from_global_id(self.id, "Notice")
        found = await run_sync(feed.deliveries_of, Delivery, info.context.principal, str(oid))
        return [
            NoticeDelivery(
                state=d.state,
                email=d.email,
                role=d.role,
                encrypted=bool(d.public_key),
                status=d.status,
                attempts=d.attempts,
                last_error=d.last_error,
            )
            for d in found
        ]


@strawberry.input(description="Notices of yours to mark read, or unread again.")
class NoticeMarkInput:
    ids: list[strawberry.ID]
    read: bool = True


@strawberry.type
class NoticesQuery:
    @strawberry.federation.field(
        description="Your notices, newest first: your State's, and the Secretariat's for it.",
    )
    async def my_notifications(
        self,
        info: Ctx,
        unread: bool = False,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Notice] | None:
        p = info.context.principal
        query = await run_sync(feed.my_notices, NoticeRecord, p, unread)
        return await run_sync(paginate, query, first, after, lambda e: Notice.of(e, p.subject))

    @strawberry.federation.field(description="One notice: your own, or any for organisers.")
    async def notice(self, info: Ctx, id: strawberry.ID) -> Notice | None:
        p = info.context.principal
        oid = from_global_id(id, "Notice")
        return Notice.of(await run_sync(feed.one, NoticeRecord, p, oid), p.subject)

    @strawberry.federation.field(
        description="Notices that some State they concern could not be told of (no contact "
        "with the roles it chose, no alternate), newest first.",
        policy=SECRETARIAT,
    )
    async def notice_gaps(self, info: Ctx) -> list[Notice] | None:
        p = info.context.principal
        found = await run_sync(lambda: list(feed.gaps(NoticeRecord, p)[:200]))
        return [Notice.of(e, p.subject) for e in found]


@strawberry.type
class NoticesMutation:
    @strawberry.federation.mutation(description="Mark notices of yours read (or unread).")
    async def notifications_mark(self, info: Ctx, input: NoticeMarkInput) -> list[Notice] | None:
        p = info.context.principal
        ids = [from_global_id(i, "Notice", field="ids") for i in input.ids]
        found = await run_sync(feed.mark_read, NoticeRecord, p, ids, input.read)
        return [Notice.of(e, p.subject) for e in found]
