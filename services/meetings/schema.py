"""The meetings subgraph: types, queries and mutations. Resolvers only call handlers.

Rule 17: there is no type, field or mutation for minutes, a report or debate content.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import strawberry
from bson import ObjectId
from strawberry.file_uploads import Upload
from strawberry.types import Info

from services.common.batching import batched
from services.common.context import RequestContext
from services.common.entities import object_ids
from services.common.errors import DiefError, ValidationFailed
from services.common.ids import from_global_id, to_global_id
from services.common.mongo import run_sync
from services.common.notifications.kinds import Audience
from services.common.notifications.schema import delivery_fields
from services.common.pagination import Connection, connection, page_bounds
from services.common.principal import require_authenticated
from services.common.ranged_pages import paginate_ranged
from services.common.schema import SubgraphSchema
from services.meetings import agenda, domain, experts, handlers, notices, participation, timeline
from services.meetings import documents as docs
from services.meetings import presentations as rule12
from services.meetings.feed_links_schema import CalendarFeedLinkMutation, CalendarFeedLinkQuery
from services.meetings.mailer import deliver_due
from services.meetings.notices_schema import Notice, NoticesMutation, NoticesQuery
from services.meetings.notify import caller_is_state_party
from services.meetings.services import MeetingsServices
from services.meetings.telling import (
    told_of_agenda,
    told_of_expert,
    told_of_meeting,
    told_of_notification,
    told_of_response,
)

Ctx = Info[RequestContext, None]
T = TypeVar("T")
S = TypeVar("S")

AUTHENTICATED = True
ORGANISERS = [["secretariat"], ["chair"]]
SECRETARIAT = [["secretariat"]]
PARTICIPANTS = [["participant"]]
PARTICIPANTS_OR_SECRETARIAT = [["participant"], ["secretariat"]]

SessionKind = strawberry.enum(domain.SessionKind, description="Rule 3: where the Forum meets.")
MeetingStatus = strawberry.enum(domain.MeetingStatus, description="Whether a meeting is on.")
AgendaStatus = strawberry.enum(
    agenda.AgendaStatus, description="Rule 10: a draft, distributed, then adopted (frozen)."
)
TimelineItemKind = strawberry.enum(timeline.TimelineItemKind, description="A due item.")
TimelineStatus = strawberry.enum(timeline.TimelineStatus, description="Where a due item stands.")
ExpertPresenterPosition = strawberry.enum(
    experts.PresenterPosition,
    description="Rule 8: the presenting State's position on an expert proposed for its "
    "presentation.",
)
ExpertProposalStatus = strawberry.enum(
    experts.ExpertProposalStatus, description="Rule 8: where a non-state expert proposal stands."
)
ExpertDecision = strawberry.enum(
    experts.ExpertDecision, description="Rule 8: the participants' procedural decision."
)
DelegateFunction = strawberry.enum(
    participation.DelegateFunction, description="Rule 7: what a delegate does at home."
)
RunningOrderKind = strawberry.enum(
    rule12.RunningOrderKind, description="Rule 12: an item, a presentation, or a right of reply."
)


@strawberry.enum(description="Rule 14: what the participants made non-confidential.")
class ConfidentialityTarget(StrEnum):
    AGENDA = "AGENDA"
    DOCUMENT = "DOCUMENT"


@strawberry.enum(description="Rule 22: whom the Chair would brief.")
class BriefingForum(StrEnum):
    WGETI = "WGETI"
    CSP = "CSP"


def services(info: Ctx) -> MeetingsServices:
    return info.context.request.app.state.meetings


def now(info: Ctx) -> datetime:
    return services(info).clock()


def paginate_list(
    items: Sequence[S], first: int | None, after: str | None, to_node: Callable[[S], T]
) -> Connection[T]:
    offset, limit = page_bounds(first, after)
    page = [to_node(x) for x in items[offset : offset + limit]]
    return connection(page, offset, total=len(items))


def oid_of(global_id: str, kind: str, field: str = "id") -> ObjectId:
    return from_global_id(global_id, kind, field=field)


# --- types -------------------------------------------------------------------------------


@strawberry.type(description="Rule 3: a session of preparatory meetings or a CSP.")
class Session:
    id: strawberry.ID
    kind: SessionKind
    name: str
    start_date: date
    end_date: date

    @classmethod
    def from_doc(cls, doc: docs.Session) -> Session:
        return cls(
            id=strawberry.ID(to_global_id("Session", doc.pk)),
            kind=doc.kind,
            name=doc.name,
            start_date=doc.start_date,
            end_date=doc.end_date,
        )


@strawberry.type(description="Rule 4: a Chair's appointment and term.")
class ChairTerm:
    chair: str = strawberry.field(description="The Chair's name.")
    appointed_on: date
    term_ends_on: date | None = strawberry.field(
        description="The last day of the following CSP; null while it has no dates."
    )
    ended_on: date | None = strawberry.field(
        default=None, description="Ended early, explicitly, by the next appointment (rule 4)."
    )


@strawberry.type(description="One due item of a meeting's timeline (whole UTC days).")
class TimelineItem:
    kind: TimelineItemKind
    due_on: date = strawberry.field(description="The last day the act is on time.")
    status: TimelineStatus
    done_on: date | None = strawberry.field(description="When it was done (last act).")
    rule: int = strawberry.field(description="The rule of the Terms of Reference.")


@strawberry.type(description="One notice email (rule 9: the invitation's) and how it went.")
class Delivery:
    state: str = strawberry.field(description="The participant State of the address.")
    email: str
    role: str | None = strawberry.field(description="The contact role it was chosen for.")
    encrypted: bool = strawberry.field(description="Sent encrypted to the contact's key.")
    status: str = strawberry.field(description="PENDING, SENT or FAILED (after every retry).")
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None

    @classmethod
    def from_doc(cls, d: docs.Delivery) -> Delivery:
        return cls(
            **delivery_fields(d),
            sent_at=d.sent_at,
            next_attempt_at=d.next_attempt_at,
        )


@strawberry.type(description="Rule 9: the invitation, with the call for presentations.")
class Invitation:
    meeting_id: strawberry.Private[ObjectId]
    issued_at: datetime
    call_for_presentations: str
    late: bool = strawberry.field(description="Issued after the 50-day mark.")
    late_reason: str | None = strawberry.field(description="The Secretariat's reason, if late.")
    recipient_count: int
    unreachable_state_codes: list[str] = strawberry.field(
        description="Participant States with no contact to tell (none of the roles they "
        "chose, no alternate): reported, never skipped silently."
    )
    start_date: date = strawberry.field(description="The date the invitation named.")
    venue: str = strawberry.field(description="The venue the invitation named.")

    @strawberry.federation.field(
        description="Each email, for the Secretariat and the Chair.", policy=ORGANISERS
    )
    async def deliveries(self, info: Ctx) -> list[Delivery]:
        found = await run_sync(handlers.deliveries, info.context.principal, self.meeting_id)
        return [Delivery.from_doc(d) for d in found]


@strawberry.type(description="Rule 7: the participation figures of a meeting.")
class FunctionCount:
    function: DelegateFunction
    count: int


@strawberry.type(description="Rule 7: who came, and how many enforcement officers.")
class ParticipationFigures:
    delegates: int
    states: int
    enforcement_officers: int
    by_function: list[FunctionCount]


@strawberry.type(description="Rules 6 and 7: a delegate registered for a meeting.")
class Registration:
    id: strawberry.ID
    state_code: str
    name: str
    function: DelegateFunction
    registered_at: datetime


@strawberry.type(description="Rule 12: one step of the running order.")
class RunningOrderEntry:
    kind: RunningOrderKind
    agenda_item_id: strawberry.ID
    presentation_id: strawberry.ID | None
    state_code: str | None = strawberry.field(description="For a right of reply: who replies.")


@strawberry.type(description="Rule 12: the Chair changed the running order (recorded).")
class RunningOrderChange:
    changed_by: str
    changed_at: datetime
    reason: str | None


@strawberry.type(description="Rule 14: the participants lifted confidentiality.")
class ConfidentialityDecision:
    target: ConfidentialityTarget
    document_id: strawberry.ID | None
    decided_on: date
    recorded_at: datetime


@strawberry.type(description="Rule 22: a proposed oral briefing by the Chair.")
class Briefing:
    id: strawberry.ID
    forum: BriefingForum
    proposed_at: datetime
    consensus_recorded_at: datetime | None
    may_brief: bool = strawberry.field(description="The participants agreed by consensus.")
    excluded_presentation_ids: list[strawberry.ID] = strawberry.field(
        description="Presentations whose State objected: left out of the briefing."
    )
    attributable_state_codes: list[str] = strawberry.field(
        description="States that consented to be named."
    )

    @classmethod
    def from_doc(cls, b: docs.Briefing) -> Briefing:
        consented = [c.state for c in b.attribution_consents]
        return cls(
            id=strawberry.ID(to_global_id("Briefing", b.pk)),
            forum=BriefingForum(b.forum),
            proposed_at=b.proposed_at,
            consensus_recorded_at=b.consensus_recorded_at,
            may_brief=b.consensus_recorded_at is not None,
            excluded_presentation_ids=[
                strawberry.ID(to_global_id("Presentation", o.presentation_id))
                for o in b.case_objections
            ],
            attributable_state_codes=sorted(consented),
        )


@strawberry.type(description="Rules 10 and 23: a supporting document (file in GridFS).")
class Document:
    id: strawberry.ID
    filename: str
    media_type: str
    language: str = strawberry.field(description="One of ar, zh, en, fr, ru, es.")
    size: int
    sha256: str
    uploaded_at: datetime
    download_path: str = strawberry.field(description="GET it with the same token.")

    @classmethod
    def from_doc(cls, d: docs.MeetingDocument) -> Document:
        gid = to_global_id("Document", d.pk)
        return cls(
            id=strawberry.ID(gid),
            filename=d.filename,
            media_type=d.media_type,
            language=d.language,
            size=d.size,
            sha256=d.sha256,
            uploaded_at=d.uploaded_at,
            download_path=f"/meetings/documents/{gid}",
        )


@strawberry.type(description="Rule 12: an involved State was notified.")
class InvolvedStateNotification:
    state_code: str
    notified_at: datetime
    reply_due_on: date = strawberry.field(description="The day the response is asked for.")
    late: bool = strawberry.field(default=False, description="After the 30-day mark.")
    late_reason: str | None = strawberry.field(default=None, description="Why it was late.")


@strawberry.type(description="Rule 12: an involved State's response, part of the presentation.")
class InvolvedStateResponse:
    state_code: str
    response: str
    at: datetime


def _presentation_pages(info: Ctx) -> Callable[[list[Any]], Awaitable[list[Any]]]:
    principal = info.context.principal

    def pages(keys: list[tuple[str, int | None, str | None]]) -> list[Any]:
        by_state = handlers.presentations_of_states(principal, [code for code, _, _ in keys])
        out: list[Any] = []
        for code, first, after in keys:
            try:
                out.append(paginate_list(by_state.get(code.upper(), []), first, after, lambda d: d))
            except DiefError as refusal:
                out.append(refusal)
        starts = handlers.meeting_start_dates(
            {e.node.meeting_id for c in out if isinstance(c, Connection) for e in c.edges}
        )
        for page in out:
            if isinstance(page, Connection):
                for edge in page.edges:
                    edge.node = Presentation.from_doc(
                        edge.node, starts.get(edge.node.meeting_id, date.min)
                    )
        return out

    async def load(keys: list[Any]) -> list[Any]:
        return await run_sync(pages, keys)

    return load


def _meeting_pages(info: Ctx) -> Callable[[list[Any]], Awaitable[list[Any]]]:
    principal = info.context.principal

    def pages(keys: list[tuple[str, int | None, str | None]]) -> list[Any]:
        by_state = handlers.meetings_of_states(principal, [code for code, _, _ in keys])
        out: list[Any] = []
        for code, first, after in keys:
            try:
                found = by_state.get(code.upper(), [])
                out.append(paginate_list(found, first, after, Meeting.from_doc))
            except DiefError as refusal:
                out.append(refusal)
        return out

    async def load(keys: list[Any]) -> list[Any]:
        return await run_sync(pages, keys)

    return load


@strawberry.federation.type(
    keys=["code"], authenticated=True, description="A State (defined by the contacts service)."
)
class State:
    code: strawberry.ID

    @classmethod
    def resolve_reference(cls, code: strawberry.ID) -> State:
        return cls(code=code)

    @strawberry.field(description="The presentations this State gave or intends to give.")
    async def presentations(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[Presentation] | None:
        # The States of one entity request are answered together: one find of their
        # presentations, one of the first days of the meetings on their pages.
        key = (str(self.code), first, after)
        return await batched(info, "State.presentations", _presentation_pages(info), key)

    @strawberry.field(description="Rule 7: the meetings this State registered delegates for.")
    async def meetings_participated(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[Meeting] | None:
        # The States of one entity request are answered together: one find of their
        # registrations, one of the meetings.
        key = (str(self.code), first, after)
        return await batched(info, "State.meetingsParticipated", _meeting_pages(info), key)


@strawberry.federation.type(
    keys=["id"], authenticated=True, description="An item of a meeting's agenda (rule 10)."
)
class AgendaItem:
    id: strawberry.ID
    meeting_id: strawberry.ID
    position: int
    title: str
    presentation_id: strawberry.ID | None

    @classmethod
    def from_doc(cls, d: docs.AgendaItem) -> AgendaItem:
        return cls(
            id=strawberry.ID(to_global_id("AgendaItem", d.pk)),
            meeting_id=strawberry.ID(to_global_id("Meeting", d.meeting_id)),
            position=d.position,
            title=d.title,
            presentation_id=(
                strawberry.ID(to_global_id("Presentation", d.presentation_id))
                if d.presentation_id
                else None
            ),
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> AgendaItem:
        oid = oid_of(id, "AgendaItem")
        return cls.from_doc(await run_sync(handlers.load_agenda_item, info.context.principal, oid))

    @strawberry.field(description="Its supporting documents (rules 10, 23).")
    async def documents(self, info: Ctx) -> list[Document]:
        oid = oid_of(self.id, "AgendaItem")
        found = await run_sync(handlers.documents_of_item, info.context.principal, oid)
        return [Document.from_doc(d) for d in found]


@strawberry.federation.type(
    keys=["id"], authenticated=True, description="A State's presentation (rules 11, 12)."
)
class Presentation:
    id: strawberry.ID
    meeting_id: strawberry.ID
    presenting_state_code: str
    title: str
    involved_state_codes: list[str] = strawberry.field(
        description="Rule 12: the other States it involves."
    )
    intended_at: datetime = strawberry.field(description="Rule 11: when it was announced.")
    notifications: list[InvolvedStateNotification]
    responses: list[InvolvedStateResponse] = strawberry.field(
        description="Rule 12: the involved States' responses, part of the presentation."
    )
    agenda_item_id: strawberry.ID | None = strawberry.field(
        description="Its item once on the agenda."
    )
    notified_in_time: bool = strawberry.field(
        description="Rule 12: every involved State was notified 30 days ahead."
    )
    chair_keeps: bool | None = strawberry.field(
        default=None,
        description="Rule 12, after a late notification: the Chair's decision whether it "
        "stays on the agenda (null: not decided).",
    )

    @classmethod
    def from_doc(cls, d: docs.Presentation, start_date: date | None = None) -> Presentation:
        if start_date is None:
            meeting = docs.Meeting.objects(pk=d.meeting_id).only("start_date").first()
            start_date = meeting.start_date if meeting else date.min
        return cls(
            id=strawberry.ID(to_global_id("Presentation", d.pk)),
            meeting_id=strawberry.ID(to_global_id("Meeting", d.meeting_id)),
            presenting_state_code=d.presenting_state,
            title=d.title,
            involved_state_codes=list(d.involved_states),
            intended_at=d.intended_at,
            notifications=[
                InvolvedStateNotification(
                    state_code=n.state,
                    notified_at=n.notified_at,
                    reply_due_on=n.reply_due_on,
                    late=n.late_reason is not None,
                    late_reason=n.late_reason,
                )
                for n in d.notifications
            ],
            responses=[
                InvolvedStateResponse(state_code=r.state, response=r.text, at=r.at)
                for r in d.responses
            ],
            agenda_item_id=(
                strawberry.ID(to_global_id("AgendaItem", d.agenda_item_id))
                if d.agenda_item_id
                else None
            ),
            notified_in_time=rule12.notified_in_time(
                start_date, d.involved_states, {n.state: n.notified_at for n in d.notifications}
            ),
            chair_keeps=d.chair_keeps,
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Presentation:
        oid = oid_of(id, "Presentation")
        doc = await run_sync(handlers.visible_presentation, info.context.principal, oid)
        return await run_sync(cls.from_doc, doc)

    @classmethod
    async def resolve_references(cls, info: Ctx, keys: list[dict[str, Any]]) -> list[Any]:
        def answer() -> list[Any]:
            found = handlers.visible_presentations(
                info.context.principal, object_ids(keys, "Presentation")
            )
            return [f if isinstance(f, Exception) else cls.from_doc(*f) for f in found]

        return await run_sync(answer)

    @strawberry.field(description="The presenting State.")
    def presenting_state(self) -> State:
        return State(code=strawberry.ID(self.presenting_state_code))

    @strawberry.field(description="Rule 12: the States it involves.")
    def involved_states(self) -> list[State]:
        return [State(code=strawberry.ID(c)) for c in self.involved_state_codes]

    @strawberry.field(description="Its documents (also for the expert approved for it).")
    async def documents(self, info: Ctx) -> list[Document]:
        if self.agenda_item_id is None:
            return []
        oid = oid_of(self.agenda_item_id, "AgendaItem")
        found = await run_sync(handlers.documents_of_item, info.context.principal, oid)
        return [Document.from_doc(d) for d in found]


@strawberry.type(description="Rule 8: a participant's objection.")
class ExpertObjection:
    state_code: str
    at: datetime


@strawberry.type(description="Rule 8: a recorded consultation between the States.")
class ExpertConsultation:
    state_code: str
    at: datetime


@strawberry.federation.type(
    keys=["id"], authenticated=True, description="Rule 8: a proposed non-state expert."
)
class ExpertProposal:
    id: strawberry.ID
    meeting_id: strawberry.ID
    presentation_id: strawberry.ID
    proposing_state_code: str
    presenting_state_code: str | None = strawberry.field(
        description="The State whose presentation the expert would attend (and read)."
    )
    presenter_position: ExpertPresenterPosition = strawberry.field(
        description="Rule 8: where the presenting State stands on this proposal (its "
        "objection in the silence procedure is its say)."
    )
    expert_name: str
    purpose: str
    status: ExpertProposalStatus
    proposed_at: datetime
    silence_ends_on: date = strawberry.field(
        description="Rule 8: the last day of the 5-day silence procedure."
    )
    objections: list[ExpertObjection]
    consultations: list[ExpertConsultation]
    decision: ExpertDecision | None = strawberry.field(
        description="Rule 8: the participants' procedural decision, once referred."
    )
    decided_on: date | None
    approved: bool = strawberry.field(description="The expert may attend their presentation.")

    @classmethod
    def from_doc(cls, d: docs.ExpertProposal) -> ExpertProposal:
        return cls(
            id=strawberry.ID(to_global_id("ExpertProposal", d.pk)),
            meeting_id=strawberry.ID(to_global_id("Meeting", d.meeting_id)),
            presentation_id=strawberry.ID(to_global_id("Presentation", d.presentation_id)),
            proposing_state_code=d.proposing_state,
            presenting_state_code=d.presenting_state,
            presenter_position=experts.presenter_position(
                d.presenting_state or "",
                d.proposing_state,
                [(o.state, o.withdrawn_at is not None) for o in d.objections],
            ),
            expert_name=d.expert_name,
            purpose=d.purpose,
            status=d.status,
            proposed_at=d.proposed_at,
            silence_ends_on=d.silence_ends_on,
            objections=[ExpertObjection(state_code=o.state, at=o.at) for o in d.objections],
            consultations=[
                ExpertConsultation(state_code=c.state, at=c.at) for c in d.consultations
            ],
            decision=d.decision,
            decided_on=d.decided_on,
            approved=experts.is_approved(d.status, d.decision),
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> ExpertProposal:
        oid = oid_of(id, "ExpertProposal")
        return cls.from_doc(await run_sync(handlers.visible_proposal, info.context.principal, oid))


@strawberry.federation.type(
    keys=["id"], authenticated=True, description="A Forum meeting (rules 3-12, 14, 22)."
)
class Meeting:
    id: strawberry.ID
    start_date: date = strawberry.field(description="First day (UTC).")
    end_date: date = strawberry.field(description="Last day (UTC).")
    venue: str
    status: MeetingStatus
    decided_by: str = strawberry.field(description="Rule 3: the CSP President who decided.")
    decided_on: date = strawberry.field(description="Rule 3: when the President decided.")
    agenda_status: AgendaStatus
    agenda_distributed_at: datetime | None
    agenda_late_reason: str | None = strawberry.field(
        default=None, description="Rule 10: why the draft agenda went out late, if it did."
    )
    agenda_adopted_at: datetime | None
    session_id: strawberry.Private[ObjectId]
    doc: strawberry.Private[docs.Meeting]

    @classmethod
    def from_doc(cls, d: docs.Meeting) -> Meeting:
        return cls(
            id=strawberry.ID(to_global_id("Meeting", d.pk)),
            start_date=d.start_date,
            end_date=d.end_date,
            venue=d.venue,
            status=d.status,
            decided_by=d.decided_by,
            decided_on=d.decided_on,
            agenda_status=d.agenda_status,
            agenda_distributed_at=d.agenda_distributed_at,
            agenda_late_reason=d.agenda_late_reason,
            agenda_adopted_at=d.agenda_adopted_at,
            session_id=d.session_id,
            doc=d,
        )

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Meeting:
        oid = oid_of(id, "Meeting")
        return cls.from_doc(await run_sync(handlers.visible_meeting, info.context.principal, oid))

    @classmethod
    async def resolve_references(cls, info: Ctx, keys: list[dict[str, Any]]) -> list[Any]:
        found = await run_sync(
            handlers.visible_meetings, info.context.principal, object_ids(keys, "Meeting")
        )
        return [f if isinstance(f, Exception) else cls.from_doc(f) for f in found]

    @property
    def oid(self) -> ObjectId:
        return self.doc.pk

    @strawberry.field(description="Rule 3: the session it belongs to.")
    async def session(self) -> Session:
        return Session.from_doc(await run_sync(handlers.load_session, self.session_id))

    @strawberry.field(description="Rule 9: the invitation, once issued.")
    def invitation(self) -> Invitation | None:
        inv = self.doc.invitation
        if inv is None:
            return None
        return Invitation(
            meeting_id=self.oid,
            issued_at=inv.issued_at,
            call_for_presentations=inv.call_for_presentations,
            late=inv.late_reason is not None,
            late_reason=inv.late_reason,
            recipient_count=inv.recipient_count,
            unreachable_state_codes=list(inv.unreachable_state_codes or []),
            start_date=inv.start_date,
            venue=inv.venue,
        )

    @strawberry.field(description="Every due date of the Terms of Reference for this meeting.")
    async def timeline(self, info: Ctx) -> list[TimelineItem]:
        items = await run_sync(handlers.timeline, info.context.principal, self.oid, now(info))
        return [
            TimelineItem(
                kind=i.kind, due_on=i.due_on, status=i.status, done_on=i.done_on, rule=i.rule
            )
            for i in items
        ]

    @strawberry.field(description="Rule 10: the agenda, in order.")
    async def agenda_items(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[AgendaItem]:
        found = await run_sync(handlers.agenda_items, info.context.principal, self.oid)
        return paginate_list(found, first, after, AgendaItem.from_doc)

    @strawberry.field(
        description="Rule 12: who changed the running order, when and why, oldest first."
    )
    def running_order_changes(self) -> list[RunningOrderChange]:
        return [
            RunningOrderChange(changed_by=c.changed_by, changed_at=c.changed_at, reason=c.reason)
            for c in self.doc.running_order_changes
        ]

    @strawberry.field(
        description="Rule 12: the running order, with every right of reply: the adopted "
        "agenda's order (each presentation, then its replies) unless the Chair changed it."
    )
    async def running_order(self, info: Ctx) -> list[RunningOrderEntry]:
        entries = await run_sync(handlers.running_order, info.context.principal, self.oid)
        return [
            RunningOrderEntry(
                kind=e.kind,
                agenda_item_id=strawberry.ID(to_global_id("AgendaItem", e.item_id)),
                presentation_id=(
                    strawberry.ID(to_global_id("Presentation", e.presentation_id))
                    if e.presentation_id
                    else None
                ),
                state_code=e.state,
            )
            for e in entries
        ]

    @strawberry.field(description="Rules 11, 12: presentations announced for this meeting.")
    async def presentations(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[Presentation]:
        found = await run_sync(handlers.presentations_of_meeting, info.context.principal, self.oid)
        start = self.start_date
        return paginate_list(found, first, after, lambda p: Presentation.from_doc(p, start))

    @strawberry.field(description="Rule 8: non-state expert proposals.")
    async def expert_proposals(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[ExpertProposal]:
        found = await run_sync(handlers.proposals_of_meeting, info.context.principal, self.oid)
        return paginate_list(found, first, after, ExpertProposal.from_doc)

    @strawberry.field(description="Rules 6, 7: registered delegates.")
    async def registrations(
        self, info: Ctx, first: int | None = None, after: str | None = None
    ) -> Connection[Registration]:
        found = await run_sync(handlers.registrations, info.context.principal, self.oid)
        return paginate_list(
            found,
            first,
            after,
            lambda r: Registration(
                id=strawberry.ID(to_global_id("Registration", r.pk)),
                state_code=r.state,
                name=r.name,
                function=r.function,
                registered_at=r.registered_at,
            ),
        )

    @strawberry.field(description="Rule 7: participation figures.")
    async def participation(self, info: Ctx) -> ParticipationFigures:
        f = await run_sync(handlers.figures, info.context.principal, self.oid)
        return ParticipationFigures(
            delegates=f.delegates,
            states=f.states,
            enforcement_officers=f.enforcement_officers,
            by_function=[FunctionCount(function=k, count=v) for k, v in f.by_function.items()],
        )

    @strawberry.field(description="Rule 22: proposed oral briefings.")
    async def briefings(self, info: Ctx) -> list[Briefing]:
        found = await run_sync(handlers.briefings, info.context.principal, self.oid)
        return [Briefing.from_doc(b) for b in found]

    @strawberry.field(description="Rule 14: decisions lifting confidentiality.")
    def confidentiality_decisions(self) -> list[ConfidentialityDecision]:
        return [
            ConfidentialityDecision(
                target=ConfidentialityTarget(d.target),
                document_id=(
                    strawberry.ID(to_global_id("Document", d.document_id))
                    if d.document_id
                    else None
                ),
                decided_on=d.decided_on,
                recorded_at=d.recorded_at,
            )
            for d in self.doc.confidentiality
        ]


# --- inputs and payloads -----------------------------------------------------------------


@strawberry.input(description="Rule 3: a session of preparatory meetings or a CSP.")
class SessionCreateInput:
    kind: SessionKind
    name: str
    start_date: date
    end_date: date


@strawberry.input(description="Rule 3: schedule a meeting as the CSP President decided.")
class MeetingScheduleInput:
    session_id: strawberry.ID
    start_date: date
    end_date: date
    venue: str
    decided_by: str = strawberry.field(description="The CSP President who decided.")
    decided_on: date


@strawberry.input(description="New dates (and venue) for a meeting.")
class MeetingMoveInput:
    id: strawberry.ID
    start_date: date
    end_date: date
    venue: str | None = None


@strawberry.input(description="Names one meeting.")
class MeetingRefInput:
    id: strawberry.ID


@strawberry.input(description="Rule 12: one step of the running order the Chair sets.")
class RunningOrderStepInput:
    kind: RunningOrderKind
    agenda_item_id: strawberry.ID
    state_code: str | None = strawberry.field(
        default=None, description="For a right of reply: who replies."
    )


@strawberry.input(description="Rule 12: the Chair's running order of the adopted agenda.")
class RunningOrderSetInput:
    meeting_id: strawberry.ID
    steps: list[RunningOrderStepInput] = strawberry.field(
        description="Every item of the adopted agenda once, in order. A right of reply left "
        "out stays right after its presentation; one placed comes after it."
    )
    reason: str | None = None


@strawberry.input(description="Rule 4: the CSP President appointed a Chair.")
class ChairAppointInput:
    chair: str
    appointed_on: date
    appointed_by: str = strawberry.field(description="The CSP President.")
    end_previous_term: bool = strawberry.field(
        default=False,
        description="Rule 4: end the term in force the day before; without it an "
        "overlapping appointment is refused.",
    )


@strawberry.input(description="Rule 9: issue the invitation.")
class InvitationIssueInput:
    meeting_id: strawberry.ID
    call_for_presentations: str
    late_reason: str | None = strawberry.field(
        default=None, description="Required (and shown) when issued after the 50-day mark."
    )


@strawberry.input(description="Rule 10: add an item to the draft agenda.")
class AgendaItemAddInput:
    meeting_id: strawberry.ID
    title: str


@strawberry.input(description="Rules 10, 23: attach a document to an agenda item.")
class DocumentAttachInput:
    agenda_item_id: strawberry.ID
    filename: str
    media_type: str
    language: str = strawberry.field(description="ar, zh, en, fr, ru or es.")
    file: Upload | None = strawberry.field(
        default=None,
        description="The file, as a part of a multipart request (the GraphQL multipart "
        "request specification); up to the document limit.",
    )
    content_base64: str | None = strawberry.field(
        default=None, description="Or the file in base64, for small files only."
    )


@strawberry.input(description="Rule 14: the participants lifted confidentiality.")
class ConfidentialityLiftInput:
    meeting_id: strawberry.ID
    target: ConfidentialityTarget
    decided_on: date
    document_id: strawberry.ID | None = None


@strawberry.input(description="Rule 11: a State intends to present.")
class PresentationIntendInput:
    meeting_id: strawberry.ID
    state_code: str
    title: str
    involved_state_codes: list[str] = strawberry.field(default_factory=list)


@strawberry.input(description="Names one presentation.")
class PresentationRefInput:
    id: strawberry.ID


@strawberry.input(description="Rule 12: the Chair decides whether a late presentation stays.")
class PresentationLateDecideInput:
    id: strawberry.ID
    keep: bool


@strawberry.input(description="Rule 12: an involved State's response.")
class PresentationRespondInput:
    id: strawberry.ID
    state_code: str
    response: str


@strawberry.input(description="Rule 8: propose a non-state expert for a presentation.")
class ExpertProposalCreateInput:
    presentation_id: strawberry.ID
    expert_name: str
    expert_subject: str = strawberry.field(description="The identity the expert signs in with.")
    purpose: str


@strawberry.input(description="Names one expert proposal.")
class ExpertProposalRefInput:
    id: strawberry.ID


@strawberry.input(description="Rule 8: the participants' procedural decision.")
class ExpertProposalDecideInput:
    id: strawberry.ID
    decision: ExpertDecision
    decided_on: date


@strawberry.input(description="Rules 6, 7: register a delegate of one's own State.")
class DelegateRegisterInput:
    meeting_id: strawberry.ID
    state_code: str
    name: str
    function: DelegateFunction


@strawberry.input(description="Rule 22: propose an oral briefing.")
class BriefingProposeInput:
    meeting_id: strawberry.ID
    forum: BriefingForum


@strawberry.input(description="Names one briefing.")
class BriefingRefInput:
    id: strawberry.ID


@strawberry.input(description="Rule 22: a presenting State objects to a briefing on its case.")
class BriefingObjectInput:
    id: strawberry.ID
    presentation_id: strawberry.ID


@strawberry.input(description="Rule 22: a State consents to being named.")
class BriefingAttributionConsentInput:
    id: strawberry.ID
    state_code: str


@strawberry.type(description="The session.")
class SessionPayload:
    session: Session


@strawberry.type(description="The meeting after the change.")
class MeetingPayload:
    meeting: Meeting
    notice: Notice | None = strawberry.field(
        default=None, description="What the participants were told, with who could not be."
    )


@strawberry.type(description="The Chair's term.")
class ChairPayload:
    chair_term: ChairTerm


@strawberry.type(description="The agenda item.")
class AgendaItemPayload:
    agenda_item: AgendaItem


@strawberry.type(description="The document.")
class DocumentPayload:
    document: Document


@strawberry.type(description="The presentation after the change.")
class PresentationPayload:
    presentation: Presentation
    notice: Notice | None = strawberry.field(
        default=None, description="What the States concerned were told, and who could not be."
    )


@strawberry.type(description="The expert proposal after the change.")
class ExpertProposalPayload:
    expert_proposal: ExpertProposal
    notice: Notice | None = strawberry.field(
        default=None, description="What the States concerned were told, and who could not be."
    )


@strawberry.type(description="The registration.")
class RegistrationPayload:
    registration: Registration


@strawberry.type(description="The briefing after the change.")
class BriefingPayload:
    briefing: Briefing


def _term(a: domain.ChairAppointment) -> ChairTerm:
    return ChairTerm(
        chair=a.chair,
        appointed_on=a.appointed_on,
        term_ends_on=a.term_ends_on,
        ended_on=a.ended_on,
    )


async def document_content(file: Any, content_base64: str | None, max_bytes: int) -> bytes:
    """The uploaded file (read no further than the limit) or the base64 content: one of them."""
    if (file is None) == (content_base64 is None):
        raise ValidationFailed("Give the document as file or as contentBase64.", field="file")
    if content_base64 is not None:
        return decode_content(content_base64, max_bytes)
    content = await file.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise ValidationFailed(f"The document is larger than {max_bytes} bytes.", field="content")
    return content


def decode_content(content_base64: str, max_bytes: int) -> bytes:
    if len(content_base64) > (max_bytes * 4) // 3 + 4:
        raise ValidationFailed(f"The document is larger than {max_bytes} bytes.", field="content")
    try:
        return base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed("contentBase64 is not base64.", field="contentBase64") from exc


# --- root types --------------------------------------------------------------------------


@strawberry.type
class Query(CalendarFeedLinkQuery, NoticesQuery):
    @strawberry.federation.field(description="Rule 3: sessions.", authenticated=AUTHENTICATED)
    async def sessions(self, info: Ctx) -> list[Session] | None:
        found = await run_sync(handlers.list_sessions, info.context.principal)
        return [Session.from_doc(s) for s in found]

    @strawberry.federation.field(description="One meeting (rule 14).", authenticated=True)
    async def meeting(self, info: Ctx, id: strawberry.ID) -> Meeting | None:
        return await Meeting.resolve_reference(info, id)

    @strawberry.federation.field(description="Meetings, by first day.", authenticated=True)
    async def meetings(
        self,
        info: Ctx,
        year: int | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Meeting] | None:
        # a page of the meetings, read as a range on the index of their order
        query = await run_sync(handlers.list_meetings, info.context.principal, year)
        return await run_sync(
            lambda: paginate_ranged(query, handlers.CALENDAR, first, after, Meeting.from_doc)
        )

    @strawberry.federation.field(description="Rule 4: the Chair on a day.", authenticated=True)
    async def current_chair(self, info: Ctx, on: date) -> ChairTerm | None:
        found = await run_sync(handlers.current_chair, info.context.principal, on)
        return _term(found) if found else None

    @strawberry.federation.field(description="Rule 4: every appointment.", authenticated=True)
    async def chair_appointments(self, info: Ctx) -> list[ChairTerm] | None:
        return [
            _term(a) for a in await run_sync(handlers.chair_appointments, info.context.principal)
        ]

    @strawberry.federation.field(
        description="One presentation (also for the expert approved for it).", authenticated=True
    )
    async def presentation(self, info: Ctx, id: strawberry.ID) -> Presentation | None:
        return await Presentation.resolve_reference(info, id)

    @strawberry.federation.field(description="One expert proposal.", authenticated=True)
    async def expert_proposal(self, info: Ctx, id: strawberry.ID) -> ExpertProposal | None:
        return await ExpertProposal.resolve_reference(info, id)

    @strawberry.federation.field(description="One agenda item.", authenticated=True)
    async def agenda_item(self, info: Ctx, id: strawberry.ID) -> AgendaItem | None:
        return await AgendaItem.resolve_reference(info, id)


def _meeting_payload(doc: docs.Meeting) -> MeetingPayload:
    return MeetingPayload(meeting=Meeting.from_doc(doc))


async def _on_proposal(
    info: Ctx, handler: Callable[..., Any], proposal_id: strawberry.ID, *args: Any
) -> ExpertProposalPayload:
    """A rule-8 step on an existing proposal: the caller, the clock, the proposal, then the
    step's own arguments."""
    doc = await run_sync(
        handler, info.context.principal, now(info), oid_of(proposal_id, "ExpertProposal"), *args
    )
    return ExpertProposalPayload(expert_proposal=ExpertProposal.from_doc(doc))


async def _presentation_payload(doc: docs.Presentation) -> PresentationPayload:
    return PresentationPayload(presentation=await run_sync(Presentation.from_doc, doc))


@strawberry.type
class Mutation(CalendarFeedLinkMutation, NoticesMutation):
    @strawberry.federation.mutation(description="Rule 3: record a session.", policy=SECRETARIAT)
    async def session_create(self, info: Ctx, input: SessionCreateInput) -> SessionPayload | None:
        doc = await run_sync(
            handlers.create_session,
            info.context.principal,
            input.kind,
            input.name,
            input.start_date,
            input.end_date,
        )
        return SessionPayload(session=Session.from_doc(doc))

    @strawberry.federation.mutation(
        description="Rule 3: schedule a meeting (at most two a calendar year).", policy=SECRETARIAT
    )
    async def meeting_schedule(
        self, info: Ctx, input: MeetingScheduleInput
    ) -> MeetingPayload | None:
        data = handlers.ScheduleInput(
            session_id=oid_of(input.session_id, "Session", "sessionId"),
            start_date=input.start_date,
            end_date=input.end_date,
            venue=input.venue,
            decided_by=input.decided_by,
            decided_on=input.decided_on,
        )
        doc = await run_sync(handlers.schedule_meeting, info.context.principal, now(info), data)
        return _meeting_payload(doc)

    @strawberry.federation.mutation(
        description="Move a meeting; its timeline follows.", policy=SECRETARIAT
    )
    async def meeting_move(self, info: Ctx, input: MeetingMoveInput) -> MeetingPayload | None:
        doc = await run_sync(
            handlers.move_meeting,
            info.context.principal,
            oid_of(input.id, "Meeting"),
            input.start_date,
            input.end_date,
            input.venue,
        )
        return await told_of_meeting(info, _meeting_payload(doc), doc, moved=True)

    @strawberry.federation.mutation(description="Cancel a meeting.", policy=SECRETARIAT)
    async def meeting_cancel(self, info: Ctx, input: MeetingRefInput) -> MeetingPayload | None:
        doc = await run_sync(
            handlers.cancel_meeting, info.context.principal, now(info), oid_of(input.id, "Meeting")
        )
        return await told_of_meeting(info, _meeting_payload(doc), doc, moved=False)

    @strawberry.federation.mutation(description="Rule 4: record the Chair.", policy=SECRETARIAT)
    async def chair_appoint(self, info: Ctx, input: ChairAppointInput) -> ChairPayload | None:
        await run_sync(
            handlers.appoint_chair,
            info.context.principal,
            now(info),
            input.chair,
            input.appointed_on,
            input.appointed_by,
            input.end_previous_term,
        )
        term = await run_sync(handlers.current_chair, info.context.principal, input.appointed_on)
        assert term is not None
        return ChairPayload(chair_term=_term(term))

    @strawberry.federation.mutation(
        description="Rule 9: issue the invitation to every participant State's contacts, "
        "by email with an iCalendar attachment.",
        policy=SECRETARIAT,
    )
    async def invitation_issue(
        self, info: Ctx, input: InvitationIssueInput
    ) -> MeetingPayload | None:
        svc = services(info)
        principal = info.context.principal
        oid = oid_of(input.meeting_id, "Meeting", "meetingId")
        at = svc.clock()
        args = (principal, at, oid, input.call_for_presentations, input.late_reason)
        await run_sync(handlers.check_invitation, *args)
        require_authenticated(principal)
        token = info.context.request.headers["authorization"].partition(" ")[2].strip()
        resolution = await svc.directory.recipients(token, Audience.MEETINGS)
        await run_sync(handlers.issue_invitation, *args, resolution)
        await run_sync(
            notices.learn, resolution, Audience.MEETINGS.value, resolution.unreachable, at
        )
        await run_sync(deliver_due, svc.smtp, at, oid)
        return _meeting_payload(await run_sync(handlers.load_meeting, oid))

    @strawberry.federation.mutation(description="Rule 10: add an agenda item.", policy=ORGANISERS)
    async def agenda_item_add(
        self, info: Ctx, input: AgendaItemAddInput
    ) -> AgendaItemPayload | None:
        doc = await run_sync(
            handlers.add_agenda_item,
            info.context.principal,
            now(info),
            oid_of(input.meeting_id, "Meeting", "meetingId"),
            input.title,
        )
        return AgendaItemPayload(agenda_item=AgendaItem.from_doc(doc))

    @strawberry.federation.mutation(
        description="Rules 10, 23: attach a document.",
        policy=[*PARTICIPANTS_OR_SECRETARIAT, ["chair"]],
    )
    async def document_attach(
        self, info: Ctx, input: DocumentAttachInput
    ) -> DocumentPayload | None:
        limit = services(info).settings.meetings_document_max_bytes
        content = await document_content(input.file, input.content_base64, limit)
        upload = handlers.Upload(input.filename, input.media_type, input.language, content)
        doc = await run_sync(
            handlers.attach_document,
            info.context.principal,
            now(info),
            oid_of(input.agenda_item_id, "AgendaItem", "agendaItemId"),
            upload,
            limit,
        )
        return DocumentPayload(document=Document.from_doc(doc))

    @strawberry.federation.mutation(
        description="Rule 10: distribute the draft agenda (30 days ahead).", policy=SECRETARIAT
    )
    async def agenda_distribute(
        self,
        info: Ctx,
        input: MeetingRefInput,
        late_reason: Annotated[
            str | None,
            strawberry.argument(
                description="Required after the 30-day mark; recorded, and the draft is late."
            ),
        ] = None,
    ) -> MeetingPayload | None:
        doc = await run_sync(
            handlers.distribute_agenda,
            info.context.principal,
            now(info),
            oid_of(input.id, "Meeting"),
            late_reason,
        )
        return await told_of_agenda(info, _meeting_payload(doc), doc)

    @strawberry.federation.mutation(
        description="Rules 10, 11: adopt the agenda; it is frozen.", policy=ORGANISERS
    )
    async def agenda_adopt(self, info: Ctx, input: MeetingRefInput) -> MeetingPayload | None:
        doc = await run_sync(
            handlers.adopt_agenda, info.context.principal, now(info), oid_of(input.id, "Meeting")
        )
        return await told_of_agenda(info, _meeting_payload(doc), doc)

    @strawberry.federation.mutation(
        description="Rule 12: the Chair changes the running order of the adopted agenda "
        "(recorded: runningOrderChanges).",
        policy=[["chair"]],
    )
    async def running_order_set(
        self, info: Ctx, input: RunningOrderSetInput
    ) -> MeetingPayload | None:
        steps = [
            rule12.OrderStep(
                rule12.RunningOrderKind(s.kind),
                str(oid_of(s.agenda_item_id, "AgendaItem", "steps")),
                s.state_code.strip().upper() if s.state_code else None,
            )
            for s in input.steps[: rule12.MAX_ORDER_STEPS + 1]
        ]
        doc = await run_sync(
            handlers.set_running_order,
            info.context.principal,
            now(info),
            oid_of(input.meeting_id, "Meeting", "meetingId"),
            steps,
            input.reason,
        )
        return _meeting_payload(doc)

    @strawberry.federation.mutation(
        description="Rule 14: record the participants' decision to lift confidentiality.",
        policy=SECRETARIAT,
    )
    async def confidentiality_lift(
        self, info: Ctx, input: ConfidentialityLiftInput
    ) -> MeetingPayload | None:
        document = (
            oid_of(input.document_id, "Document", "documentId") if input.document_id else None
        )
        doc = await run_sync(
            handlers.lift_confidentiality,
            info.context.principal,
            now(info),
            oid_of(input.meeting_id, "Meeting", "meetingId"),
            input.target.value,
            document,
            input.decided_on,
        )
        return _meeting_payload(doc)

    @strawberry.federation.mutation(
        description="Rule 11: announce a presentation (until the agenda is adopted).",
        policy=PARTICIPANTS,
    )
    async def presentation_intend(
        self, info: Ctx, input: PresentationIntendInput
    ) -> PresentationPayload | None:
        doc = await run_sync(
            handlers.intend_presentation,
            info.context.principal,
            now(info),
            oid_of(input.meeting_id, "Meeting", "meetingId"),
            input.state_code,
            input.title,
            input.involved_state_codes,
        )
        return await _presentation_payload(doc)

    @strawberry.federation.mutation(
        description="Rule 12: notify the involved States (30 days ahead).",
        policy=PARTICIPANTS_OR_SECRETARIAT,
    )
    async def presentation_notify_involved(
        self,
        info: Ctx,
        input: PresentationRefInput,
        late_reason: Annotated[
            str | None,
            strawberry.argument(
                description="Required after the 30-day mark; the involved States see it and "
                "the Chair decides whether the presentation stays (presentationLateDecide)."
            ),
        ] = None,
    ) -> PresentationPayload | None:
        doc = await run_sync(
            handlers.notify_involved_states,
            info.context.principal,
            now(info),
            oid_of(input.id, "Presentation"),
            late_reason,
        )
        return await told_of_notification(info, await _presentation_payload(doc), doc)

    @strawberry.federation.mutation(
        description="Rule 12: after a late notification the Chair decides, recorded, "
        "whether the presentation stays on the agenda.",
        policy=[["chair"]],
    )
    async def presentation_late_decide(
        self, info: Ctx, input: PresentationLateDecideInput
    ) -> PresentationPayload | None:
        doc = await run_sync(
            handlers.decide_late_presentation,
            info.context.principal,
            now(info),
            oid_of(input.id, "Presentation"),
            input.keep,
        )
        return await _presentation_payload(doc)

    @strawberry.federation.mutation(
        description="Rule 12: an involved State responds.", policy=PARTICIPANTS
    )
    async def presentation_respond(
        self, info: Ctx, input: PresentationRespondInput
    ) -> PresentationPayload | None:
        doc = await run_sync(
            handlers.respond_to_presentation,
            info.context.principal,
            now(info),
            oid_of(input.id, "Presentation"),
            input.state_code,
            input.response,
        )
        return await told_of_response(info, await _presentation_payload(doc), doc)

    @strawberry.federation.mutation(
        description="Rule 12: put a presentation on the draft agenda.", policy=ORGANISERS
    )
    async def presentation_schedule(
        self, info: Ctx, input: PresentationRefInput
    ) -> AgendaItemPayload | None:
        doc = await run_sync(
            handlers.schedule_presentation,
            info.context.principal,
            now(info),
            oid_of(input.id, "Presentation"),
        )
        return AgendaItemPayload(agenda_item=AgendaItem.from_doc(doc))

    @strawberry.federation.mutation(
        description="Rule 8: propose a non-state expert; the silence procedure opens.",
        policy=PARTICIPANTS,
    )
    async def expert_proposal_create(
        self, info: Ctx, input: ExpertProposalCreateInput
    ) -> ExpertProposalPayload | None:
        doc = await run_sync(
            handlers.propose_expert,
            info.context.principal,
            now(info),
            oid_of(input.presentation_id, "Presentation", "presentationId"),
            input.expert_name,
            input.expert_subject,
            input.purpose,
        )
        payload = ExpertProposalPayload(expert_proposal=ExpertProposal.from_doc(doc))
        return await told_of_expert(info, payload, doc)

    @strawberry.federation.mutation(
        description="Rule 8: a State Party objects during the silence procedure (a signatory "
        "State may not: FORBIDDEN).",
        policy=PARTICIPANTS,
    )
    async def expert_proposal_object(
        self, info: Ctx, input: ExpertProposalRefInput
    ) -> ExpertProposalPayload | None:
        state_party = await caller_is_state_party(info)
        payload = await _on_proposal(info, handlers.object_to_expert, input.id, state_party)
        return await told_of_expert(info, payload, None)

    @strawberry.federation.mutation(
        description="Rule 8: record a consultation between the objecting and proposing States.",
        policy=PARTICIPANTS,
    )
    async def expert_proposal_consult(
        self, info: Ctx, input: ExpertProposalRefInput
    ) -> ExpertProposalPayload | None:
        return await _on_proposal(info, handlers.record_consultation, input.id)

    @strawberry.federation.mutation(
        description="Rule 8: the objection is withdrawn after consultation.",
        policy=PARTICIPANTS_OR_SECRETARIAT,
    )
    async def expert_proposal_resolve(
        self, info: Ctx, input: ExpertProposalRefInput
    ) -> ExpertProposalPayload | None:
        return await _on_proposal(info, handlers.resolve_objection, input.id)

    @strawberry.federation.mutation(
        description="Rule 8: record the participants' decision on a referred objection.",
        policy=ORGANISERS,
    )
    async def expert_proposal_decide(
        self, info: Ctx, input: ExpertProposalDecideInput
    ) -> ExpertProposalPayload | None:
        return await _on_proposal(
            info, handlers.decide_on_expert, input.id, input.decision, input.decided_on
        )

    @strawberry.federation.mutation(
        description="Rules 6, 7: register a delegate of one's own State.", policy=PARTICIPANTS
    )
    async def delegate_register(
        self, info: Ctx, input: DelegateRegisterInput
    ) -> RegistrationPayload | None:
        r = await run_sync(
            handlers.register_delegate,
            info.context.principal,
            now(info),
            oid_of(input.meeting_id, "Meeting", "meetingId"),
            input.state_code,
            input.name,
            input.function,
        )
        return RegistrationPayload(
            registration=Registration(
                id=strawberry.ID(to_global_id("Registration", r.pk)),
                state_code=r.state,
                name=r.name,
                function=r.function,
                registered_at=r.registered_at,
            )
        )

    @strawberry.federation.mutation(
        description="Rule 22: propose an oral briefing.", policy=ORGANISERS
    )
    async def briefing_propose(
        self, info: Ctx, input: BriefingProposeInput
    ) -> BriefingPayload | None:
        b = await run_sync(
            handlers.propose_briefing,
            info.context.principal,
            now(info),
            oid_of(input.meeting_id, "Meeting", "meetingId"),
            input.forum.value,
        )
        return BriefingPayload(briefing=Briefing.from_doc(b))

    @strawberry.federation.mutation(
        description="Rule 22: record the participants' consensus.", policy=ORGANISERS
    )
    async def briefing_consensus_record(
        self, info: Ctx, input: BriefingRefInput
    ) -> BriefingPayload | None:
        b = await run_sync(
            handlers.record_briefing_consensus,
            info.context.principal,
            now(info),
            oid_of(input.id, "Briefing"),
        )
        return BriefingPayload(briefing=Briefing.from_doc(b))

    @strawberry.federation.mutation(
        description="Rule 22: a presenting State objects to a briefing on its case.",
        policy=PARTICIPANTS,
    )
    async def briefing_object(
        self, info: Ctx, input: BriefingObjectInput
    ) -> BriefingPayload | None:
        b = await run_sync(
            handlers.object_to_briefing,
            info.context.principal,
            now(info),
            oid_of(input.id, "Briefing"),
            oid_of(input.presentation_id, "Presentation", "presentationId"),
        )
        return BriefingPayload(briefing=Briefing.from_doc(b))

    @strawberry.federation.mutation(
        description="Rule 22: a State consents to being named in the briefing.",
        policy=PARTICIPANTS,
    )
    async def briefing_attribution_consent(
        self, info: Ctx, input: BriefingAttributionConsentInput
    ) -> BriefingPayload | None:
        b = await run_sync(
            handlers.consent_to_attribution,
            info.context.principal,
            now(info),
            oid_of(input.id, "Briefing"),
            input.state_code,
        )
        return BriefingPayload(briefing=Briefing.from_doc(b))


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[Meeting, AgendaItem, Presentation, ExpertProposal, State],
)
