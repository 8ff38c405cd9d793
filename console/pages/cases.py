"""Cases (rules 13-21): list and search, a case with its withheld sections, create and
share with a preview of who will see what, attachments, use requests, concerns,
arrangements and the audit of who read it."""

from __future__ import annotations

import mimetypes
import re
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

from console.audience import SECTIONS, Audience, preview, unknown_states
from console.i18n import gettext as _
from console.pages.meetings import codes, file_size
from console.web import Ctx

CATEGORIES = (
    "ILLICIT_TRANSFER_ACTIVITIES",
    "TRAFFICKING_ROUTES",
    "ILLICIT_BROKERS",
    "SOURCES_OF_ILLICIT_SUPPLY",
    "CONCEALMENT_METHODS",
    "POINTS_OF_DISPATCH",
    "DESTINATIONS_OF_ORGANISED_GROUPS",
)
STATUSES = ("DRAFT", "SHARED", "ARCHIVED")
USES = ("EXPORT_LICENCE_ASSESSMENT", "INVESTIGATION", "PROSECUTION", "OTHER")
DECISIONS = ("AGREED", "AGREED_WITH_CONDITIONS", "DECLINED")

LIST = """
query ConsoleCases($filter: CaseFilter, $after: String) {
  cases(filter: $filter, first: 25, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id title status provider { code name } sharedAt updatedAt categories
                   withheldSections } }
  }
}
"""

CASE = """
query ConsoleCase($id: ID!) {
  case(id: $id) {
    id title status revision createdAt updatedAt sharedAt archivedAt categories
    investigationStatus provider { code name }
    audience { kind states includeSecretariat }
    sectionAudiences { section audience { kind states includeSecretariat } }
    handling { note noOperationalUseWithoutConsultation }
    withheldSections summary methods
    diversion { details divertedOn } discovery { details discoveredOn delayDays }
    actors { role name kind country } items { kind description quantity markings }
    routes { country role }
    involvements { state { code name } notifiedAt response respondedAt }
    arrangements { id states what who dueOn status }
    attachments { id filename contentType size language section uploadedAt downloadUrl }
    history { revision changedAt changedSections }
    useRequests { id requesterState { code } use justification decision conditions reason
                  createdAt decidedAt messages { state { code } author text at } }
    concerns { id status description explanation remedialMeasures closingNote raisedAt
               respondent { code } raisedByState { code } }
  }
}
"""

AUDIT = """
query ConsoleCaseAudit($id: ID!) {
  caseAuditLog(caseId: $id, first: 100) {
    totalCount edges { node { action actor actorState actorRoles at target requestId } }
  }
}
"""

PARTICIPANTS = """
query ConsoleParticipants($after: String) {
  states(first: 200, after: $after, filter: { participant: true }) {
    pageInfo { hasNextPage endCursor } edges { node { code name } }
  }
}
"""

CASE_ID = re.compile(r"^[A-Za-z0-9_=:-]{1,200}$")


async def cases(ctx: Ctx) -> Response:
    q = ctx.request.query_params
    case_filter: dict[str, Any] = {}
    if q.get("words"):
        case_filter["words"] = q["words"][:200]
    if q.get("status") in STATUSES:
        case_filter["status"] = q["status"]
    if q.get("category") in CATEGORIES:
        case_filter["categories"] = [q["category"]]
    if q.get("provider") and re.fullmatch(r"[A-Za-z]{3}", q["provider"]):
        case_filter["provider"] = q["provider"].upper()
    answer = await ctx.api(LIST, {"filter": case_filter or None, "after": q.get("after") or None})
    found = answer.data.get("cases")
    return await ctx.render(
        "cases.html",
        found=found,
        cases=[e["node"] for e in (found or {}).get("edges", [])],
        query=dict(q),
        categories=CATEGORIES,
        statuses=STATUSES,
    )


async def case(ctx: Ctx) -> Response:
    cid = ctx.request.path_params["cid"]
    if not CASE_ID.match(cid):
        return await ctx.render("case.html", case=None, status=404)
    answer = await ctx.api(CASE, {"id": cid})
    found = answer.data.get("case")
    if found is None:
        return await ctx.render("case.html", case=None, status=404 if ctx.refusals else 200)
    audit = None
    mine = found["provider"]["code"] == ctx.state
    if mine:
        audit = (await ctx.api(AUDIT, {"id": cid})).data.get("caseAuditLog")
    return await ctx.render(
        "case.html",
        case=found,
        mine=mine,
        audit=audit,
        sections=SECTIONS,
        uses=USES,
        decisions=DECISIONS,
        withheld=set(found["withheldSections"]),
    )


def form_audiences(ctx: Ctx) -> tuple[Audience, dict[str, Audience]]:
    kind = "NAMED_STATES" if ctx.value("audience") == "NAMED_STATES" else "ALL_PARTICIPANTS"
    named = frozenset(codes(ctx.value("states"))) if kind == "NAMED_STATES" else frozenset()
    include = ctx.value("include_secretariat") == "on"
    case_audience = Audience(kind, named, include)
    sections = {}
    for section in SECTIONS:
        only = codes(ctx.value(f"only_{section}"))
        if only:
            sections[section] = Audience("NAMED_STATES", frozenset(only), include)
    return case_audience, sections


def as_input(audience: Audience) -> dict[str, Any]:
    return {
        "kind": audience.kind,
        "states": sorted(audience.states),
        "includeSecretariat": audience.include_secretariat,
    }


async def participants(ctx: Ctx) -> list[dict[str, str]]:
    nodes, _answer = await ctx.every(PARTICIPANTS, {}, "states")
    return nodes


async def new_case(ctx: Ctx) -> Response:
    """GET: the form. POST with ``preview``: the same form with who will see what. POST
    otherwise: create the case, and share it when asked."""
    states = await participants(ctx)
    codes_now = [s["code"] for s in states]
    case_audience, sections = form_audiences(ctx)
    rows = preview(ctx.state or "", case_audience, sections, codes_now) if ctx.form else None
    if ctx.form is not None and ctx.value("go") == "create":
        fields: dict[str, Any] = {
            "title": ctx.value("title"),
            "summary": ctx.value("summary") or None,
            "methods": ctx.value("methods") or None,
            "categories": [c for c in ctx.values("categories") if c in CATEGORIES],
            "audience": as_input(case_audience),
            "sectionAudiences": [
                {"section": s, "audience": as_input(a)} for s, a in sections.items()
            ],
        }
        routes = codes(ctx.value("route_countries"))
        if routes:
            fields["routes"] = [{"country": c, "role": "TRANSIT"} for c in routes]
        answer = await ctx.api(
            "mutation ConsoleCaseCreate($i: CaseFieldsInput!) { caseCreate(input: $i) "
            "{ case { id } } }",
            {"i": fields},
        )
        created = (answer.data.get("caseCreate") or {}).get("case")
        if created:
            if ctx.value("share") == "on":
                if await ctx.mutate(
                    "mutation($id: ID!) { caseShare(id: $id) { case { id } } }",
                    {"id": created["id"]},
                    _("The case was created and shared."),
                ):
                    return ctx.redirect(f"/cases/{created['id']}")
                return ctx.redirect(f"/cases/{created['id']}")
            ctx.session.flash("ok", _("The case was saved as a draft only you see."))
            return ctx.redirect(f"/cases/{created['id']}")
    return await ctx.render(
        "case_new.html",
        participants=states,
        rows=rows,
        unknown=unknown_states(case_audience, sections, codes_now) if ctx.form else [],
        sections=SECTIONS,
        categories=CATEGORIES,
        form=ctx.form,
        chosen=set(ctx.values("categories")),
        status=422 if ctx.form is not None and ctx.value("go") == "create" else 200,
    )


CASE_ACTIONS: dict[str, tuple[str, Any, Any]] = {
    "share": (
        "mutation($id: ID!) { caseShare(id: $id) { case { id } } }",
        lambda c, cid: {"id": cid},
        lambda: _("The case was shared."),
    ),
    "archive": (
        "mutation($id: ID!) { caseArchive(id: $id) { case { id } } }",
        lambda c, cid: {"id": cid},
        lambda: _("The case was archived."),
    ),
    "notify": (
        "mutation($id: ID!) { caseNotifyInvolvedStates(id: $id) { case { id } } }",
        lambda c, cid: {"id": cid},
        lambda: _("The involved States were notified."),
    ),
    "respond": (
        "mutation($id: ID!, $r: String!) { caseRespond(id: $id, response: $r) { case { id } } }",
        lambda c, cid: {"id": cid, "r": c.value("response")},
        lambda: _("Your response was recorded."),
    ),
    "use_request": (
        "mutation($id: ID!, $u: IntendedUse!, $j: String!) { useRequestCreate("
        "caseId: $id, use: $u, justification: $j) { id } }",
        lambda c, cid: {"id": cid, "u": c.value("use"), "j": c.value("justification")},
        lambda: _("Your request was sent to the provider."),
    ),
    "decide": (
        "mutation($id: ID!, $d: UseDecision!, $c: String, $r: String) { useRequestDecide("
        "id: $id, decision: $d, conditions: $c, reason: $r) { id } }",
        lambda c, cid: {
            "id": c.value("id"),
            "d": c.value("decision"),
            "c": c.value("conditions") or None,
            "r": c.value("reason") or None,
        },
        lambda: _("Your decision was recorded."),
    ),
    "concern": (
        "mutation($id: ID!, $s: String!, $d: String!) { concernRaise(caseId: $id, "
        "respondent: $s, description: $d) { id } }",
        lambda c, cid: {"id": cid, "s": c.value("respondent").upper(), "d": c.value("description")},
        lambda: _("The concern was raised."),
    ),
    "arrangement": (
        "mutation($id: ID!, $s: [String!]!, $w: String!) { arrangementCreate("
        "caseId: $id, states: $s, what: $w) { case { id } } }",
        lambda c, cid: {"id": cid, "s": codes(c.value("states")), "w": c.value("what")},
        lambda: _("The arrangement was recorded."),
    ),
}


async def case_act(ctx: Ctx) -> Response:
    cid, action = ctx.request.path_params["cid"], ctx.request.path_params["action"]
    if action not in CASE_ACTIONS or not CASE_ID.match(cid):
        return await ctx.render("error.html", status=404, title=_("Not found"), message="")
    document, variables, done = CASE_ACTIONS[action]
    await ctx.mutate(document, variables(ctx, cid), done())
    return ctx.redirect(f"/cases/{cid}")


ATTACH = (
    "mutation ConsoleCaseAttach($i: CaseAttachmentUploadInput!) "
    "{ caseAttachmentUpload(input: $i) { attachment { id } } }"
)


async def attach(ctx: Ctx) -> Response:
    """An attachment: the spooled file streamed on to the gateway as a multipart
    ``caseAttachmentUpload`` (the GraphQL multipart request specification)."""
    cid = ctx.request.path_params["cid"]
    file = ctx.form.get("file") if ctx.form else None
    if not isinstance(file, UploadFile) or not file.filename or not CASE_ID.match(cid):
        ctx.session.flash("refusal", _("Choose a file to upload."))
        return ctx.redirect(f"/cases/{cid}")
    limit = ctx.console.settings.max_upload_bytes
    if file_size(file) > limit:
        ctx.session.flash("refusal", _("The file is larger than %(n)s bytes.") % {"n": limit})
        return ctx.redirect(f"/cases/{cid}")
    name = file.filename[:200]
    media = file.content_type or ""
    if not media or media == "application/octet-stream":
        media = mimetypes.guess_type(file.filename)[0] or "application/octet-stream"
    section = ctx.value("section")
    await file.seek(0)
    await ctx.mutate(
        ATTACH,
        {
            "i": {
                "caseId": cid,
                "filename": name,
                "language": ctx.value("language") or "en",
                "section": section if section in SECTIONS else None,
                "file": None,
            }
        },
        _("Attached %(name)s.") % {"name": name},
        files={"i.file": (name, file.file, media)},
    )
    return ctx.redirect(f"/cases/{cid}")
