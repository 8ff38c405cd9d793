"""The API of personal calendar feed links (``services.meetings.feed_links``): the query
and mutation fields, mixed into the meetings schema's ``Query`` and ``Mutation``."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from services.common.context import RequestContext
from services.common.ids import from_global_id, to_global_id
from services.common.mongo import run_sync
from services.meetings import feed_links

Ctx = Info[RequestContext, None]


def _now(info: Ctx) -> datetime:
    return info.context.request.app.state.meetings.clock()


@strawberry.type(description="A personal calendar feed link (its secret is shown only once).")
class CalendarFeedLink:
    id: strawberry.ID
    label: str
    created_at: datetime
    revoked_at: datetime | None
    last_fetched_at: datetime | None

    @classmethod
    def from_doc(cls, link: feed_links.CalendarFeedLink) -> CalendarFeedLink:
        return cls(
            id=strawberry.ID(to_global_id("CalendarFeedLink", link.pk)),
            label=link.label or "",
            created_at=link.created_at,
            revoked_at=link.revoked_at,
            last_fetched_at=link.last_fetched_at,
        )


@strawberry.type(description="A new link, with the URL calendar apps subscribe to.")
class CalendarFeedLinkCreatePayload:
    link: CalendarFeedLink
    url: str = strawberry.field(
        description="Absolute path of the feed on the gateway; shown once, store it now."
    )


@strawberry.type
class CalendarFeedLinkPayload:
    link: CalendarFeedLink


@strawberry.input(description="A label to tell one's links apart, e.g. 'work laptop'.")
class CalendarFeedLinkCreateInput:
    label: str = ""


@strawberry.input
class CalendarFeedLinkRevokeInput:
    id: strawberry.ID


@strawberry.type
class CalendarFeedLinkQuery:
    @strawberry.federation.field(
        description="The caller's own calendar feed links, newest first.", authenticated=True
    )
    async def calendar_feed_links(self, info: Ctx) -> list[CalendarFeedLink] | None:
        found = await run_sync(feed_links.links_of, info.context.principal)
        return [CalendarFeedLink.from_doc(link) for link in found]


@strawberry.type
class CalendarFeedLinkMutation:
    @strawberry.federation.mutation(
        description="A personal, revocable calendar feed URL for calendar apps (rule 14: "
        "for those who may see the meetings).",
        authenticated=True,
    )
    async def calendar_feed_link_create(
        self, info: Ctx, input: CalendarFeedLinkCreateInput
    ) -> CalendarFeedLinkCreatePayload | None:
        link, secret = await run_sync(
            feed_links.create_link, info.context.principal, _now(info), input.label
        )
        return CalendarFeedLinkCreatePayload(
            link=CalendarFeedLink.from_doc(link), url=feed_links.feed_path(secret)
        )

    @strawberry.federation.mutation(
        description="Revoke one of one's calendar feed links (the Secretariat: anyone's).",
        authenticated=True,
    )
    async def calendar_feed_link_revoke(
        self, info: Ctx, input: CalendarFeedLinkRevokeInput
    ) -> CalendarFeedLinkPayload | None:
        oid = from_global_id(input.id, "CalendarFeedLink")
        link = await run_sync(feed_links.revoke_link, info.context.principal, _now(info), oid)
        return CalendarFeedLinkPayload(link=CalendarFeedLink.from_doc(link))
