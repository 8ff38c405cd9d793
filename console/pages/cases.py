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
from console.web import Ctx, describe

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
        actor_roles=ACTOR_ROLES,
        actor_kinds=ACTOR_KINDS,
        item_kinds=ITEM_KINDS,
        arrangement_statuses=("OPEN", "DONE", "CANCELLED"),
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
    "arrangement_status": (
        "mutation($c: ID!, $id: ID!, $s: ArrangementStatus!) { arrangementSetStatus("
        "caseId: $c, id: $id, status: $s) { case { id } } }",
        lambda c, cid: {"c": cid, "id": c.value("id"), "s": c.value("status")},
        lambda: _("The arrangement's status was changed."),
    ),
    "concern_explain": (
        "mutation($id: ID!, $e: String!, $m: String!) { concernExplain(id: $id, "
        "explanation: $e, remedialMeasures: $m) { id status } }",
        lambda c, cid: {"id": c.value("id"), "e": c.value("explanation"), "m": c.value("measures")},
        lambda: _("Your explanation and remedial measures were recorded."),
    ),
    "concern_close": (
        "mutation($id: ID!, $n: String) { concernClose(id: $id, note: $n) { id status } }",
        lambda c, cid: {"id": c.value("id"), "n": c.value("note") or None},
        lambda: _("The concern was closed."),
    ),
    "arrangement": (
        "mutation($id: ID!, $s: [String!]!, $w: String!) { arrangementCreate("
        "caseId: $id, states: $s, what: $w) { case { id } } }",
        lambda c, cid: {"id": cid, "s": codes(c.value("states")), "w": c.value("what")},
        lambda: _("The arrangement was recorded."),
    ),
}


ACTOR_ROLES = ("BROKER", "CARRIER", "END_USER", "MANUFACTURER", "INTERMEDIARY", "OFFICIAL")
ACTOR_KINDS = ("PERSON", "COMPANY")
ITEM_KINDS = (
    "BATTLE_TANKS",
    "ARMOURED_COMBAT_VEHICLES",
    "LARGE_CALIBRE_ARTILLERY",
    "COMBAT_AIRCRAFT",
    "ATTACK_HELICOPTERS",
    "WARSHIPS",
    "MISSILES_AND_LAUNCHERS",
    "SMALL_ARMS_AND_LIGHT_WEAPONS",
    "AMMUNITION_MUNITIONS",
    "PARTS_AND_COMPONENTS",
)
LISTS = (
    "query ConsoleCaseLists($id: ID!) { case(id: $id) { id actors { role name kind country } "
    "items { kind description quantity markings } } }"
)
UPDATE_LISTS = (
    "mutation ConsoleCaseLists($id: ID!, $i: CaseFieldsInput!) { caseUpdate(id: $id, input: $i) "
    "{ case { id revision } } }"
)


def edited_list(
    existing: list[dict[str, Any]], action: str, form: dict[str, str]
) -> tuple[str, list[dict[str, Any]]] | None:
    """The case's actors or items after adding or removing one (``actor_add``,
    ``actor_remove``, ``item_add``, ``item_remove``), as the API takes them; None for a
    removal of what is not there (an index past the end, or one that names another entry
    now: the list changed since the page was drawn). The values are the API's to check
    (roles, kinds, countries); only the form's shape is handled here."""
    what, _sep, how = action.partition("_")
    field = "actors" if what == "actor" else "items"
    kept = [dict(entry) for entry in existing]
    if how == "remove":
        index = form.get("index", "")
        if not index.isdigit() or int(index) >= len(kept):
            return None
        named = kept[int(index)].get("name" if what == "actor" else "kind")
        if form.get("match", "") != (named or ""):
            return None
        del kept[int(index)]
    elif what == "actor":
        kept.append(
            {
                "role": form.get("role", ""),
                "name": form.get("name", ""),
                "kind": form.get("kind", ""),
                "country": form.get("country", "").upper() or None,
            }
        )
    else:
        quantity = form.get("quantity", "")
        kept.append(
            {
                "kind": form.get("kind", ""),
                "description": form.get("description") or None,
                "quantity": int(quantity) if quantity.isdigit() and len(quantity) < 10 else None,
                "markings": codes_of(form.get("markings", "")),
            }
        )
    return field, kept


def codes_of(text: str) -> list[str]:
    return [m.strip() for m in text.replace(";", ",").split(",") if m.strip()][:50]


EDITS = ("actor_add", "actor_remove", "item_add", "item_remove")


async def edit_lists(ctx: Ctx, cid: str, action: str) -> Response:
    """The provider adds or removes an actor or an item: the case's list as it is now,
    changed, sent back whole with ``caseUpdate`` (a shared case gets a new version)."""
    answer = await ctx.api(LISTS, {"id": cid})
    found = answer.data.get("case")
    if found is None:
        for refusal in answer.refusals:
            ctx.session.flash("refusal", describe(refusal, ctx.roles), refusal.code)
        ctx.refusals.clear()
        return ctx.redirect(f"/cases/{cid}")
    form = {
        k: ctx.value(k)
        for k in (
            "index",
            "match",
            "role",
            "name",
            "kind",
            "country",
            "description",
            "quantity",
            "markings",
        )
    }
    field = "actors" if action.startswith("actor") else "items"
    change = edited_list(found.get(field) or [], action, form)
    if change is None:
        ctx.session.flash("refusal", _("That entry is no longer on the case."))
        return ctx.redirect(f"/cases/{cid}")
    await ctx.mutate(
        UPDATE_LISTS,
        {"id": cid, "i": {change[0]: change[1]}},
        _("The case was changed (a new revision)."),
    )
    return ctx.redirect(f"/cases/{cid}")


async def case_act(ctx: Ctx) -> Response:
    cid, action = ctx.request.path_params["cid"], ctx.request.path_params["action"]
    if action in EDITS and CASE_ID.match(cid):
        return await edit_lists(ctx, cid, action)
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
