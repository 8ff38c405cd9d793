"""Use cases of the case exchange: load, decide with the domain, save with events and
audit entries. Synchronous (mongoengine); the GraphQL layer runs them in a thread.

A case the caller may not read is refused the same way whether it exists or not, so
that a refusal reveals nothing, not even existence.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from bson import ObjectId
from mongoengine.queryset.visitor import Q

from services.cases import access, domain, values, views
from services.cases import events as _declared_events  # noqa: F401 - the catalogue
from services.cases.documents import (
    ALIAS,
    ActorDoc,
    ArrangementDoc,
    Attachment,
    AudienceDoc,
    AuditEntry,
    Case,
    CaseRevision,
    DisclosureConcern,
    HandlingDoc,
    InvolvedStateDoc,
    ItemDoc,
    MessageDoc,
    ParticipantStanding,
    RouteStopDoc,
    SectionAudienceDoc,
    UseRequest,
    utcnow,
)
from services.cases.domain import (
    AudienceKind,
    CaseStatus,
    ConcernParties,
    ConcernStatus,
    DiversionCategory,
    IntendedUse,
    InvestigationStatus,
    ItemKind,
    Section,
    UseDecision,
    Viewer,
)
from services.common import deferred_inserts, lean
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.events import event
from services.common.ids import to_global_id
from services.common.logs import current_request_id
from services.common.pagination import keyed_page_bounds, page_bounds
from services.common.participants import ParticipantRegister
from services.common.principal import Principal, Role, require_authenticated
from services.common.ranged_pages import ListOrder, ranged_page
from services.common.unit_of_work import UnitOfWork, unit_of_work

SERVICE = "cases"
NOT_YOURS = "No case with this id is shared with you."

SECTION_OF_FIELD = {
    "summary": Section.SUMMARY,
    "diversion_details": Section.DIVERSION,
    "diverted_on": Section.DIVERSION,
    "discovery_details": Section.DISCOVERY,
    "discovered_on": Section.DISCOVERY,
    "methods": Section.METHODS,
    "actors": Section.ACTORS,
    "items": Section.ITEMS,
    "routes": Section.ROUTES,
}


# --- who is calling, and the audit log ----------------------------------------------------


PARTICIPANTS = ParticipantRegister(ParticipantStanding, durable="cases-participants")


def viewer_of(principal: Principal | None) -> Viewer:
    """The caller with their State's standing now: the token's participant flag holds
    only while the register of participants (fed by the contacts service's status
    events) knows the State as a participant; a State it has never heard of is not one,
    as in the meetings service."""
    p = require_authenticated(principal)
    return Viewer(p, participant_now=PARTICIPANTS.effective_participant(p))


def audit_entry(case: Case, viewer: Viewer, action: str, target: str | None = None) -> AuditEntry:
    p = viewer.principal
    return AuditEntry(
        case_id=case.pk,
        provider=case.provider,
        action=action,
        actor=p.subject,
        actor_state=p.state,
        actor_roles=sorted(p.roles),
        at=utcnow(),
        target=target,
        request_id=current_request_id(),
    )


def audit_rows(
    cases: list[Any], viewer: Viewer, action: str, target: str | None = None
) -> list[dict[str, Any]]:
    """``audit_entry`` of each case, as the dict ``AuditEntry.to_mongo`` makes, without
    building the documents (a listing's hundred entries cost more to build than to
    write)."""
    p = viewer.principal
    common: dict[str, Any] = {"action": action, "actor": p.subject}
    if p.state is not None:
        common["actor_state"] = p.state
    common["actor_roles"] = [str(r) for r in sorted(p.roles)]
    at = utcnow()
    request_id = current_request_id()
    rows = []
    for case in cases:
        row = {"case_id": case.pk, "provider": case.provider, **common, "at": at}
        if target is not None:
            row["target"] = target
        if request_id is not None:
            row["request_id"] = request_id
        rows.append(row)
    return rows


def append_audit_rows(rows: list[dict[str, Any]]) -> None:
    """``append_audit`` of rows from ``audit_rows``."""
    deferred_inserts.insert_later(ALIAS, AuditEntry, rows)


def append_audit(entries: list[AuditEntry]) -> None:
    """Reads are logged before their content leaves the service; if logging fails, the
    read fails. In a GraphQL request the entries of all its reads are inserted together
    as its answer is made (``deferred_inserts``); elsewhere at once."""
    if not entries:
        return
    for entry in entries:
        entry.validate()
    deferred_inserts.insert_later(ALIAS, AuditEntry, [e.to_mongo() for e in entries])


lean_case = lean.reader(Case)


def case_gid(case: Case) -> str:
    return to_global_id("Case", case.pk)


def case_event(uow: UnitOfWork, case: Case, name: str) -> None:
    uow.record(
        event(
            SERVICE,
            "case",
            name,
            case_gid(case),
            caseId=case_gid(case),
            providerCode=case.provider,
            at=utcnow().isoformat(),
        )
    )


# --- loading cases ------------------------------------------------------------------------


def load_case(case_id: ObjectId) -> Case | None:
    return Case.objects(pk=case_id).first()


def readable_case(viewer: Viewer, case_id: ObjectId) -> Case:
    """The case, if the viewer may read it; the same FORBIDDEN whether it exists or not."""
    case = load_case(case_id)
    if case is None or not views.may_read_case(viewer, case):
        raise Forbidden(NOT_YOURS, rule=15)
    return case


def provided_case(viewer: Viewer, case_id: ObjectId) -> Case:
    case = load_case(case_id)
    if case is None or viewer.participant_state != case.provider:
        if case is not None and views.may_read_case(viewer, case):
            domain.ensure_provider(viewer, case.provider)
        raise Forbidden(NOT_YOURS, rule=15)
    return case


def read_case(principal: Principal | None, case_id: ObjectId) -> views.CaseView:
    """A direct read of a case: one audit entry, then the caller's view of it."""
    viewer = viewer_of(principal)
    case = readable_case(viewer, case_id)
    append_audit([audit_entry(case, viewer, "READ")])
    return views.case_view(viewer, case)


def read_cases(
    principal: Principal | None, case_ids: list[ObjectId | Exception]
) -> list[views.CaseView | Exception]:
    """``read_case`` for the cases of one entity request: the caller checked once, one
    find, one insert of the audit entries; each refusal stays its case's alone."""
    viewer = viewer_of(principal)
    wanted = [i for i in case_ids if isinstance(i, ObjectId)]
    found = {c.pk: c for c in Case.objects(pk__in=wanted)} if wanted else {}
    readable = {pk: c for pk, c in found.items() if views.may_read_case(viewer, c)}
    append_audit([audit_entry(c, viewer, "READ") for c in readable.values()])
    return [
        i
        if isinstance(i, Exception)
        else (
            views.case_view(viewer, readable[i]) if i in readable else Forbidden(NOT_YOURS, rule=15)
        )
        for i in case_ids
    ]


def case_for_presentation(
    principal: Principal | None, presentation_id: str
) -> views.CaseView | None:
    """Rule 13: the case a presentation links to, if the caller may read it (else null:
    the link itself is not revealed)."""
    viewer = viewer_of(principal)
    for case in Case.objects(presentation_ids=presentation_id).order_by("created_at"):
        if views.may_read_case(viewer, case):
            append_audit([audit_entry(case, viewer, "READ")])
            return views.case_view(viewer, case)
    return None


def cases_for_presentations(
    principal: Principal | None, presentations: list[tuple[str, str | None]]
) -> list[views.CaseView | None]:
    """``case_for_presentation`` for the presentations of one entity request, each given
    with its presenting State (from the meetings subgraph): rule 13 links a presentation to
    its presenter's case, so a case some other State linked to it is never its case. The
    caller checked once, one find, one insert of the audit entries."""
    viewer = viewer_of(principal)
    presenter = {pid: state for pid, state in presentations if state}
    wanted = sorted(presenter)
    first_readable: dict[str, Case] = {}
    found = Case.objects(presentation_ids__in=wanted).order_by("created_at") if wanted else []
    for case in found:
        if not views.may_read_case(viewer, case):
            continue
        for pid in case.presentation_ids:
            if pid in presenter and pid not in first_readable and case.provider == presenter[pid]:
                first_readable[pid] = case
    read = {c.pk: c for c in first_readable.values()}
    append_audit([audit_entry(c, viewer, "READ") for c in read.values()])
    return [
        views.case_view(viewer, first_readable[pid]) if pid in first_readable else None
        for pid, _ in presentations
    ]


# --- search -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    categories: list[DiversionCategory] = field(default_factory=list)
    item_kinds: list[ItemKind] = field(default_factory=list)
    route_country: str | None = None
    provider: str | None = None
    status: CaseStatus | None = None
    investigation_status: InvestigationStatus | None = None
    shared_after: date | None = None
    shared_before: date | None = None
    discovered_after: date | None = None
    discovered_before: date | None = None
    words: str | None = None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def filter_condition(viewer: Viewer, flt: CaseFilter) -> Q:
    """Every condition must hold; conditions on a section's content apply only where the
    viewer may read that section."""
    values.date_range(flt.shared_after, flt.shared_before, "sharedAfter")
    values.date_range(flt.discovered_after, flt.discovered_before, "discoveredAfter")
    cond = Q()
    if flt.categories:
        cond &= Q(categories__in=[c.value for c in flt.categories])
    if flt.item_kinds:
        kinds = [k.value for k in flt.item_kinds]
        cond &= access.part_condition(viewer, Section.ITEMS.value, Q(items__kind__in=kinds))
    if flt.route_country:
        country = values.state_code(flt.route_country, "routeCountry")
        cond &= access.part_condition(viewer, Section.ROUTES.value, Q(routes__country=country))
    if flt.provider:
        cond &= Q(provider=values.state_code(flt.provider, "provider"))
    if flt.status is not None:
        cond &= Q(status=flt.status.value)
    if flt.investigation_status is not None:
        cond &= Q(investigation_status=flt.investigation_status.value)
    if flt.shared_after is not None:
        cond &= Q(shared_at__gte=_day_start(flt.shared_after))
    if flt.shared_before is not None:
        cond &= Q(shared_at__lt=_day_start(flt.shared_before) + _ONE_DAY)
    discovered = Q()
    if flt.discovered_after is not None:
        discovered &= Q(discovered_on__gte=_day_start(flt.discovered_after))
    if flt.discovered_before is not None:
        discovered &= Q(discovered_on__lte=_day_start(flt.discovered_before))
    if flt.discovered_after is not None or flt.discovered_before is not None:
        cond &= access.part_condition(viewer, Section.DISCOVERY.value, discovered)
    words = values.optional_text(flt.words, "words", max_length=200)
    for word in (words or "").split()[:10]:
        in_summary = access.part_condition(
            viewer, Section.SUMMARY.value, Q(summary__icontains=word)
        )
        cond &= Q(title__icontains=word) | in_summary
    return cond


_ONE_DAY = datetime(2000, 1, 2) - datetime(2000, 1, 1)


@dataclass(frozen=True)
class Page:
    views: list[views.CaseView]
    offset: int
    total: int | Callable[[], int]  # or how to count, called only if asked
    has_next_page: bool = False
    keys: list[str | None] | None = None  # each case's sort key, for the cursors


LISTING = ListOrder((("created_at", -1), ("id", -1)), index="created_desc")


def list_cases(
    principal: Principal | None, flt: CaseFilter, first: int | None, after: str | None
) -> Page:
    """The cases the caller may read, filtered in the database; each case on the page is
    a read and gets its audit entry (one insert for the page). One more than the page is
    read to tell whether more follow; the count waits until ``totalCount`` is asked.

    A page after a cursor is a range after that case's sort key, up to the page's size
    (``ranged_pages``): a server that stops at the limit touches the page, not the cases
    before it."""
    viewer = viewer_of(principal)
    condition = filter_condition(viewer, flt)
    visible = access.visible_condition(viewer)
    if visible is None:
        return Page([], keyed_page_bounds(first, after)[0], 0)
    query = Case.objects(visible & condition)
    # the common page (no filter of the caller's) on the listing's index; a filtered one
    # left to the planner, which may know a more selective index
    page = ranged_page(query, LISTING, first, after, hint=flt == CaseFilter(), raw=True)
    found = [lean_case(raw) for raw in page.items]  # read only: lean documents
    append_audit_rows(audit_rows(found, viewer, "READ", "list"))
    has_next = page.offset < query.count() if first == 0 else page.has_next_page
    return Page(
        [views.case_view(viewer, c) for c in found],
        page.offset,
        query.count,
        has_next_page=has_next,
        keys=page.keys,
    )


# --- writing cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class ActorValue:
    role: values.ActorRole
    name: str
    kind: values.ActorKind
    country: str | None = None


@dataclass(frozen=True)
class ItemValue:
    kind: ItemKind
    description: str | None = None
    quantity: int | None = None
    markings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteValue:
    country: str
    role: values.RouteRole


def _audience_doc(audience: domain.Audience) -> AudienceDoc:
    return AudienceDoc(
        kind=audience.kind,
        states=sorted(audience.states),
        include_secretariat=audience.include_secretariat,
    )


def _actor(value: ActorValue, i: int) -> ActorDoc:
    return ActorDoc(
        role=values.ActorRole(value.role).value,
        name=values.text(value.name, f"actors[{i}].name", max_length=300),
        kind=values.ActorKind(value.kind).value,
        country=values.state_code(value.country, f"actors[{i}].country") if value.country else None,
    )


def _item(value: ItemValue, i: int) -> ItemDoc:
    if value.quantity is not None and value.quantity < 0:
        raise ValidationFailed("A quantity cannot be negative.", field=f"items[{i}].quantity")
    return ItemDoc(
        kind=value.kind,
        description=values.optional_text(
            value.description, f"items[{i}].description", max_length=1000
        ),
        quantity=value.quantity,
        markings=[
            values.text(m, f"items[{i}].markings", max_length=200)
            for m in values.bounded_list(list(value.markings), f"items[{i}].markings")
        ],
    )


def _route(value: RouteValue, i: int) -> RouteStopDoc:
    return RouteStopDoc(
        country=values.state_code(value.country, f"routes[{i}].country"),
        role=values.RouteRole(value.role).value,
    )


def apply_fields(case: Case, fields: dict[str, Any]) -> set[str]:
    """Check and set the given fields; returns the names of those that changed."""
    before = case.to_mongo().to_dict()
    provider = case.provider
    for name, value in fields.items():
        if name == "title":
            case.title = values.text(value, "title", max_length=values.MAX_TITLE)
        elif name in ("summary", "diversion_details", "discovery_details", "methods"):
            setattr(case, name, values.optional_text(value, name))
        elif name in ("diverted_on", "discovered_on", "investigation_status"):
            setattr(case, name, value)
        elif name == "actors":
            case.actors = [_actor(v, i) for i, v in enumerate(values.bounded_list(value, name))]
        elif name == "items":
            case.items = [_item(v, i) for i, v in enumerate(values.bounded_list(value, name))]
        elif name == "routes":
            case.routes = [_route(v, i) for i, v in enumerate(values.bounded_list(value, name))]
        elif name == "categories":
            case.categories = list(dict.fromkeys(DiversionCategory(c) for c in value or []))
        elif name == "audience":
            case.audience = _audience_doc(values.audience(value, provider, "audience"))
        elif name == "section_audiences":
            checked = values.section_audiences(list(value or []), provider)
            case.section_audiences = [
                SectionAudienceDoc(section=s, audience=_audience_doc(a))
                for s, a in sorted(checked.items())
            ]
        elif name == "handling_note":
            case.handling = case.handling or HandlingDoc()
            case.handling.note = values.optional_text(value, "handlingNote", max_length=2000)
        elif name == "no_operational_use_without_consultation":
            case.handling = case.handling or HandlingDoc()
            case.handling.no_operational_use_without_consultation = bool(value)
        elif name == "audience_shown_to_recipients":
            case.audience_shown_to_recipients = bool(value)
        elif name == "involved_states":
            codes = values.state_codes(value or [], "involvedStates")
            if provider in codes:
                raise ValidationFailed(
                    "The provider is not one of the involved States.", field="involvedStates"
                )
            kept = {i.state: i for i in case.involved}
            case.involved = [kept.get(c) or InvolvedStateDoc(state=c) for c in codes]
        else:
            raise ValidationFailed(f"{name} cannot be set here.", field=name)
    domain.check_timeliness(case.diverted_on, case.discovered_on)
    case_audience = views.audience_of(case.audience)
    if case_audience.kind is AudienceKind.NAMED_STATES:
        outside = [i.state for i in case.involved if i.state not in case_audience.states]
        if outside:
            raise ValidationFailed(
                f"Involved States must be in the case's audience: {', '.join(outside)}.",
                field="involvedStates",
                rule=15,
            )
    case.reach = access.compute_reach(case_audience, views.section_audiences(case))
    after = case.to_mongo().to_dict()
    return {k for k in set(before) | set(after) if before.get(k) != after.get(k)} - {"reach"}


def create_case(
    principal: Principal | None, fields: dict[str, Any], presenter: str | None = None
) -> Case:
    """A new DRAFT case; its provider is the caller's State. With a presentation, the
    caller's State must be its presenter (``presenter``, as the meetings service said)."""
    viewer = viewer_of(principal)
    provider = viewer.participant_state
    if provider is None:
        raise Forbidden("Cases are provided by participant States' representatives.", rule=18)
    presentation = fields.pop("presentation_id", None)
    if "title" not in fields:
        raise ValidationFailed("title must not be empty.", field="title")
    case = Case(provider=provider, created_by=viewer.principal.subject, reach={})
    apply_fields(case, fields)
    if presentation:
        domain.ensure_presenter(provider, presenter)
        case.presentation_ids = [values.text(presentation, "presentationId", max_length=200)]
    with unit_of_work(ALIAS) as uow:
        uow.insert(case)
        uow.insert(audit_entry(case, viewer, "CREATED"))
    return case


def update_case(principal: Principal | None, case_id: ObjectId, fields: dict[str, Any]) -> Case:
    """The provider edits its case; an edit of a shared case is a new version, the one
    before is kept."""
    viewer = viewer_of(principal)
    case = provided_case(viewer, case_id)
    if case.status is CaseStatus.ARCHIVED:
        raise Conflict("An archived case is not edited any more.", field="status")
    snapshot = copy.deepcopy(case.to_mongo().to_dict())
    changed = apply_fields(case, fields)
    if case.status is not CaseStatus.DRAFT:
        domain.ensure_categories_before_sharing(case.categories)
    if not changed:
        return case
    now = utcnow()
    with unit_of_work(ALIAS) as uow:
        if case.status is CaseStatus.SHARED:
            uow.insert(
                CaseRevision(
                    case_id=case.pk,
                    revision=case.revision,
                    changed_at=now,
                    changed_by=viewer.principal.subject,
                    changed_fields=sorted(changed),
                    changed_sections=sorted(
                        {SECTION_OF_FIELD[f].value for f in changed if f in SECTION_OF_FIELD}
                    ),
                    snapshot=snapshot,
                )
            )
            case.revision += 1
            case_event(uow, case, "updated")
        case.updated_at = now
        uow.save(case)
        uow.insert(audit_entry(case, viewer, "UPDATED", ",".join(sorted(changed))))
    return case


def change_status(principal: Principal | None, case_id: ObjectId, wanted: CaseStatus) -> Case:
    """DRAFT -> SHARED (categories required, rule 19) -> ARCHIVED."""
    viewer = viewer_of(principal)
    case = provided_case(viewer, case_id)
    case.status = domain.next_case_status(
        CaseStatus(case.status), wanted, [DiversionCategory(c) for c in case.categories]
    )
    now = utcnow()
    if wanted is CaseStatus.SHARED:
        case.shared_at = now
    else:
        case.archived_at = now
    case.updated_at = now
    with unit_of_work(ALIAS) as uow:
        uow.save(case)
        case_event(uow, case, wanted.value.lower())
        uow.insert(audit_entry(case, viewer, wanted.value))
    return case


def set_briefing_consent(
    principal: Principal | None, case_id: ObjectId, excluded: bool, attribution: bool
) -> Case:
    """Rule 22: the provider keeps its case out of briefings, or consents to being named."""
    viewer = viewer_of(principal)
    case = provided_case(viewer, case_id)
    case.excluded_from_briefings = excluded
    case.attribution_consent = attribution
    with unit_of_work(ALIAS) as uow:
        uow.save(case)
        uow.insert(audit_entry(case, viewer, "BRIEFING_CONSENT"))
    return case


def link_presentation(
    principal: Principal | None, case_id: ObjectId, presentation_id: str, presenter: str | None
) -> Case:
    """Rule 13: the provider links its case to a presentation it gives (``presenter``: the
    presentation's presenting State, as the meetings service said)."""
    viewer = viewer_of(principal)
    case = provided_case(viewer, case_id)
    domain.ensure_presenter(case.provider, presenter)
    pid = values.text(presentation_id, "presentationId", max_length=200)
    if pid not in case.presentation_ids:
        case.presentation_ids = [*case.presentation_ids, pid]
        with unit_of_work(ALIAS) as uow:
            uow.save(case)
            uow.insert(audit_entry(case, viewer, "PRESENTATION_LINKED", pid))
    return case


def notify_involved(principal: Principal | None, case_id: ObjectId) -> Case:
    """Rules 12, 13: the provider notifies the involved States through the exchange."""
    viewer = viewer_of(principal)
    case = provided_case(viewer, case_id)
    if case.status is not CaseStatus.SHARED:
        raise Conflict("Share the case before notifying the involved States.", field="status")
    if not case.involved:
        raise ValidationFailed("The case names no involved States.", field="involvedStates")
    now = utcnow()
    for involved in case.involved:
        involved.notified_at = involved.notified_at or now
    with unit_of_work(ALIAS) as uow:
        uow.save(case)
        uow.insert(audit_entry(case, viewer, "INVOLVED_NOTIFIED"))
    return case


def respond_as_involved(principal: Principal | None, case_id: ObjectId, response: str) -> Case:
    """An involved State attaches its response; it is shown with the case."""
    viewer = viewer_of(principal)
    case = readable_case(viewer, case_id)
    mine = next((i for i in case.involved if i.state == viewer.participant_state), None)
    if mine is None:
        raise Forbidden("Only a State named as involved responds to the case.", rule=13)
    if case.status is not CaseStatus.SHARED:
        raise Conflict("This case is not open for responses.", field="status")
    mine.response = values.text(response, "response", max_length=20000)
    mine.responded_at = utcnow()
    mine.responded_by = viewer.principal.subject
    with unit_of_work(ALIAS) as uow:
        uow.save(case)
        uow.insert(audit_entry(case, viewer, "INVOLVED_RESPONDED"))
    return case


def case_history(principal: Principal | None, case_id: ObjectId) -> list[CaseRevision]:
    """When a shared case changed, and which of the caller's visible sections did."""
    viewer = viewer_of(principal)
    case = readable_case(viewer, case_id)
    return list(CaseRevision.objects(case_id=case.pk).exclude("snapshot").order_by("revision"))


def revision_count(case_id: ObjectId) -> int:
    return CaseRevision.objects(case_id=case_id).count()


def revisions_seen(case: Case, readable: frozenset[str]) -> list[CaseRevision]:
    """The edits of ``case`` a reader of the sections ``readable`` may know of."""
    found = CaseRevision.objects(case_id=case.pk).exclude("snapshot").order_by("revision")
    fields = frozenset(SECTION_OF_FIELD)
    return [
        r
        for r in found
        if domain.revision_visible(
            list(r.changed_fields), list(r.changed_sections), fields, readable
        )
    ]


# --- arrangements (rule 21) ---------------------------------------------------------------


def create_arrangement(
    principal: Principal | None,
    case_id: ObjectId,
    states: list[str],
    what: str,
    who: str | None,
    due_on: date | None,
) -> Case:
    viewer = viewer_of(principal)
    case = readable_case(viewer, case_id)
    me = viewer.participant_state
    if me is None:
        raise Forbidden("Arrangements are made between participant States.", rule=21)
    codes = sorted(set(values.state_codes(states, "states")) | {me})
    if len(codes) < 2:
        raise ValidationFailed("An arrangement names at least one other State.", field="states")
    outsiders = [
        c
        for c in codes
        if c != case.provider
        and not domain.may_see(
            Viewer(Principal(c, frozenset({Role.DELEGATE}), c, True)),
            case.provider,
            views.audience_of(case.audience),
        )
    ]
    if outsiders:
        raise ValidationFailed(
            f"These States have not received the case: {', '.join(outsiders)}.",
            field="states",
            rule=21,
        )
    arrangement = ArrangementDoc(
        id=ObjectId(),
        states=codes,
        what=values.text(what, "what", max_length=5000),
        who=values.optional_text(who, "who", max_length=1000),
        due_on=due_on,
        status=values.ArrangementStatus.OPEN.value,
        created_by_state=me,
    )
    case.arrangements = [*case.arrangements, arrangement]
    with unit_of_work(ALIAS) as uow:
        uow.save(case)
        uow.insert(audit_entry(case, viewer, "ARRANGEMENT_CREATED", str(arrangement.id)))
    return case


def set_arrangement_status(
    principal: Principal | None,
    case_id: ObjectId,
    arrangement_id: ObjectId,
    status: values.ArrangementStatus,
) -> Case:
    viewer = viewer_of(principal)
    case = readable_case(viewer, case_id)
    found = next((a for a in case.arrangements if a.id == arrangement_id), None)
    if found is None or viewer.participant_state not in found.states:
        raise Forbidden("No arrangement with this id is yours.", rule=21)
    found.status = values.ArrangementStatus(status).value
    found.updated_at = utcnow()
    with unit_of_work(ALIAS) as uow:
        uow.save(case)
        uow.insert(audit_entry(case, viewer, "ARRANGEMENT_CHANGED", str(found.id)))
    return case


# --- operational-use requests (rule 16) ----------------------------------------------------


def _use_event(uow: UnitOfWork, request: UseRequest) -> None:
    gid = to_global_id("UseRequest", request.pk)
    uow.record(
        event(
            SERVICE,
            "use_request",
            "changed",
            gid,
            useRequestId=gid,
            caseId=to_global_id("Case", request.case_id),
            decision=UseDecision(request.decision).value,
            at=utcnow().isoformat(),
        )
    )


def request_use(
    principal: Principal | None, case_id: ObjectId, use: IntendedUse, justification: str
) -> UseRequest:
    viewer = viewer_of(principal)
    case = readable_case(viewer, case_id)
    domain.ensure_may_request_use(viewer, case.provider, views.audience_of(case.audience))
    if case.status is not CaseStatus.SHARED:
        raise Conflict("Operational use is asked of shared cases only.", field="status", rule=16)
    assert viewer.participant_state is not None
    request = UseRequest(
        case_id=case.pk,
        provider=case.provider,
        requester_state=viewer.participant_state,
        requested_by=viewer.principal.subject,
        use=IntendedUse(use),
        justification=values.text(justification, "justification", max_length=10000),
    )
    with unit_of_work(ALIAS) as uow:
        uow.insert(request)
        _use_event(uow, request)
        uow.insert(audit_entry(case, viewer, "USE_REQUESTED", str(request.pk)))
    return request


def _visible_use_request(viewer: Viewer, request_id: ObjectId) -> UseRequest:
    request = UseRequest.objects(pk=request_id).first()
    state = viewer.participant_state
    if request is None or state is None or state not in (request.provider, request.requester_state):
        raise Forbidden("No operational-use request with this id is yours.", rule=16)
    return request


def get_use_request(principal: Principal | None, request_id: ObjectId) -> UseRequest:
    return _visible_use_request(viewer_of(principal), request_id)


def decide_use_request(
    principal: Principal | None,
    request_id: ObjectId,
    decision: UseDecision,
    conditions: str | None,
    reason: str | None,
) -> UseRequest:
    """Rule 16: the provider answers once; the decision is final and audited."""
    viewer = viewer_of(principal)
    request = _visible_use_request(viewer, request_id)
    domain.ensure_provider(viewer, request.provider)
    request.decision = domain.decide_use(
        UseDecision(request.decision), decision, conditions, reason
    )
    request.conditions = values.optional_text(conditions, "conditions", max_length=10000)
    request.reason = values.optional_text(reason, "reason", max_length=10000)
    request.decided_by = viewer.principal.subject
    request.decided_at = utcnow()
    case = load_case(request.case_id)
    assert case is not None
    with unit_of_work(ALIAS) as uow:
        uow.save(request)
        _use_event(uow, request)
        uow.insert(audit_entry(case, viewer, f"USE_{request.decision.value}", str(request.pk)))
    return request


def comment_use_request(principal: Principal | None, request_id: ObjectId, text: str) -> UseRequest:
    """Rule 16: the requester and the provider discuss the use; both see the thread."""
    viewer = viewer_of(principal)
    request = _visible_use_request(viewer, request_id)
    assert viewer.participant_state is not None
    request.messages = [
        *request.messages,
        MessageDoc(
            state=viewer.participant_state,
            author=viewer.principal.subject,
            text=values.text(text, "text", max_length=10000),
        ),
    ]
    case = load_case(request.case_id)
    assert case is not None
    with unit_of_work(ALIAS) as uow:
        uow.save(request)
        uow.insert(audit_entry(case, viewer, "USE_DISCUSSED", str(request.pk)))
    return request


def list_use_requests(principal: Principal | None, case_id: ObjectId | None) -> list[UseRequest]:
    viewer = viewer_of(principal)
    state = viewer.participant_state
    if state is None:
        return []
    query = UseRequest.objects(Q(provider=state) | Q(requester_state=state))
    if case_id is not None:
        query = query.filter(case_id=case_id)
    return list(query.order_by("-created_at"))


# --- disclosure concerns (rule 15) --------------------------------------------------------


def parties_of(concern: DisclosureConcern) -> ConcernParties:
    return ConcernParties(
        concern.raised_by_state,
        Role(concern.raised_by_role) if concern.raised_by_role else None,
        concern.respondent,
    )


def _concern_event(uow: UnitOfWork, concern: DisclosureConcern) -> None:
    gid = to_global_id("DisclosureConcern", concern.pk)
    uow.record(
        event(
            SERVICE,
            "concern",
            "changed",
            gid,
            concernId=gid,
            status=ConcernStatus(concern.status).value,
            at=utcnow().isoformat(),
        )
    )


def raise_concern(
    principal: Principal | None, case_id: ObjectId, respondent: str, description: str
) -> DisclosureConcern:
    """Rule 15: a participant who received the case, the Chair or the Secretariat raises a
    suspected unauthorised disclosure with a State that received it."""
    viewer = viewer_of(principal)
    code = values.state_code(respondent, "respondent")
    parties = domain.concern_raiser(viewer, code)
    case = load_case(case_id)
    if case is None or case.status is CaseStatus.DRAFT:
        raise Forbidden(NOT_YOURS, rule=15)
    if parties.raised_by_state is not None and not views.may_read_case(viewer, case):
        raise Forbidden(NOT_YOURS, rule=15)
    respondent_viewer = Viewer(Principal(code, frozenset({Role.DELEGATE}), code, True))
    if not views.may_read_case(respondent_viewer, case):
        raise ValidationFailed(f"{code} did not receive this case.", field="respondent", rule=15)
    concern = DisclosureConcern(
        case_id=case.pk,
        raised_by_state=parties.raised_by_state,
        raised_by_role=parties.raised_by_role.value if parties.raised_by_role else None,
        raised_by=viewer.principal.subject,
        respondent=code,
        description=values.text(description, "description", max_length=10000),
    )
    with unit_of_work(ALIAS) as uow:
        uow.insert(concern)
        _concern_event(uow, concern)
        uow.insert(audit_entry(case, viewer, "CONCERN_RAISED", str(concern.pk)))
    return concern


def _visible_concern(viewer: Viewer, concern_id: ObjectId) -> DisclosureConcern:
    concern = DisclosureConcern.objects(pk=concern_id).first()
    if concern is None or not domain.may_see_concern(viewer, parties_of(concern)):
        raise Forbidden("No disclosure concern with this id is yours.", rule=15)
    return concern


def get_concern(principal: Principal | None, concern_id: ObjectId) -> DisclosureConcern:
    return _visible_concern(viewer_of(principal), concern_id)


def explain_concern(
    principal: Principal | None, concern_id: ObjectId, explanation: str, measures: str
) -> DisclosureConcern:
    viewer = viewer_of(principal)
    concern = _visible_concern(viewer, concern_id)
    concern.status = domain.next_concern_status(
        ConcernStatus(concern.status), ConcernStatus.EXPLAINED, viewer, parties_of(concern)
    )
    concern.explanation = values.text(explanation, "explanation", max_length=10000)
    concern.remedial_measures = values.text(measures, "remedialMeasures", max_length=10000)
    concern.explained_at = utcnow()
    return _save_concern(viewer, concern, "CONCERN_EXPLAINED")


def close_concern(
    principal: Principal | None, concern_id: ObjectId, note: str | None
) -> DisclosureConcern:
    viewer = viewer_of(principal)
    concern = _visible_concern(viewer, concern_id)
    concern.status = domain.next_concern_status(
        ConcernStatus(concern.status), ConcernStatus.CLOSED, viewer, parties_of(concern)
    )
    concern.closing_note = values.optional_text(note, "note", max_length=10000)
    concern.closed_at = utcnow()
    return _save_concern(viewer, concern, "CONCERN_CLOSED")


def _save_concern(viewer: Viewer, concern: DisclosureConcern, action: str) -> DisclosureConcern:
    case = load_case(concern.case_id)
    assert case is not None
    with unit_of_work(ALIAS) as uow:
        uow.save(concern)
        _concern_event(uow, concern)
        uow.insert(audit_entry(case, viewer, action, str(concern.pk)))
    return concern


def list_concerns(principal: Principal | None, case_id: ObjectId | None) -> list[DisclosureConcern]:
    viewer = viewer_of(principal)
    cond = Q(pk__in=[])
    if viewer.participant_state is not None:
        state = viewer.participant_state
        cond |= Q(raised_by_state=state) | Q(respondent=state)
    for role in (Role.CHAIR, Role.SECRETARIAT):
        if viewer.principal.has_role(role):
            cond |= Q(raised_by_role=role.value)
    query = DisclosureConcern.objects(cond)
    if case_id is not None:
        query = query.filter(case_id=case_id)
    return [
        c for c in query.order_by("-raised_at") if domain.may_see_concern(viewer, parties_of(c))
    ]


# --- the audit log ------------------------------------------------------------------------


def audit_log(
    principal: Principal | None, case_id: ObjectId, first: int | None, after: str | None
) -> tuple[list[AuditEntry], int, int]:
    """Rules 15, 16: the provider sees who in which State read or changed its case."""
    viewer = viewer_of(principal)
    case = provided_case(viewer, case_id)
    offset, limit = page_bounds(first, after)
    query = AuditEntry.objects(case_id=case.pk).order_by("at", "id")
    total = query.count()
    return (list(query.skip(offset).limit(limit)) if limit else []), offset, total


def ensure_indexes() -> None:
    for document in (Case, CaseRevision, Attachment, UseRequest, DisclosureConcern, AuditEntry):
        document.ensure_indexes()
