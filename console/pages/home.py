"""Home: upcoming meetings with their deadlines (late ones marked) and what waits for me."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.responses import Response

from console.i18n import gettext as _
from console.web import Ctx

HOME = """
query ConsoleHome($state: String!, $rep: Boolean!) {
  meetings(first: 10) {
    edges { node {
      id startDate endDate venue status session { name }
      timeline { kind dueOn status doneOn rule }
      presentations(first: 20) { edges { node {
        id title presentingStateCode involvedStateCodes
        notifications { stateCode replyDueOn } responses { stateCode }
      } } }
      expertProposals(first: 10) { edges { node {
        id expertName status silenceEndsOn proposingStateCode objections { stateCode }
      } } }
    } }
  }
  staleContacts(stateCode: $state, first: 20) @include(if: $rep) {
    totalCount edges { node { id name authority { name } lastVerifiedAt } }
  }
  useRequests @include(if: $rep) {
    id caseId use decision createdAt provider { code } requesterState { code }
  }
  NOTIFICATIONS
}
"""
NOTIFICATIONS = (
    "myNotifications(unread: false, first: 10) { totalCount "
    "edges { node { id kind subject body link issuedAt read } } }"
)


def upcoming(meetings: list[dict[str, Any]], today: dt.date) -> list[dict[str, Any]]:
    found = [
        m for m in meetings if m["status"] != "CANCELLED" and m["endDate"] >= today.isoformat()
    ]
    return sorted(found, key=lambda m: m["startDate"])


def waiting(meetings: list[dict[str, Any]], state: str | None, today: dt.date) -> dict[str, list]:
    """Responses my State owes (rule 12) and silence procedures running (rule 8)."""
    responses, silences = [], []
    for meeting in meetings:
        for edge in (meeting.get("presentations") or {}).get("edges", []):
            p = edge["node"]
            answered = {r["stateCode"] for r in p["responses"]}
            for note in p["notifications"]:
                if state and note["stateCode"] == state and state not in answered:
                    responses.append(
                        {
                            "meeting": meeting,
                            "presentation": p,
                            "due": note["replyDueOn"],
                            "late": note["replyDueOn"] < today.isoformat(),
                        }
                    )
        for edge in (meeting.get("expertProposals") or {}).get("edges", []):
            e = edge["node"]
            if e["status"] == "SILENCE":
                silences.append({"meeting": meeting, "proposal": e})
    return {"responses": responses, "silences": silences}


async def mark(ctx: Ctx) -> Response:
    """Notices of mine marked read (or unread again)."""
    ids = ctx.values("id")[:50]
    if ids:
        await ctx.mutate(
            "mutation ConsoleMark($i: NoticeMarkInput!) { notificationsMark(input: $i) { id } }",
            {"i": {"ids": ids, "read": ctx.value("read") != "false"}},
            _("Marked."),
        )
    return ctx.redirect("/#notifications")


async def home(ctx: Ctx) -> Response:
    today = dt.datetime.now(dt.UTC).date()
    rep = bool(ctx.state) and ctx.has("delegate", "enforcement_officer")
    notes = "myNotifications" in ctx.console.schema_fields
    document = HOME.replace("NOTIFICATIONS", NOTIFICATIONS if notes else "")
    answer = await ctx.api(document, {"state": ctx.state or "", "rep": rep})
    data = answer.data
    meetings = [e["node"] for e in (data.get("meetings") or {}).get("edges", [])]
    coming = upcoming(meetings, today)
    pending_use = [
        u
        for u in (data.get("useRequests") or [])
        if u["decision"] == "PENDING" and u["provider"]["code"] == ctx.state
    ]
    return await ctx.render(
        "home.html",
        meetings=coming,
        waiting=waiting(coming, ctx.state, today),
        stale=data.get("staleContacts"),
        use_requests=pending_use,
        notifications=(data.get("myNotifications") or {}).get("edges") if notes else None,
        notifications_available=notes,
        today=today.isoformat(),
    )
