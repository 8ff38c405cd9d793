"""The Secretariat: the register of ATT statuses, sync sources, delivery reports."""

from __future__ import annotations

import datetime as dt

from starlette.responses import Response

from console.i18n import gettext as _
from console.web import Ctx

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


async def secretariat(ctx: Ctx) -> Response:
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
