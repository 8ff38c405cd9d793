"""Meetings (rules 3-12, 14, 17, 22, 23): sessions and meetings, each meeting's timeline,
invitation, agenda and documents, presentations, experts, participation and briefings."""

from __future__ import annotations

import datetime as dt
import mimetypes
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

from console.i18n import gettext as _
from console.web import Ctx

LIST = """
query ConsoleMeetings {
  sessions { id kind name startDate endDate }
  calendarFeedLinks { id label createdAt revokedAt lastFetchedAt }
  meetings(first: 50) { totalCount edges { node {
    id startDate endDate venue status agendaStatus session { id name kind }
    invitation { issuedAt late }
    timeline { kind dueOn status rule }
  } } }
}
"""

MEETING = """
query ConsoleMeeting($id: ID!, $staff: Boolean!) {
  meeting(id: $id) {
    id startDate endDate venue status decidedBy decidedOn agendaStatus
    agendaDistributedAt agendaAdoptedAt
    session { id name kind }
    timeline { kind dueOn status doneOn rule }
    invitation {
      issuedAt callForPresentations late lateReason recipientCount startDate venue
      deliveries @include(if: $staff) { state email status attempts lastError sentAt }
    }
    agendaItems(first: 30) { edges { node {
      id position title presentationId
      documents { id filename mediaType language size sha256 uploadedAt downloadPath }
    } } }
    runningOrder { kind agendaItemId presentationId stateCode }
    presentations(first: 30) { edges { node {
      id title presentingStateCode involvedStateCodes intendedAt notifiedInTime agendaItemId
      notifications { stateCode notifiedAt replyDueOn }
      responses { stateCode response at }
    } } }
    expertProposals(first: 20) { edges { node {
      id presentationId proposingStateCode expertName purpose status proposedAt
      silenceEndsOn objections { stateCode at } consultations { stateCode at }
      decision decidedOn approved
    } } }
    registrations(first: 100) { totalCount edges { node { stateCode name function registeredAt } } }
    participation { delegates states enforcementOfficers byFunction { function count } }
    briefings { id forum proposedAt consensusRecordedAt mayBrief excludedPresentationIds
                attributableStateCodes }
    confidentialityDecisions { target documentId decidedOn recordedAt }
  }
}
"""

ATTACH = (
    "mutation ConsoleAttach($i: DocumentAttachInput!) { documentAttach(input: $i) "
    "{ document { id } } }"
)
LANGUAGES = ("en", "fr", "es", "ar", "zh", "ru")
FUNCTIONS = ("LICENSING", "CUSTOMS", "POLICE", "PROSECUTION", "INTELLIGENCE", "OTHER")


def days_left(day: str, today: dt.date) -> int:
    return (dt.date.fromisoformat(day) - today).days


async def meetings(ctx: Ctx) -> Response:
    answer = await ctx.api(LIST)
    edges = (answer.data.get("meetings") or {}).get("edges", [])
    today = dt.datetime.now(dt.UTC).date().isoformat()
    return await ctx.render(
        "meetings.html",
        meetings=[e["node"] for e in edges],
        sessions=answer.data.get("sessions") or [],
        links=answer.data.get("calendarFeedLinks") or [],
        today=today,
        staff=ctx.has("secretariat"),
    )


async def meeting(ctx: Ctx) -> Response:
    mid = ctx.request.path_params["mid"]
    staff = ctx.has("secretariat", "chair")
    answer = await ctx.api(MEETING, {"id": mid, "staff": staff})
    m = answer.data.get("meeting")
    today = dt.datetime.now(dt.UTC).date()
    if m is None:
        return await ctx.render("meeting.html", meeting=None, status=404 if ctx.refusals else 200)
    items = [e["node"] for e in m["agendaItems"]["edges"]]
    presentations = [e["node"] for e in m["presentations"]["edges"]]
    by_id = {p["id"]: p for p in presentations}
    proposals = [e["node"] for e in m["expertProposals"]["edges"]]
    for proposal in proposals:
        proposal["daysLeft"] = days_left(proposal["silenceEndsOn"], today)
    mine = {p["id"] for p in presentations if p["presentingStateCode"] == ctx.state}
    return await ctx.render(
        "meeting.html",
        meeting=m,
        items=items,
        # Rule 10: the organisers attach to any item, a presenting State to its own.
        uploadable=items if staff else [i for i in items if i["presentationId"] in mine],
        presentations=presentations,
        presentations_by_id=by_id,
        items_by_id={i["id"]: i for i in items},
        documents_by_id={d["id"]: d["filename"] for i in items for d in i["documents"]},
        proposals=proposals,
        registrations=[e["node"] for e in (m.get("registrations") or {"edges": []})["edges"]],
        doc_languages=LANGUAGES,
        functions=FUNCTIONS,
        today=today.isoformat(),
        staff=staff,
        secretariat=ctx.has("secretariat"),
        representative=bool(ctx.state) and ctx.has("delegate", "enforcement_officer"),
        max_upload=ctx.console.settings.max_upload_bytes,
    )


def back(ctx: Ctx) -> str:
    return f"/meetings/{ctx.request.path_params['mid']}"


async def upload(ctx: Ctx) -> Response:
    """A document for an agenda item: the file, spooled by the form parser (to disk past
    1 MiB), streamed on to the gateway as a multipart ``documentAttach`` (the GraphQL
    multipart request specification), never read whole into memory here."""
    file = ctx.form.get("file") if ctx.form else None
    limit = ctx.console.settings.max_upload_bytes
    if not isinstance(file, UploadFile) or not file.filename:
        ctx.session.flash("refusal", _("Choose a file to upload."))
        return ctx.redirect(back(ctx))
    if file_size(file) > limit:
        ctx.session.flash("refusal", _("The file is larger than %(n)s bytes.") % {"n": limit})
        return ctx.redirect(back(ctx))
    media = file.content_type or ""
    if not media or media == "application/octet-stream":
        media = mimetypes.guess_type(file.filename)[0] or "application/octet-stream"
    name = file.filename[:200]
    await file.seek(0)
    await ctx.mutate(
        ATTACH,
        {
            "i": {
                "agendaItemId": ctx.value("agenda_item"),
                "filename": name,
                "mediaType": media,
                "language": ctx.value("language") or "en",
                "file": None,
            }
        },
        _("Uploaded %(name)s.") % {"name": name},
        files={"i.file": (name, file.file, media)},
    )
    return ctx.redirect(back(ctx))


def file_size(file: UploadFile) -> int:
    """The spooled file's size (the parser counts it; else measured by seeking)."""
    if file.size is not None:
        return file.size
    here = file.file.tell()
    file.file.seek(0, 2)
    size = file.file.tell()
    file.file.seek(here)
    return size


def _ref(ctx: Ctx, name: str = "id") -> dict[str, Any]:
    return {"i": {"id": ctx.value(name)}}


ACTIONS: dict[str, tuple[str, Any, Any]] = {
    # action: (mutation, variables from the form, what the flash says)
    "invite": (
        "mutation($i: InvitationIssueInput!) { invitationIssue(input: $i) { meeting { id } } }",
        lambda c: {
            "i": {
                "meetingId": c.request.path_params["mid"],
                "callForPresentations": c.value("call"),
                "lateReason": c.value("late_reason") or None,
            }
        },
        lambda: _("The invitation was issued."),
    ),
    "agenda_item": (
        "mutation($i: AgendaItemAddInput!) { agendaItemAdd(input: $i) { agendaItem { id } } }",
        lambda c: {"i": {"meetingId": c.request.path_params["mid"], "title": c.value("title")}},
        lambda: _("The agenda item was added."),
    ),
    "distribute": (
        "mutation($i: MeetingRefInput!) { agendaDistribute(input: $i) { meeting { id } } }",
        lambda c: {"i": {"id": c.request.path_params["mid"]}},
        lambda: _("The draft agenda was distributed."),
    ),
    "adopt": (
        "mutation($i: MeetingRefInput!) { agendaAdopt(input: $i) { meeting { id } } }",
        lambda c: {"i": {"id": c.request.path_params["mid"]}},
        lambda: _("The agenda was adopted."),
    ),
    "present": (
        "mutation($i: PresentationIntendInput!) { presentationIntend(input: $i) "
        "{ presentation { id } } }",
        lambda c: {
            "i": {
                "meetingId": c.request.path_params["mid"],
                "stateCode": c.state,
                "title": c.value("title"),
                "involvedStateCodes": codes(c.value("involved")),
            }
        },
        lambda: _("Your presentation intention was recorded."),
    ),
    "notify": (
        "mutation($i: PresentationRefInput!) { presentationNotifyInvolved(input: $i) "
        "{ presentation { id } } }",
        _ref,
        lambda: _("The involved States were notified."),
    ),
    "respond": (
        "mutation($i: PresentationRespondInput!) { presentationRespond(input: $i) "
        "{ presentation { id } } }",
        lambda c: {
            "i": {"id": c.value("id"), "stateCode": c.state, "response": c.value("response")}
        },
        lambda: _("Your response was recorded."),
    ),
    "schedule_presentation": (
        "mutation($i: PresentationRefInput!) { presentationSchedule(input: $i) "
        "{ agendaItem { id } } }",
        _ref,
        lambda: _("The presentation was put on the agenda."),
    ),
    "expert": (
        "mutation($i: ExpertProposalCreateInput!) { expertProposalCreate(input: $i) "
        "{ expertProposal { id } } }",
        lambda c: {
            "i": {
                "presentationId": c.value("presentation"),
                "expertName": c.value("name"),
                "expertSubject": c.value("subject"),
                "purpose": c.value("purpose"),
            }
        },
        lambda: _("The expert proposal was sent; the silence procedure runs."),
    ),
    "object": (
        "mutation($i: ExpertProposalRefInput!) { expertProposalObject(input: $i) "
        "{ expertProposal { id } } }",
        _ref,
        lambda: _("Your objection was recorded."),
    ),
    "resolve": (
        "mutation($i: ExpertProposalRefInput!) { expertProposalResolve(input: $i) "
        "{ expertProposal { id } } }",
        _ref,
        lambda: _("The objection is recorded as resolved."),
    ),
    "decide": (
        "mutation($i: ExpertProposalDecideInput!) { expertProposalDecide(input: $i) "
        "{ expertProposal { id } } }",
        lambda c: {
            "i": {
                "id": c.value("id"),
                "decision": c.value("decision"),
                "decidedOn": dt.datetime.now(dt.UTC).date().isoformat(),
            }
        },
        lambda: _("The decision on the expert was recorded."),
    ),
    "register": (
        "mutation($i: DelegateRegisterInput!) { delegateRegister(input: $i) "
        "{ registration { id } } }",
        lambda c: {
            "i": {
                "meetingId": c.request.path_params["mid"],
                "stateCode": c.state,
                "name": c.value("name"),
                "function": c.value("function"),
            }
        },
        lambda: _("The delegate was registered."),
    ),
    "briefing": (
        "mutation($i: BriefingProposeInput!) { briefingPropose(input: $i) { briefing { id } } }",
        lambda c: {"i": {"meetingId": c.request.path_params["mid"], "forum": c.value("forum")}},
        lambda: _("The oral briefing was proposed."),
    ),
    "move": (
        "mutation($i: MeetingMoveInput!) { meetingMove(input: $i) { meeting { id } } }",
        lambda c: {
            "i": {
                "id": c.request.path_params["mid"],
                "startDate": c.value("start") or None,
                "endDate": c.value("end") or None,
                "venue": c.value("venue") or None,
            }
        },
        lambda: _("The meeting was moved; its timeline follows."),
    ),
    "cancel": (
        "mutation($i: MeetingRefInput!) { meetingCancel(input: $i) { meeting { id } } }",
        lambda c: {"i": {"id": c.request.path_params["mid"]}},
        lambda: _("The meeting was cancelled."),
    ),
    "lift": (
        "mutation($i: ConfidentialityLiftInput!) { confidentialityLift(input: $i) "
        "{ meeting { id } } }",
        lambda c: {
            "i": {
                "meetingId": c.request.path_params["mid"],
                "target": "DOCUMENT" if c.value("document") else "AGENDA",
                "documentId": c.value("document") or None,
                "decidedOn": c.value("decided_on") or None,
            }
        },
        lambda: _("The participants' decision to lift confidentiality was recorded."),
    ),
    "briefing_consensus": (
        "mutation($i: BriefingRefInput!) { briefingConsensusRecord(input: $i) "
        "{ briefing { id } } }",
        _ref,
        lambda: _("The participants' consensus on the briefing was recorded."),
    ),
    "briefing_object": (
        "mutation($i: BriefingObjectInput!) { briefingObject(input: $i) { briefing { id } } }",
        lambda c: {"i": {"id": c.value("id"), "presentationId": c.value("presentation")}},
        lambda: _("Your presentation is left out of the briefing."),
    ),
    "briefing_consent": (
        "mutation($i: BriefingAttributionConsentInput!) { briefingAttributionConsent(input: $i) "
        "{ briefing { id } } }",
        lambda c: {"i": {"id": c.value("id"), "stateCode": c.state}},
        lambda: _("Your State may be named in the briefing."),
    ),
}


def codes(text: str) -> list[str]:
    return [c.strip().upper() for c in text.replace(";", ",").split(",") if c.strip()]


async def act(ctx: Ctx) -> Response:
    action = ctx.request.path_params["action"]
    if action not in ACTIONS:
        return await ctx.render("error.html", status=404, title=_("Not found"), message="")
    document, variables, done = ACTIONS[action]
    await ctx.mutate(document, variables(ctx), done())
    return ctx.redirect(back(ctx))


async def calendar_link(ctx: Ctx) -> Response:
    """A personal calendar feed link: its URL is shown once, in the flash."""
    if ctx.value("revoke"):
        await ctx.mutate(
            "mutation($i: CalendarFeedLinkRevokeInput!) { calendarFeedLinkRevoke(input: $i) "
            "{ link { id } } }",
            {"i": {"id": ctx.value("revoke")}},
            _("The calendar link was revoked."),
        )
        return ctx.redirect("/meetings")
    answer = await ctx.api(
        "mutation($i: CalendarFeedLinkCreateInput!) { calendarFeedLinkCreate(input: $i) "
        "{ url link { id } } }",
        {"i": {"label": ctx.value("label")[:100]}},
    )
    created = answer.data.get("calendarFeedLinkCreate")
    if created:
        url = ctx.console.settings.gateway_url.rstrip("/") + created["url"]
        ctx.session.flash(
            "ok", _("Subscribe your calendar to %(url)s (shown only once).") % {"url": url}
        )
    for refusal in answer.refusals:
        ctx.session.flash("refusal", refusal.message)
    return ctx.redirect("/meetings")


async def schedule(ctx: Ctx) -> Response:
    """The Secretariat: a session, or a meeting in a session."""
    if ctx.value("what") == "session":
        await ctx.mutate(
            "mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { session { id } } }",
            {
                "i": {
                    "kind": ctx.value("kind"),
                    "name": ctx.value("name"),
                    "startDate": ctx.value("start") or None,
                    "endDate": ctx.value("end") or None,
                }
            },
            _("The session was created."),
        )
    else:
        await ctx.mutate(
            "mutation($i: MeetingScheduleInput!) { meetingSchedule(input: $i) { meeting { id } } }",
            {
                "i": {
                    "sessionId": ctx.value("session"),
                    "startDate": ctx.value("start") or None,
                    "endDate": ctx.value("end") or None,
                    "venue": ctx.value("venue"),
                    "decidedBy": ctx.value("decided_by"),
                    "decidedOn": ctx.value("decided_on") or None,
                }
            },
            _("The meeting was scheduled."),
        )
    return ctx.redirect("/meetings")
