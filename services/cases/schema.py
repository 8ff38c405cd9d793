"""The cases subgraph: types, queries and mutations. Resolvers only call handlers and
turn the caller's view of a case into GraphQL; what a caller may see is decided before."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

import strawberry
from bson import ObjectId
from bson.errors import InvalidId
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet
from strawberry.file_uploads import Upload
from strawberry.types import Info

from services.cases import attachments as att
from services.cases import documents as docs
from services.cases import domain, handlers, notices, values, views
from services.cases.notices_schema import CaseNoticesMutation, CaseNoticesQuery
from services.common.batching import batched
from services.common.context import RequestContext
from services.common.entities import object_ids
from services.common.errors import ValidationFailed
from services.common.ids import from_global_id, to_global_id
from services.common.mongo import run_sync
from services.common.pagination import Connection, connection
from services.common.principal import require_authenticated
from services.common.schema import SubgraphSchema

Ctx = Info[RequestContext, None]

# Policies the gateway knows (gateway/access.py); the subgraph decides case by case.
READ_POLICY = [["participant"], ["secretariat"]]
WRITE_POLICY = [["participant"]]
CONCERN_POLICY = [["participant"], ["chair"], ["secretariat"]]

DiversionCategory = strawberry.enum(
    domain.DiversionCategory, description="Rule 19 categories a) to g)."
)
ItemKind = strawberry.enum(
    domain.ItemKind, description="Treaty kinds: Article 2(1), ammunition, parts and components."
)
InvestigationStatus = strawberry.enum(domain.InvestigationStatus)
CaseStatus = strawberry.enum(
    domain.CaseStatus, description="DRAFT (the provider's alone) -> SHARED -> ARCHIVED."
)
Section = strawberry.enum(
    domain.Section, description="Parts of a case that may have a stricter audience."
)
AudienceKind = strawberry.enum(domain.AudienceKind)
IntendedUse = strawberry.enum(domain.IntendedUse, description="Operational use (rule 16).")
UseDecision = strawberry.enum(domain.UseDecision)
ConcernStatus = strawberry.enum(domain.ConcernStatus)
ActorRole = strawberry.enum(values.ActorRole)
ActorKind = strawberry.enum(values.ActorKind)
RouteRole = strawberry.enum(values.RouteRole)
ArrangementStatus = strawberry.enum(values.ArrangementStatus)


def _oid(gid: strawberry.ID, kind: str, field: str = "id") -> Any:
    return from_global_id(str(gid), kind, field=field)


# --- references to other subgraphs -------------------------------------------------------


@strawberry.federation.type(
    directives=[Key(fields=FieldSet("code"), resolvable=False)],
    description="A State (contacts).",
)
class State:
    code: strawberry.ID


def _state(code: str | None) -> State | None:
    return State(code=strawberry.ID(code)) if code else None


# --- case parts ---------------------------------------------------------------------------


@strawberry.type(description="Who the provider shares with (rules 14, 15).")
class Audience:
    kind: AudienceKind
    states: list[str] = strawberry.field(description="Named States (NAMED_STATES only).")
    include_secretariat: bool

    @classmethod
    def of(cls, audience: domain.Audience) -> Audience:
        return cls(
            kind=audience.kind,
            states=sorted(audience.states),
            include_secretariat=audience.include_secretariat,
        )


@strawberry.type(description="A section's own audience (the stricter one applies).")
class SectionAudience:
    section: Section
    audience: Audience


@strawberry.type(description="The provider's handling note (rules 15, 16).")
class Handling:
    note: str | None
    no_operational_use_without_consultation: bool


@strawberry.type(description="How the diversion happened.")
class Diversion:
    details: str | None
    diverted_on: date | None


@strawberry.type(description="How, and how soon, the diversion was discovered.")
class Discovery:
    details: str | None
    discovered_on: date | None
    delay_days: int | None = strawberry.field(description="Days from diversion to discovery.")


@strawberry.type(description="A person or company that took part.")
class Actor:
    role: ActorRole
    name: str
    kind: ActorKind
    country: str | None


@strawberry.type(description="Items concerned.")
class Item:
    kind: ItemKind
    description: str | None
    quantity: int | None
    markings: list[str] = strawberry.field(description="Markings or serial numbers.")


@strawberry.type(description="One country on the route, in order.")
class RouteStop:
    country: str
    role: RouteRole


@strawberry.type(description="A State named as involved, and its response.")
class InvolvedState:
    state: State
    notified_at: datetime | None
    response: str | None
    responded_at: datetime | None


@strawberry.type(description="Rule 22: briefings and attribution.")
class Briefing:
    excluded_from_briefings: bool
    attribution_consent: bool


@strawberry.type(description="A follow-up arrangement between States (rule 21).")
class Arrangement:
    id: strawberry.ID
    states: list[str]
    what: str
    who: str | None
    due_on: date | None
    status: ArrangementStatus


@strawberry.type(description="One earlier version of a shared case.")
class CaseRevision:
    revision: int = strawberry.field(description="The version that this edit replaced.")
    changed_at: datetime
    changed_sections: list[Section] = strawberry.field(
        description="Sections changed, among those the caller may read."
    )


@strawberry.type(description="A document attached to a case or one of its sections.")
class CaseAttachment:
    id: strawberry.ID
    filename: str
    content_type: str
    size: int
    language: str
    section: Section | None = strawberry.field(description="None: the case as a whole.")
    uploaded_at: datetime
    download_url: str = strawberry.field(description="GET with the same bearer token.")

    @classmethod
    def from_doc(cls, doc: docs.Attachment) -> CaseAttachment:
        gid = to_global_id("Attachment", doc.pk)
        return cls(
            id=strawberry.ID(gid),
            filename=doc.filename,
            content_type=doc.content_type,
            size=doc.size,
            language=doc.language,
            section=doc.section,
            uploaded_at=doc.uploaded_at,
            download_url=f"/cases/attachments/{gid}",
        )


# --- entities -----------------------------------------------------------------------------


@strawberry.federation.type(
    keys=["id"],
    authenticated=True,
    description="A diversion case (rule 18), as the caller may see it: sections outside "
    "the caller's audience are null and listed in withheldSections.",
)
class Case:
    id: strawberry.ID
    view: strawberry.Private[views.CaseView]

    @classmethod
    def of(cls, view: views.CaseView) -> Case:
        return cls(id=strawberry.ID(to_global_id("Case", view.doc.pk)), view=view)

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> Case:
        view = await run_sync(handlers.read_case, info.context.principal, _oid(id, "Case"))
        return cls.of(view)

    @classmethod
    async def resolve_references(cls, info: Ctx, keys: list[dict[str, Any]]) -> list[Any]:
        found = await run_sync(
            handlers.read_cases, info.context.principal, object_ids(keys, "Case")
        )
        return [f if isinstance(f, Exception) else cls.of(f) for f in found]

    @strawberry.field
    def provider(self) -> State:
        return State(code=strawberry.ID(self.view.doc.provider))

    @strawberry.field
    def status(self) -> CaseStatus:
        return self.view.doc.status

    @strawberry.field
    def title(self) -> str:
        return self.view.doc.title

    async def _seen(self) -> list[Any] | None:
        """The edits this reader may know of; None for the provider (all of them)."""
        if self.view.is_provider:
            return None
        readable = frozenset(s.value for s in self.view.sections)
        return await run_sync(handlers.revisions_seen, self.view.doc, readable)

    @strawberry.field(
        description="Current version number; it grows with each edit once shared (for a "
        "reader, with each edit of something that reader may read)."
    )
    async def revision(self) -> int:
        seen = await self._seen()
        if seen is None:
            return self.view.doc.revision
        total = await run_sync(handlers.revision_count, self.view.doc.pk)
        return self.view.doc.revision - total + len(seen)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.view.doc.created_at

    @strawberry.field(
        description="When the case last changed (for a reader: what that reader may read)."
    )
    async def updated_at(self) -> datetime:
        seen = await self._seen()
        doc = self.view.doc
        if seen is None:
            return doc.updated_at
        moments = [m for m in (doc.shared_at, doc.archived_at) if m is not None]
        moments += [r.changed_at for r in seen]
        return max(moments, default=doc.created_at)

    @strawberry.field
    def shared_at(self) -> datetime | None:
        return self.view.doc.shared_at

    @strawberry.field
    def archived_at(self) -> datetime | None:
        return self.view.doc.archived_at

    @strawberry.field
    def categories(self) -> list[DiversionCategory]:
        return self.view.categories

    @strawberry.field
    def investigation_status(self) -> InvestigationStatus:
        return self.view.investigation_status

    @strawberry.field(
        description="The case's audience, set by its provider. Other recipients see the named "
        "States only if the provider shows them (audienceShownToRecipients); else only their own."
    )
    def audience(self) -> Audience:
        shown = Audience.of(views.audience_of(self.view.doc.audience))
        shown.states = self.view.shown_states(shown.states)
        return shown

    @strawberry.field(
        description="Whether recipients see the audience list and the involved States."
    )
    def audience_shown_to_recipients(self) -> bool:
        return bool(self.view.doc.audience_shown_to_recipients)

    @strawberry.field(description="Sections' own audiences: for the provider only.")
    def section_audiences(self) -> list[SectionAudience] | None:
        if not self.view.is_provider:
            return None
        return [
            SectionAudience(section=s, audience=Audience.of(a))
            for s, a in views.section_audiences(self.view.doc).items()
        ]

    @strawberry.field
    def handling(self) -> Handling:
        h = self.view.doc.handling or docs.HandlingDoc()
        return Handling(
            note=h.note,
            no_operational_use_without_consultation=h.no_operational_use_without_consultation,
        )

    @strawberry.field(description="Sections the caller may not read (their fields are null).")
    def withheld_sections(self) -> list[Section]:
        return self.view.withheld

    @strawberry.field
    def summary(self) -> str | None:
        return self.view.summary

    @strawberry.field
    def diversion(self) -> Diversion | None:
        d = self.view.diversion
        return Diversion(details=d.details, diverted_on=d.diverted_on) if d else None

    @strawberry.field
    def discovery(self) -> Discovery | None:
        d = self.view.discovery
        if d is None:
            return None
        return Discovery(details=d.details, discovered_on=d.discovered_on, delay_days=d.delay_days)

    @strawberry.field
    def methods(self) -> str | None:
        return self.view.methods

    @strawberry.field
    def actors(self) -> list[Actor] | None:
        if self.view.actors is None:
            return None
        return [
            Actor(
                role=values.ActorRole(a.role),
                name=a.name,
                kind=values.ActorKind(a.kind),
                country=a.country,
            )
            for a in self.view.actors
        ]

    @strawberry.field
    def items(self) -> list[Item] | None:
        if self.view.items is None:
            return None
        return [
            Item(
                kind=i.kind,
                description=i.description,
                quantity=i.quantity,
                markings=list(i.markings),
            )
            for i in self.view.items
        ]

    @strawberry.field(description="Countries on the route, in order.")
    def routes(self) -> list[RouteStop] | None:
        if self.view.routes is None:
            return None
        return [
            RouteStop(country=r.country, role=values.RouteRole(r.role)) for r in self.view.routes
        ]

    @strawberry.field(
        description="States named as involved (rules 12, 13); for other recipients as the "
        "audience list (all if shown, else only their own)."
    )
    def involved_states(self) -> list[State]:
        codes = self.view.shown_states([i.state for i in self.view.doc.involved])
        return [State(code=strawberry.ID(c)) for c in codes]

    @strawberry.field(
        description="Each involved State: when it was notified and its response (the response "
        "for the provider, the Secretariat and that State only)."
    )
    def involvements(self) -> list[InvolvedState]:
        shown = set(self.view.shown_states([i.state for i in self.view.doc.involved]))
        return [
            InvolvedState(
                state=State(code=strawberry.ID(i.state)),
                notified_at=i.notified_at,
                response=i.response if self.view.reads_response_of(i.state) else None,
                responded_at=i.responded_at if self.view.reads_response_of(i.state) else None,
            )
            for i in self.view.doc.involved
            if i.state in shown
        ]

    @strawberry.field
    def briefing(self) -> Briefing:
        return Briefing(
            excluded_from_briefings=self.view.doc.excluded_from_briefings,
            attribution_consent=self.view.doc.attribution_consent,
        )

    @strawberry.field(description="Presentations this case is linked to (rule 13).")
    def presentation_ids(self) -> list[str]:
        return list(self.view.doc.presentation_ids)

    @strawberry.field(description="Follow-up arrangements the caller's State is in (rule 21).")
    def arrangements(self) -> list[Arrangement]:
        return [
            Arrangement(
                id=strawberry.ID(str(a.id)),
                states=list(a.states),
                what=a.what,
                who=a.who,
                due_on=a.due_on,
                status=values.ArrangementStatus(a.status),
            )
            for a in self.view.arrangements
        ]

    @strawberry.field(description="Documents of the sections the caller may read.")
    async def attachments(self) -> list[CaseAttachment]:
        found = await run_sync(att.of_case, self.view.doc.pk)
        return [CaseAttachment.from_doc(a) for a in self.view.attachments(found)]

    @strawberry.field(description="Earlier versions: when the shared case changed.")
    async def history(self, info: Ctx) -> list[CaseRevision]:
        found = await run_sync(handlers.case_history, info.context.principal, self.view.doc.pk)
        seen = await self._seen()
        numbers = {r.revision: r.revision for r in found}
        if seen is not None:  # a reader's versions, numbered without the edits it cannot see
            first = self.view.doc.revision - len(found)
            numbers = {r.revision: first + i for i, r in enumerate(seen)}
            found = [r for r in found if r.revision in numbers]
        shown = {s.value for s in self.view.sections}
        return [
            CaseRevision(
                revision=numbers[r.revision],
                changed_at=r.changed_at,
                changed_sections=[domain.Section(s) for s in r.changed_sections if s in shown],
            )
            for r in found
        ]

    @strawberry.field(description="Operational-use requests on this case the caller is party to.")
    async def use_requests(self, info: Ctx) -> list[UseRequest]:
        found = await run_sync(handlers.list_use_requests, info.context.principal, self.view.doc.pk)
        return [UseRequest.from_doc(r) for r in found]

    @strawberry.field(description="Disclosure concerns on this case the caller is party to.")
    async def concerns(self, info: Ctx) -> list[DisclosureConcern]:
        found = await run_sync(handlers.list_concerns, info.context.principal, self.view.doc.pk)
        return [DisclosureConcern.from_doc(c) for c in found]


@strawberry.type(description="One message between requester and provider.")
class UseRequestMessage:
    state: State
    author: str
    text: str
    at: datetime


@strawberry.federation.type(
    keys=["id"], authenticated=True, description="An operational-use request (rule 16)."
)
class UseRequest:
    id: strawberry.ID
    doc: strawberry.Private[docs.UseRequest]

    @classmethod
    def from_doc(cls, doc: docs.UseRequest) -> UseRequest:
        return cls(id=strawberry.ID(to_global_id("UseRequest", doc.pk)), doc=doc)

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> UseRequest:
        oid = _oid(id, "UseRequest")
        return cls.from_doc(await run_sync(handlers.get_use_request, info.context.principal, oid))

    @strawberry.field
    def case_id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Case", self.doc.case_id))

    @strawberry.field
    def provider(self) -> State:
        return State(code=strawberry.ID(self.doc.provider))

    @strawberry.field
    def requester_state(self) -> State:
        return State(code=strawberry.ID(self.doc.requester_state))

    @strawberry.field
    def use(self) -> IntendedUse:
        return self.doc.use

    @strawberry.field
    def justification(self) -> str:
        return self.doc.justification

    @strawberry.field
    def decision(self) -> UseDecision:
        return self.doc.decision

    @strawberry.field
    def conditions(self) -> str | None:
        return self.doc.conditions

    @strawberry.field
    def reason(self) -> str | None:
        return self.doc.reason

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field
    def decided_at(self) -> datetime | None:
        return self.doc.decided_at

    @strawberry.field(description="What the two sides wrote to each other, oldest first.")
    def messages(self) -> list[UseRequestMessage]:
        return [
            UseRequestMessage(
                state=State(code=strawberry.ID(m.state)), author=m.author, text=m.text, at=m.at
            )
            for m in self.doc.messages
        ]


@strawberry.federation.type(
    keys=["id"],
    authenticated=True,
    description="A suspected unauthorised disclosure raised bilaterally (rule 15).",
)
class DisclosureConcern:
    id: strawberry.ID
    doc: strawberry.Private[docs.DisclosureConcern]

    @classmethod
    def from_doc(cls, doc: docs.DisclosureConcern) -> DisclosureConcern:
        return cls(id=strawberry.ID(to_global_id("DisclosureConcern", doc.pk)), doc=doc)

    @classmethod
    async def resolve_reference(cls, info: Ctx, id: strawberry.ID) -> DisclosureConcern:
        oid = _oid(id, "DisclosureConcern")
        return cls.from_doc(await run_sync(handlers.get_concern, info.context.principal, oid))

    @strawberry.field
    def case_id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Case", self.doc.case_id))

    @strawberry.field(description="The State that raised it (null: the Chair or Secretariat).")
    def raised_by_state(self) -> State | None:
        return _state(self.doc.raised_by_state)

    @strawberry.field(description="CHAIR or SECRETARIAT when they raised it.")
    def raised_by_role(self) -> str | None:
        return self.doc.raised_by_role.upper() if self.doc.raised_by_role else None

    @strawberry.field
    def respondent(self) -> State:
        return State(code=strawberry.ID(self.doc.respondent))

    @strawberry.field
    def description(self) -> str:
        return self.doc.description

    @strawberry.field
    def explanation(self) -> str | None:
        return self.doc.explanation

    @strawberry.field
    def remedial_measures(self) -> str | None:
        return self.doc.remedial_measures

    @strawberry.field
    def closing_note(self) -> str | None:
        return self.doc.closing_note

    @strawberry.field
    def status(self) -> ConcernStatus:
        return self.doc.status

    @strawberry.field
    def raised_at(self) -> datetime:
        return self.doc.raised_at

    @strawberry.field
    def explained_at(self) -> datetime | None:
        return self.doc.explained_at

    @strawberry.field
    def closed_at(self) -> datetime | None:
        return self.doc.closed_at


@strawberry.federation.type(keys=["id"], description="A presentation at a meeting (meetings).")
class Presentation:
    id: strawberry.ID
    presenting_state_code: str = strawberry.federation.field(external=True, default="")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID, **required: Any) -> Presentation:
        # The gateway sends presentingStateCode (from meetings) for ``case``'s @requires.
        presenter = required.get("presentingStateCode")
        return cls(id=id, presenting_state_code=presenter if isinstance(presenter, str) else "")

    @strawberry.federation.field(
        description="The presenting State's case this presentation is linked to (rule 13), "
        "if the caller may read it; a case another State linked to it is not its case.",
        authenticated=True,
        requires=["presentingStateCode"],
    )
    async def case(self, info: Ctx) -> Case | None:
        # The presentations of one entity request are answered together (one find).
        key = f"{self.id}\x00{self.presenting_state_code or ''}"
        view = await batched(info, "Presentation.case", _cases_of(info), key)
        return Case.of(view) if view else None


def _cases_of(info: Ctx) -> Callable[[list[str]], Awaitable[list[Any]]]:
    principal = info.context.principal

    async def load(keys: list[str]) -> list[Any]:
        pairs = [(k.split("\x00")[0], k.split("\x00")[1] or None) for k in keys]
        return await run_sync(handlers.cases_for_presentations, principal, pairs)

    return load


@strawberry.type(description="One entry of a case's audit log (append-only).")
class AuditEntry:
    action: str = strawberry.field(description="READ, DOWNLOAD, CREATED, UPDATED, SHARED...")
    actor: str = strawberry.field(description="Who (token subject).")
    actor_state: str | None = strawberry.field(description="The State they acted for.")
    actor_roles: list[str]
    at: datetime
    target: str | None = strawberry.field(description="What, beyond the case itself.")
    request_id: str | None

    @classmethod
    def from_doc(cls, doc: docs.AuditEntry) -> AuditEntry:
        return cls(
            action=doc.action,
            actor=doc.actor,
            actor_state=doc.actor_state,
            actor_roles=list(doc.actor_roles),
            at=doc.at,
            target=doc.target,
            request_id=doc.request_id,
        )


# --- inputs -------------------------------------------------------------------------------


@strawberry.input(description="An audience: ALL_PARTICIPANTS, or the named States.")
class AudienceInput:
    kind: AudienceKind
    states: list[str] = strawberry.field(default_factory=list)
    include_secretariat: bool = False

    def value(self) -> values.AudienceValue:
        return values.AudienceValue(self.kind, tuple(self.states), self.include_secretariat)


@strawberry.input(description="A stricter audience for one section.")
class SectionAudienceInput:
    section: Section
    audience: AudienceInput


@strawberry.input
class ActorInput:
    role: ActorRole
    name: str
    kind: ActorKind
    country: str | None = None


@strawberry.input
class ItemInput:
    kind: ItemKind
    description: str | None = None
    quantity: int | None = None
    markings: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class RouteStopInput:
    country: str
    role: RouteRole


@strawberry.input(description="A case's content; on update, fields left out stay as they are.")
class CaseFieldsInput:
    title: str | None = strawberry.UNSET
    summary: str | None = strawberry.UNSET
    diversion_details: str | None = strawberry.UNSET
    diverted_on: date | None = strawberry.UNSET
    discovery_details: str | None = strawberry.UNSET
    discovered_on: date | None = strawberry.UNSET
    methods: str | None = strawberry.UNSET
    actors: list[ActorInput] | None = strawberry.UNSET
    investigation_status: InvestigationStatus | None = strawberry.UNSET
    items: list[ItemInput] | None = strawberry.UNSET
    routes: list[RouteStopInput] | None = strawberry.UNSET
    categories: list[DiversionCategory] | None = strawberry.UNSET
    audience: AudienceInput | None = strawberry.UNSET
    section_audiences: list[SectionAudienceInput] | None = strawberry.UNSET
    handling_note: str | None = strawberry.UNSET
    no_operational_use_without_consultation: bool | None = strawberry.UNSET
    involved_states: list[str] | None = strawberry.UNSET
    audience_shown_to_recipients: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Show recipients the audience list and the involved States (default: no).",
    )
    presentation_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="Create: link the case to a presentation (rule 13)."
    )


# Left out, these keep their value; null would widen or blur the case, so it is refused.
NOT_NULL = {
    "title": "title",
    "audience": "audience",
    "section_audiences": "sectionAudiences",
    "categories": "categories",
    "investigation_status": "investigationStatus",
    "no_operational_use_without_consultation": "noOperationalUseWithoutConsultation",
    "audience_shown_to_recipients": "audienceShownToRecipients",
}


def case_fields(data: CaseFieldsInput) -> dict[str, Any]:
    """The fields a client actually sent, as handler values."""
    given: dict[str, Any] = {}
    for name, value in vars(data).items():
        if value is strawberry.UNSET:
            continue
        if value is None and name in NOT_NULL:
            raise_null(NOT_NULL[name])
        if name == "actors":
            value = [handlers.ActorValue(a.role, a.name, a.kind, a.country) for a in value or []]
        elif name == "items":
            value = [
                handlers.ItemValue(i.kind, i.description, i.quantity, tuple(i.markings))
                for i in value or []
            ]
        elif name == "routes":
            value = [handlers.RouteValue(r.country, r.role) for r in value or []]
        elif name == "audience":
            value = value.value()
        elif name == "section_audiences":
            value = [(s.section, s.audience.value()) for s in value or []]
        given[name] = value
    return given


def raise_null(field: str) -> None:
    raise ValidationFailed(f"{field} cannot be null; leave it out to keep it.", field=field)


@strawberry.input(description="Search: every condition given must hold.")
class CaseFilter:
    categories: list[DiversionCategory] | None = None
    item_kinds: list[ItemKind] | None = None
    route_country: str | None = strawberry.field(default=None, description="ISO alpha-3.")
    provider: str | None = None
    status: CaseStatus | None = None
    investigation_status: InvestigationStatus | None = None
    shared_after: date | None = None
    shared_before: date | None = None
    discovered_after: date | None = None
    discovered_before: date | None = None
    words: str | None = strawberry.field(default=None, description="Words in title or summary.")

    def value(self) -> handlers.CaseFilter:
        return handlers.CaseFilter(
            categories=list(self.categories or []),
            item_kinds=list(self.item_kinds or []),
            route_country=self.route_country,
            provider=self.provider,
            status=self.status,
            investigation_status=self.investigation_status,
            shared_after=self.shared_after,
            shared_before=self.shared_before,
            discovered_after=self.discovered_after,
            discovered_before=self.discovered_before,
            words=self.words,
        )


@strawberry.type(description="The case after the change, as the caller sees it.")
class CasePayload:
    case: Case


async def _presenter(info: Ctx, presentation_id: str) -> str:
    """Rule 13: who gives the presentation, asked of the meetings service with the
    caller's own token (``services.cases.presenters``)."""
    require_authenticated(info.context.principal)
    values.text(presentation_id, "presentationId", max_length=200)
    token = info.context.request.headers.get("authorization", "").partition(" ")[2].strip()
    presentations = info.context.request.app.state.presentations
    return await presentations.presenting_state(token, presentation_id)


async def _payload(principal: Any, doc: docs.Case) -> CasePayload:
    viewer = await run_sync(handlers.viewer_of, principal)  # the register is in MongoDB
    return CasePayload(case=Case.of(views.case_view(viewer, doc)))


# --- root types ---------------------------------------------------------------------------


@strawberry.type
class Query(CaseNoticesQuery):
    @strawberry.federation.field(
        description="One case; FORBIDDEN unless it is shared with the caller.",
        policy=READ_POLICY,
    )
    async def case(self, info: Ctx, id: strawberry.ID) -> Case | None:
        return await Case.resolve_reference(info, id)

    @strawberry.federation.field(
        description="Cases shared with the caller (and the caller's State's own).",
        policy=READ_POLICY,
    )
    async def cases(
        self,
        info: Ctx,
        filter: CaseFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Case] | None:
        flt = (filter or CaseFilter()).value()
        page = await run_sync(handlers.list_cases, info.context.principal, flt, first, after)
        nodes = [Case.of(v) for v in page.views]
        return connection(
            nodes, page.offset, total=page.total, has_next_page=page.has_next_page, keys=page.keys
        )

    @strawberry.federation.field(
        description="Who read, downloaded or changed a case: for its provider only.",
        policy=WRITE_POLICY,
    )
    async def case_audit_log(
        self, info: Ctx, case_id: strawberry.ID, first: int | None = None, after: str | None = None
    ) -> Connection[AuditEntry] | None:
        oid = _oid(case_id, "Case", "caseId")
        found, offset, total = await run_sync(
            handlers.audit_log, info.context.principal, oid, first, after
        )
        return connection([AuditEntry.from_doc(e) for e in found], offset, total=total)

    @strawberry.federation.field(
        description="Operational-use requests the caller's State made or received.",
        policy=WRITE_POLICY,
    )
    async def use_requests(
        self, info: Ctx, case_id: strawberry.ID | None = None
    ) -> list[UseRequest] | None:
        oid = _oid(case_id, "Case", "caseId") if case_id else None
        found = await run_sync(handlers.list_use_requests, info.context.principal, oid)
        return [UseRequest.from_doc(r) for r in found]

    @strawberry.federation.field(description="One operational-use request.", policy=WRITE_POLICY)
    async def use_request(self, info: Ctx, id: strawberry.ID) -> UseRequest | None:
        return await UseRequest.resolve_reference(info, id)

    @strawberry.federation.field(
        description="Disclosure concerns the caller is party to.", policy=CONCERN_POLICY
    )
    async def disclosure_concerns(
        self, info: Ctx, case_id: strawberry.ID | None = None
    ) -> list[DisclosureConcern] | None:
        oid = _oid(case_id, "Case", "caseId") if case_id else None
        found = await run_sync(handlers.list_concerns, info.context.principal, oid)
        return [DisclosureConcern.from_doc(c) for c in found]

    @strawberry.federation.field(description="One disclosure concern.", policy=CONCERN_POLICY)
    async def disclosure_concern(self, info: Ctx, id: strawberry.ID) -> DisclosureConcern | None:
        return await DisclosureConcern.resolve_reference(info, id)


@strawberry.input(description="A document for a case or one of its sections (the provider).")
class CaseAttachmentUploadInput:
    case_id: strawberry.ID
    file: Upload = strawberry.field(
        description="The file, as a part of a multipart request (the GraphQL multipart "
        "request specification); its part's Content-Type is its type."
    )
    filename: str
    language: str = strawberry.field(description="ar, zh, en, fr, ru or es.")
    section: Section | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="None: the case as a whole."
    )


@strawberry.type
class CaseAttachmentPayload:
    attachment: CaseAttachment


@strawberry.type
class Mutation(CaseNoticesMutation):
    @strawberry.federation.mutation(
        description="Attach a document to one's case (as POST /cases/{id}/attachments does).",
        policy=WRITE_POLICY,
    )
    async def case_attachment_upload(
        self, info: Ctx, input: CaseAttachmentUploadInput
    ) -> CaseAttachmentPayload | None:
        settings = info.context.request.app.state.runtime.settings
        limits = att.Limits(
            settings.cases_attachment_max_bytes, tuple(settings.cases_attachment_types)
        )
        data = await input.file.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            raise ValidationFailed(
                f"The file is larger than the {limits.max_bytes} bytes allowed.", field="file"
            )
        upload = att.Upload(
            filename=input.filename,
            content_type=getattr(input.file, "content_type", None) or "",
            language=input.language,
            section=input.section,
            data=data,
        )
        stored = await run_sync(
            att.store,
            info.context.principal,
            _oid(input.case_id, "Case", "caseId"),
            upload,
            limits,
        )
        return CaseAttachmentPayload(attachment=CaseAttachment.from_doc(stored))

    @strawberry.federation.mutation(
        description="A new DRAFT case of the caller's State.", policy=WRITE_POLICY
    )
    async def case_create(self, info: Ctx, input: CaseFieldsInput) -> CasePayload | None:
        p = info.context.principal
        fields = case_fields(input)
        presenter = None
        if fields.get("presentation_id"):
            presenter = await _presenter(info, str(fields["presentation_id"]))
        doc = await run_sync(handlers.create_case, p, fields, presenter)
        return await _payload(p, doc)

    @strawberry.federation.mutation(
        description="The provider edits its case (a shared case gets a new version).",
        policy=WRITE_POLICY,
    )
    async def case_update(
        self, info: Ctx, id: strawberry.ID, input: CaseFieldsInput
    ) -> CasePayload | None:
        p = info.context.principal
        fields = case_fields(input)
        if "presentation_id" in fields:
            raise ValidationFailed(
                "Link a presentation with caseLinkPresentation.", field="presentationId"
            )
        doc = await run_sync(handlers.update_case, p, _oid(id, "Case"), fields)
        return await _payload(p, doc)

    @strawberry.federation.mutation(
        description="Share a draft with its audience (rule 19: categories first).",
        policy=WRITE_POLICY,
    )
    async def case_share(self, info: Ctx, id: strawberry.ID) -> CasePayload | None:
        p = info.context.principal
        doc = await run_sync(handlers.change_status, p, _oid(id, "Case"), domain.CaseStatus.SHARED)
        return await _payload(p, doc)

    @strawberry.federation.mutation(description="Archive a shared case.", policy=WRITE_POLICY)
    async def case_archive(self, info: Ctx, id: strawberry.ID) -> CasePayload | None:
        p = info.context.principal
        doc = await run_sync(
            handlers.change_status, p, _oid(id, "Case"), domain.CaseStatus.ARCHIVED
        )
        return await _payload(p, doc)

    @strawberry.federation.mutation(
        description="Rule 22: keep the case out of briefings; consent to attribution.",
        policy=WRITE_POLICY,
    )
    async def case_set_briefing_consent(
        self, info: Ctx, id: strawberry.ID, excluded_from_briefings: bool, attribution_consent: bool
    ) -> CasePayload | None:
        p = info.context.principal
        doc = await run_sync(
            handlers.set_briefing_consent,
            p,
            _oid(id, "Case"),
            excluded_from_briefings,
            attribution_consent,
        )
        return await _payload(p, doc)

    @strawberry.federation.mutation(
        description="Rule 13: link the case to a presentation.", policy=WRITE_POLICY
    )
    async def case_link_presentation(
        self, info: Ctx, id: strawberry.ID, presentation_id: strawberry.ID
    ) -> CasePayload | None:
        p = info.context.principal
        presenter = await _presenter(info, str(presentation_id))
        doc = await run_sync(
            handlers.link_presentation, p, _oid(id, "Case"), str(presentation_id), presenter
        )
        return await _payload(p, doc)

    @strawberry.federation.mutation(
        description="Notify the involved States through the exchange.", policy=WRITE_POLICY
    )
    async def case_notify_involved_states(self, info: Ctx, id: strawberry.ID) -> CasePayload | None:
        p = info.context.principal
        doc = await run_sync(handlers.notify_involved, p, _oid(id, "Case"))
        return await _payload(p, doc)

    @strawberry.federation.mutation(
        description="An involved State attaches its response to the case.", policy=WRITE_POLICY
    )
    async def case_respond(self, info: Ctx, id: strawberry.ID, response: str) -> CasePayload | None:
        p = info.context.principal
        doc = await run_sync(handlers.respond_as_involved, p, _oid(id, "Case"), response)
        return await _payload(p, doc)

    @strawberry.federation.mutation(
        description="A follow-up arrangement with other States (rule 21).", policy=WRITE_POLICY
    )
    async def arrangement_create(
        self,
        info: Ctx,
        case_id: strawberry.ID,
        states: list[str],
        what: str,
        who: str | None = None,
        due_on: date | None = None,
    ) -> CasePayload | None:
        p = info.context.principal
        oid = _oid(case_id, "Case", "caseId")
        doc = await run_sync(handlers.create_arrangement, p, oid, states, what, who, due_on)
        return await _payload(p, doc)

    @strawberry.federation.mutation(
        description="Mark an arrangement done or cancelled.", policy=WRITE_POLICY
    )
    async def arrangement_set_status(
        self, info: Ctx, case_id: strawberry.ID, id: strawberry.ID, status: ArrangementStatus
    ) -> CasePayload | None:
        try:
            arrangement_id = ObjectId(str(id))
        except InvalidId as exc:
            raise ValidationFailed("id is not an arrangement id.", field="id") from exc
        p = info.context.principal
        oid = _oid(case_id, "Case", "caseId")
        doc = await run_sync(handlers.set_arrangement_status, p, oid, arrangement_id, status)
        return await _payload(p, doc)

    @strawberry.federation.mutation(
        description="Ask the provider before an operational use (rule 16).", policy=WRITE_POLICY
    )
    async def use_request_create(
        self, info: Ctx, case_id: strawberry.ID, use: IntendedUse, justification: str
    ) -> UseRequest | None:
        oid = _oid(case_id, "Case", "caseId")
        doc = await run_sync(handlers.request_use, info.context.principal, oid, use, justification)
        notice = notices.use_requested(doc, notices.link_base(info))
        await notices.tell(info, notice, [doc.provider])
        return UseRequest.from_doc(doc)

    @strawberry.federation.mutation(
        description="The provider's final answer (rule 16).", policy=WRITE_POLICY
    )
    async def use_request_decide(
        self,
        info: Ctx,
        id: strawberry.ID,
        decision: UseDecision,
        conditions: str | None = None,
        reason: str | None = None,
    ) -> UseRequest | None:
        doc = await run_sync(
            handlers.decide_use_request,
            info.context.principal,
            _oid(id, "UseRequest"),
            decision,
            conditions,
            reason,
        )
        notice = notices.use_decided(doc, notices.link_base(info))
        await notices.tell(info, notice, [doc.requester_state])
        return UseRequest.from_doc(doc)

    @strawberry.federation.mutation(
        description="Write to the other side of an operational-use request.",
        policy=WRITE_POLICY,
    )
    async def use_request_comment(
        self, info: Ctx, id: strawberry.ID, text: str
    ) -> UseRequest | None:
        doc = await run_sync(
            handlers.comment_use_request, info.context.principal, _oid(id, "UseRequest"), text
        )
        return UseRequest.from_doc(doc)

    @strawberry.federation.mutation(
        description="Raise a suspected unauthorised disclosure with a State (rule 15).",
        policy=CONCERN_POLICY,
    )
    async def concern_raise(
        self, info: Ctx, case_id: strawberry.ID, respondent: str, description: str
    ) -> DisclosureConcern | None:
        oid = _oid(case_id, "Case", "caseId")
        doc = await run_sync(
            handlers.raise_concern, info.context.principal, oid, respondent, description
        )
        notice = notices.concern_raised(doc, notices.link_base(info))
        await notices.tell(info, notice, [doc.respondent])
        return DisclosureConcern.from_doc(doc)

    @strawberry.federation.mutation(
        description="The respondent explains and records remedial measures.",
        policy=CONCERN_POLICY,
    )
    async def concern_explain(
        self, info: Ctx, id: strawberry.ID, explanation: str, remedial_measures: str
    ) -> DisclosureConcern | None:
        doc = await run_sync(
            handlers.explain_concern,
            info.context.principal,
            _oid(id, "DisclosureConcern"),
            explanation,
            remedial_measures,
        )
        notice = notices.concern_answered(doc, notices.link_base(info))
        raiser = [doc.raised_by_state] if doc.raised_by_state else []
        await notices.tell(info, notice, raiser, secretariat=not raiser)
        return DisclosureConcern.from_doc(doc)

    @strawberry.federation.mutation(
        description="Whoever raised the concern closes it.", policy=CONCERN_POLICY
    )
    async def concern_close(
        self, info: Ctx, id: strawberry.ID, note: str | None = None
    ) -> DisclosureConcern | None:
        doc = await run_sync(
            handlers.close_concern, info.context.principal, _oid(id, "DisclosureConcern"), note
        )
        return DisclosureConcern.from_doc(doc)


schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[Case, UseRequest, DisclosureConcern, Presentation, State],
)
