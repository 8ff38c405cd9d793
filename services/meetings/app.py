"""The meetings service as an ASGI app (``services.meetings.app:app``).

Besides ``/graphql``: ``GET /meetings/calendar.ics`` (a participant's iCalendar feed),
``GET /meetings/calendar/{secret}.ics`` (the same feed through a personal link, for calendar
apps) and ``GET /meetings/documents/{id}`` (a document's file), with the API's authorisation.
The routes are declared in ``services.meetings.routes``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.common.app import create_app
from services.common.context import authenticate
from services.common.errors import DiefError
from services.common.files import content_disposition
from services.common.ids import from_global_id
from services.common.mongo import run_sync
from services.common.routes import mount
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings, get_settings
from services.meetings import feed_links, handlers
from services.meetings.consumers import participant_register
from services.meetings.directory import ContactsDirectory
from services.meetings.feed import participant_feed
from services.meetings.routes import ROUTES
from services.meetings.scheduler import Clock, Scheduler
from services.meetings.schema import schema
from services.meetings.services import MeetingsServices, smtp_settings

HTTP_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "VALIDATION": 400,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class MeetingsRuntime(ServiceRuntime):
    """The common runtime, plus the scheduler, which runs whether or not NATS is up."""

    scheduler: Scheduler | None = None

    async def start(self) -> None:
        await super().start()
        if self.scheduler is not None:
            self._spawn(self.scheduler.run())


def refusal_response(refusal: DiefError) -> JSONResponse:
    return JSONResponse(
        {"error": refusal.message, **refusal.extensions},
        status_code=HTTP_STATUS.get(refusal.code, 400),
    )


def build(
    settings: Settings | None = None,
    *,
    clock: Clock = utc_now,
    contacts_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The app; tests pass a clock and may reach the contacts app in-process."""
    settings = settings or get_settings()
    runtime = MeetingsRuntime(
        service="meetings",
        settings=settings,
        on_start=[handlers.ensure_indexes, feed_links.ensure_indexes],
        consumers=[participant_register],
    )
    smtp = smtp_settings(settings)
    runtime.scheduler = Scheduler(
        clock,
        smtp,
        interval_seconds=settings.meetings_scheduler_seconds,
        reminder_days=settings.meetings_reminder_days,
        secretariat_email=settings.notice_secretariat_email,
        notice_link=settings.notice_link_base,
    )
    meetings = MeetingsServices(
        settings=settings,
        clock=clock,
        directory=ContactsDirectory(settings.meetings_contacts_url, contacts_transport),
        smtp=smtp,
        scheduler=runtime.scheduler,
    )

    async def guarded(request: Request, work: Callable[..., object], *args: object) -> object:
        principal = authenticate(request, runtime.verifier)
        return await run_sync(work, principal, *args)

    async def calendar_feed(request: Request) -> Response:
        try:
            body = await guarded(request, participant_feed, clock())
        except DiefError as refusal:
            return refusal_response(refusal)
        return Response(body, media_type="text/calendar; charset=utf-8")

    async def calendar_link_feed(request: Request) -> Response:
        """A personal feed link: the URL is the credential (``services.meetings.feed_links``)."""
        try:
            secret = request.path_params["secret"]
            body = await run_sync(feed_links.feed_for_secret, secret, clock())
        except DiefError as refusal:
            return refusal_response(refusal)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )

    async def document_file(request: Request) -> Response:
        try:
            oid = from_global_id(request.path_params["id"], "Document")
            meta, content = await guarded(request, handlers.read_document, oid)  # type: ignore[misc]
        except DiefError as refusal:
            return refusal_response(refusal)
        return Response(
            content,
            media_type=meta.media_type,
            headers={
                "Content-Disposition": content_disposition(meta.filename),
                "Content-Language": meta.language,
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    app = create_app(
        runtime,
        schema,
        routes=mount(
            ROUTES,
            {
                "calendar_feed": calendar_feed,
                "calendar_link_feed": calendar_link_feed,
                "document_file": document_file,
            },
        ),
    )
    app.state.meetings = meetings
    return app


def app() -> Starlette:  # uvicorn --factory services.meetings.app:app
    return build()
