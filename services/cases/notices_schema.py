"""The cases subgraph's notices: the caller's own (rules 15 and 16), read or unread."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from services.cases.notices import CaseNoticeRecord
from services.common.context import RequestContext
from services.common.ids import from_global_id
from services.common.mongo import run_sync
from services.common.notifications import feed
from services.common.notifications.schema import feed_fields

Ctx = Info[RequestContext, None]


@strawberry.type(description="A notice of the cases service in the caller's feed.")
class CaseNotice:
    id: strawberry.ID
    kind: str = strawberry.field(description="DISCLOSURE_CONCERN_RAISED, USE_REQUESTED, ...")
    topic: str | None
    subject: str
    body: str
    link: str | None
    issued_at: datetime
    read: bool
    unreachable_state_codes: list[str]

    @classmethod
    def of(cls, e: CaseNoticeRecord, subject: str) -> CaseNotice:
        return cls(**feed_fields(e, subject, "CaseNotice"))


@strawberry.type
class CaseNoticesQuery:
    @strawberry.federation.field(description="Your State's notices about cases, newest first.")
    async def my_case_notifications(
        self, info: Ctx, unread: bool = False, first: int = 50
    ) -> list[CaseNotice] | None:
        p = info.context.principal
        limit = max(1, min(first, 200))
        found = await run_sync(lambda: list(feed.my_notices(CaseNoticeRecord, p, unread)[:limit]))
        return [CaseNotice.of(e, p.subject) for e in found]


@strawberry.type
class CaseNoticesMutation:
    @strawberry.federation.mutation(description="Mark case notices of yours read (or unread).")
    async def case_notifications_mark(
        self, info: Ctx, ids: list[strawberry.ID], read: bool = True
    ) -> list[CaseNotice] | None:
        p = info.context.principal
        oids = [from_global_id(i, "CaseNotice", field="ids") for i in ids]
        found = await run_sync(feed.mark_read, CaseNoticeRecord, p, oids, read)
        return [CaseNotice.of(e, p.subject) for e in found]
