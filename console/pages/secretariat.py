"""The Secretariat: the register of ATT statuses, sync sources, delivery reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

from console.i18n import gettext as _
from console.i18n import ngettext
from console.web import Ctx, describe

STATUSES = ("STATE_PARTY", "SIGNATORY", "NON_PARTY")

REGISTER = """
query ConsoleRegister($after: String) {
  states(first: 200, after: $after) { pageInfo { hasNextPage endCursor } edges { node {
    code name status participant ratificationDate withdrawalDate
    statusHistory { changedAt changedBy }
  } } }
}
"""

DELIVERIES = """
query ConsoleDeliveries {
  noticeGaps { id kind subject issuedAt recipientCount unreachableStateCodes
               deliveries { state email status attempts lastError } }
  meetings(first: 20) { edges { node {
    id startDate venue session { name }
    invitation { issuedAt recipientCount deliveries { state email status attempts lastError } }
  } } }
}
"""


CHAIRS = """
query ConsoleChairs($today: Date!) {
  currentChair(on: $today) { chair appointedOn termEndsOn }
  chairAppointments { chair appointedOn termEndsOn endedOn }
}
"""
CHAIR_APPOINT = (
    "mutation ConsoleChair($i: ChairAppointInput!) { chairAppoint(input: $i) "
    "{ chairTerm { chair appointedOn } } }"
)


IMPORT = (
    "mutation ConsoleStatusImport($i: StateStatusImportInput!) { stateStatusImport(input: $i) "
    "{ dryRun rows changes { code before after signatureDate ratificationDate "
    "entryIntoForceDate withdrawalDate } } }"
)
MAX_CSV_BYTES = 200_000


async def secretariat(ctx: Ctx) -> Response:
    return await show(ctx)


async def show(ctx: Ctx, **extra: Any) -> Response:
    if not ctx.has("secretariat"):
        return await ctx.render(
            "error.html",
            status=403,
            title=_("Secretariat only"),
            message=_("The register of ATT statuses is kept by the Secretariat (rule 20)."),
        )
    states, _answer = await ctx.every(REGISTER, {}, "states")
    answer = await ctx.api(DELIVERIES)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    chairs = (await ctx.api(CHAIRS, {"today": today})).data
    show_all = ctx.request.query_params.get("all") == "1"
    shown = (
        states
        if show_all
        else [
            s
            for s in states
            if s["status"] != "NON_PARTY" or s["withdrawalDate"] or len(s["statusHistory"]) > 1
        ]
    )
    return await ctx.render(
        "secretariat.html",
        states=shown,
        show_all=show_all,
        statuses=STATUSES,
        gaps=answer.data.get("noticeGaps") or [],
        current_chair=chairs.get("currentChair"),
        chairs=chairs.get("chairAppointments") or [],
        today=today,
        meetings=[e["node"] for e in (answer.data.get("meetings") or {}).get("edges", [])],
        **extra,
    )


async def change_status(ctx: Ctx) -> Response:
    code = ctx.value("code").upper()
    await ctx.mutate(
        "mutation ConsoleStatus($i: StateStatusChangeInput!) { stateStatusChange(input: $i) "
        "{ state { code status } } }",
        {
            "i": {
                "code": code,
                "status": ctx.value("status"),
                "ratificationDate": ctx.value("ratification") or None,
                "withdrawalDate": ctx.value("withdrawal") or None,
                "note": ctx.value("note") or None,
            }
        },
        _("The status of %(code)s was changed.") % {"code": code[:3]},
    )
    return ctx.redirect("/secretariat")


async def appoint_chair(ctx: Ctx) -> Response:
    """Rule 4: the Chair the CSP President appointed, recorded."""
    await ctx.mutate(
        CHAIR_APPOINT,
        {
            "i": {
                "chair": ctx.value("chair"),
                "appointedOn": ctx.value("appointed_on") or None,
                "appointedBy": ctx.value("appointed_by"),
                "endPreviousTerm": ctx.value("end_previous") == "on",
            }
        },
        _("The Chair's appointment was recorded."),
    )
    return ctx.redirect("/secretariat#chair")


async def csv_of(ctx: Ctx) -> str | None:
    """The CSV of the import form: the chosen file, else the text carried from the dry run;
    None (and a flash) when it is too large or not UTF-8 text."""
    file = ctx.form.get("file") if ctx.form else None
    if isinstance(file, UploadFile) and file.filename:
        data = await file.read(MAX_CSV_BYTES + 1)
    else:
        data = ctx.value("csv").encode()
    if len(data) > MAX_CSV_BYTES:
        ctx.session.flash(
            "refusal", _("The file is larger than %(n)s bytes.") % {"n": MAX_CSV_BYTES}
        )
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        ctx.session.flash("refusal", _("The file is not UTF-8 text (save it as CSV UTF-8)."))
        return None


async def import_statuses(ctx: Ctx) -> Response:
    """Bulk import of ATT statuses: first a dry run whose changes are shown, then, from that
    page, the same file applied (the API checks it again, whole, and writes all or none)."""
    text = await csv_of(ctx)
    if text is None:
        return ctx.redirect("/secretariat#import")
    if not text.strip():
        ctx.session.flash("refusal", _("Choose a CSV file."))
        return ctx.redirect("/secretariat#import")
    note = ctx.value("note")[:1000] or None
    if ctx.value("apply") == "1":
        answer = await ctx.api(IMPORT, {"i": {"csv": text, "dryRun": False, "note": note}})
        done = answer.data.get("stateStatusImport")
        if done:
            ctx.session.flash(
                "ok",
                ngettext(
                    "%(num)s State changed, each in its status history.",
                    "%(num)s States changed, each in its status history.",
                    len(done["changes"]),
                )
                % {"num": len(done["changes"])},
            )
        for refusal in answer.refusals:
            ctx.session.flash("refusal", describe(refusal, ctx.roles), refusal.code)
        ctx.refusals.clear()
        return ctx.redirect("/secretariat#import")
    answer = await ctx.api(IMPORT, {"i": {"csv": text, "dryRun": True, "note": note}})
    preview = answer.data.get("stateStatusImport")
    import_refusals = list(ctx.refusals)
    ctx.refusals.clear()
    return await show(
        ctx,
        import_preview=preview,
        import_refusals=import_refusals,
        import_csv=text if preview else "",
        import_note=note or "",
    )
