"""The cases service as an ASGI app (``services.cases.app:app``): the GraphQL subgraph,
plus upload and download of attachments with the same authorisation."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.cases import attachments, handlers
from services.cases.domain import Section
from services.cases.notices import CaseNotices, build_notices
from services.cases.notices import ensure_indexes as ensure_notice_indexes
from services.cases.presenters import MeetingsPresentations
from services.cases.routes import ROUTES
from services.cases.schema import schema
from services.common.app import create_app
from services.common.context import authenticate
from services.common.errors import DiefError, ValidationFailed
from services.common.files import content_disposition
from services.common.ids import from_global_id, to_global_id
from services.common.mongo import run_sync
from services.common.routes import mount
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings, get_settings

HTTP_STATUS = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "VALIDATION": 400,
    "CONFLICT": 409,
}


def refusal_response(refusal: DiefError) -> JSONResponse:
    status = HTTP_STATUS.get(refusal.code, 400)
    if refusal.code == "VALIDATION" and refusal.field == "file" and "larger" in refusal.message:
        status = 413
    return JSONResponse({"error": refusal.message, **refusal.extensions}, status_code=status)


async def read_limited(request: Request, max_bytes: int) -> bytes:
    """The request body, refused as soon as it grows past ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ValidationFailed(
            f"The file is larger than the {max_bytes} bytes allowed.", field="file"
        )
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise ValidationFailed(
                f"The file is larger than the {max_bytes} bytes allowed.", field="file"
            )
    return bytes(body)


class CasesRuntime(ServiceRuntime):
    """The common runtime, plus the loop that sends the notices due (and retries)."""

    notices: CaseNotices | None = None

    async def start(self) -> None:
        await super().start()
        if self.notices is not None:
            self._spawn(self.notices.run(self.settings.smtp_retry_seconds / 2))


def build(
    settings: Settings | None = None,
    *,
    contacts_transport: httpx.AsyncBaseTransport | None = None,
    meetings_transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The app; tests may reach the contacts app in-process for notice recipients, and
    the meetings app for the presenters of presentations (rule 13)."""
    settings = settings or get_settings()
    runtime = CasesRuntime(
        service="cases",
        settings=settings,
        on_start=[handlers.ensure_indexes, ensure_notice_indexes],
        consumers=[handlers.PARTICIPANTS.consumer],
    )
    limits = attachments.Limits(
        settings.cases_attachment_max_bytes, tuple(settings.cases_attachment_types)
    )

    async def upload(request: Request) -> Response:
        """POST /cases/{caseId}/attachments?filename=&language=&section=, body: the file."""
        try:
            principal = authenticate(request, runtime.verifier)
            if principal is None:
                handlers.viewer_of(None)
            case_id = from_global_id(request.path_params["case_id"], "Case", field="caseId")
            section_name = request.query_params.get("section")
            try:
                section = Section(section_name) if section_name else None
            except ValueError as exc:
                raise ValidationFailed(f"No section {section_name!r}.", field="section") from exc
            data = await read_limited(request, limits.max_bytes)
            upload = attachments.Upload(
                filename=request.query_params.get("filename", ""),
                content_type=request.headers.get("content-type", ""),
                language=request.query_params.get("language", ""),
                section=section,
                data=data,
            )
            stored = await run_sync(attachments.store, principal, case_id, upload, limits)
        except DiefError as refusal:
            return refusal_response(refusal)
        gid = to_global_id("Attachment", stored.pk)
        return JSONResponse(
            {
                "id": gid,
                "size": stored.size,
                "contentType": stored.content_type,
                "downloadUrl": f"/cases/attachments/{gid}",
            },
            status_code=201,
        )

    async def download(request: Request) -> Response:
        """GET /cases/attachments/{id}: only for those who may read its section."""
        try:
            principal = authenticate(request, runtime.verifier)
            oid = from_global_id(request.path_params["attachment_id"], "Attachment")
            found, data = await run_sync(attachments.open_for_download, principal, oid)
        except DiefError as refusal:
            return refusal_response(refusal)
        return Response(
            data,
            media_type=found.content_type,
            headers={
                "Content-Disposition": content_disposition(found.filename),
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )

    runtime.notices = build_notices(settings, contacts_transport)
    app = create_app(
        runtime,
        schema,
        routes=mount(ROUTES, {"upload": upload, "download": download}),
    )
    app.state.case_notices = runtime.notices
    app.state.presentations = MeetingsPresentations(settings.cases_meetings_url, meetings_transport)
    return app


def app() -> Starlette:  # uvicorn --factory services.cases.app:app
    return build()
