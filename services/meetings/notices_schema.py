"""The notices part of the meetings subgraph: the caller's own feed, read/unread, and the
Secretariat's report of States nobody could be told. The types are the shared ones
(``services.common.notifications.schema``); resolvers only call ``feed``."""

from __future__ import annotations

import strawberry

from services.common.ids import from_global_id
from services.common.mongo import run_sync
from services.common.notifications import feed
from services.common.notifications.schema import Ctx, FeedOf, Notice, feed_field, mark_field
from services.meetings.documents import Delivery, NoticeRecord

SECRETARIAT = [["secretariat"]]
FEED = FeedOf(NoticeRecord, Delivery)


def notice_of(e: NoticeRecord, subject: str) -> Notice:
    return FEED.notice(e, subject)


@strawberry.type
class NoticesQuery:
    my_notifications = feed_field(
        FEED,
        "Your notices of meetings, newest first: your State's, and the Secretariat's for it "
        "(the directory's: myDirectoryNotifications).",
    )

    @strawberry.federation.field(description="One notice: your own, or any for organisers.")
    async def notice(self, info: Ctx, id: strawberry.ID) -> Notice | None:
        p = info.context.principal
        oid = from_global_id(id, "Notice")
        return notice_of(await run_sync(feed.one, NoticeRecord, p, oid), p.subject)

    @strawberry.federation.field(
        description="Notices that some State they concern could not be told of (no contact "
        "with the roles it chose, no alternate), newest first.",
        policy=SECRETARIAT,
    )
    async def notice_gaps(self, info: Ctx) -> list[Notice] | None:
        p = info.context.principal
        found = await run_sync(lambda: list(feed.gaps(NoticeRecord, p)[:200]))
        return [notice_of(e, p.subject) for e in found]


@strawberry.type
class NoticesMutation:
    notifications_mark = mark_field(FEED, "Mark notices of yours read (or unread).")
