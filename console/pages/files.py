"""Files through the gateway's file routes, with the user's token (never a subgraph)."""

from __future__ import annotations

import re

from starlette.responses import Response

from console.gateway import GatewayError
from console.i18n import gettext as _
from console.web import Ctx

PASSED_HEADERS = ("content-type", "content-disposition", "content-length", "etag")
SAFE_ID = re.compile(r"^[A-Za-z0-9_=:-]{1,200}$")


async def relay(ctx: Ctx, path: str) -> Response:
    """The gateway's answer to ``GET path``; a refusal as a page with its reason."""
    try:
        answer = await ctx.console.gateway.get_file(ctx.token(), path, ctx.request_id)
    except GatewayError as exc:
        return await ctx.render(
            "error.html", status=502, title=_("Not available"), message=str(exc)
        )
    if answer.status_code == 200:
        headers = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_HEADERS}
        headers.setdefault("content-disposition", "attachment")
        return Response(answer.content, status_code=200, headers=headers)
    message = _("The gateway does not serve this file yet.")
    rule = None
    try:
        body = answer.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            message = str(errors[0].get("message") or message)
            rule = (errors[0].get("extensions") or {}).get("rule")
        elif isinstance(body, dict) and (body.get("error") or body.get("message")):
            message = str(body.get("error") or body.get("message"))
            rule = body.get("rule")
    except ValueError:
        if answer.status_code in (401, 403):
            message = _("You may not download this file.")
    if isinstance(rule, int):
        message += " " + _("(rule %(rule)s)") % {"rule": rule}
    status = answer.status_code if answer.status_code in (401, 403, 404, 413) else 502
    return await ctx.render("error.html", status=status, title=_("Not available"), message=message)


async def meeting_document(ctx: Ctx) -> Response:
    doc_id = ctx.request.path_params["doc_id"]
    if not SAFE_ID.match(doc_id):
        return await ctx.render("error.html", status=404, title=_("Not found"), message="")
    return await relay(ctx, f"/meetings/documents/{doc_id}")


async def case_attachment(ctx: Ctx) -> Response:
    att_id = ctx.request.path_params["att_id"]
    if not SAFE_ID.match(att_id):
        return await ctx.render("error.html", status=404, title=_("Not found"), message="")
    return await relay(ctx, f"/cases/attachments/{att_id}")


async def vcard(ctx: Ctx) -> Response:
    code = ctx.request.path_params["code"].upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        return await ctx.render("error.html", status=404, title=_("Not found"), message="")
    return await relay(ctx, f"/contacts/{code}.vcf")


async def calendar(ctx: Ctx) -> Response:
    return await relay(ctx, "/meetings/calendar.ics")
