"""Use cases of the meetings service: load, decide with the domain, save with events.

Synchronous (mongoengine); the GraphQL layer runs them in a thread. Every function takes
the caller and ``now`` (the service clock), so that time can be injected in tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import gridfs
from bson import ObjectId

from services.common import mongo
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.events import event
from services.common.files import check_file
from services.common.ids import to_global_id
from services.common.notifications.recipients import Resolution
from services.common.participants import ParticipantRegister
from services.common.principal import Principal, Role, require_authenticated
from services.common.ranged_pages import ListOrder
from services.common.unit_of_work import UnitOfWork, unit_of_work
from services.meetings import access, agenda, briefing, domain, experts, notices, participation
from services.meetings import events as _declared_events  # noqa: F401 - the catalogue
from services.meetings import presentations as rule12
from services.meetings.deadlines import utc_day
from services.meetings.documents import (
    ALIAS,
    AgendaItem,
    AttributionConsent,
    Briefing,
    CalendarYear,
    CaseObjection,
    ChairAppointment,
    ConfidentialityDecision,
    Consultation,
    Delivery,
    ExpertProposal,
    Invitation,
    Meeting,
    MeetingDocument,
    NoticeRecord,
    Notification,
    Objection,
    ParticipantState,
    Presentation,
    Registration,
    Response,
    RunningOrderChange,
    RunningOrderStep,
    Session,
)
from services.meetings.experts import ExpertDecision, ExpertProposalStatus
from services.meetings.timeline import TimelineFacts, TimelineItem, meeting_timeline
from services.meetings.values import MAX_TEXT, state_code, text

SERVICE = "meetings"


def gid(kind: str, oid: object) -> str:
    return to_global_id(kind, oid)


def ensure_indexes() -> None:
    for doc in (
        Session,
        ChairAppointment,
        Meeting,
        AgendaItem,
        Presentation,
        MeetingDocument,
        ExpertProposal,
        Registration,
        Briefing,
        Delivery,
        NoticeRecord,
    ):
        doc.ensure_indexes()


# --- who is calling ----------------------------------------------------------------------


PARTICIPANTS = ParticipantRegister(ParticipantState, durable="meetings-participants")


def participant_now(principal: Principal) -> bool:
    """Rules 1 and 6, as this service knows them now: the gateway's flag in the token and
    the local register (fed by the contacts service's status events) must both say yes.
    A State the register has never heard of is not a participant."""
    return PARTICIPANTS.effective_participant(principal)


def caller(principal: Principal | None) -> tuple[Principal, bool]:
    p = require_authenticated(principal)
    return p, participant_now(p)


# --- loading -----------------------------------------------------------------------------


def _load(doc_type: type, oid: ObjectId, what: str):
    found = doc_type.objects(pk=oid).first()
    if found is None:
        raise NotFound(f"No {what} with this id.", field="id")
    return found


def load_meeting(oid: ObjectId) -> Meeting:
    return _load(Meeting, oid, "meeting")


def load_session(oid: ObjectId) -> Session:
    return _load(Session, oid, "session")


def load_presentation(oid: ObjectId) -> Presentation:
    return _load(Presentation, oid, "presentation")


def load_proposal(oid: ObjectId) -> ExpertProposal:
    return _load(ExpertProposal, oid, "expert proposal")


def as_session(doc: Session) -> domain.Session:
    return domain.Session(str(doc.pk), doc.kind, doc.name, doc.start_date, doc.end_date)


def as_meeting(doc: Meeting) -> domain.Meeting:
    return domain.Meeting(
        str(doc.pk), str(doc.session_id), doc.start_date, doc.end_date, doc.venue, doc.status
    )


def calendar_year(year: int) -> CalendarYear:
    """The year's guard document, created on first use (outside any transaction)."""
    mongo.database(ALIAS)[CalendarYear._get_collection_name()].update_one(
        {"_id": year}, {"$setOnInsert": {"version": 0}}, upsert=True
    )
    return CalendarYear.objects.get(pk=year)


def meetings_in_year(year: int) -> list[domain.Meeting]:
    found = Meeting.objects(start_date__gte=date(year, 1, 1), start_date__lte=date(year, 12, 31))
    return [as_meeting(m) for m in found]


def visible_meeting(principal: Principal | None, oid: ObjectId) -> Meeting:
    """Rule 14: a meeting, for those who may see it (or anyone signed in once the
    participants lifted the agenda's confidentiality)."""
    p, part = caller(principal)
    meeting = load_meeting(oid)
    access.ensure_may_see_meeting(p, part, lifted=meeting.agenda_public)
    return meeting


def approved_experts(presentation_id: ObjectId) -> frozenset[str]:
    return frozenset(
        proposal.expert_subject
        for proposal in ExpertProposal.objects(presentation_id=presentation_id)
        if experts.is_approved(proposal.status, proposal.decision)
    )


def visible_presentation(principal: Principal | None, oid: ObjectId) -> Presentation:
    """Rules 8 and 14: participants and organisers, or the expert approved for it."""
    p, part = caller(principal)
    pres = load_presentation(oid)
    meeting = load_meeting(pres.meeting_id)
    access.ensure_may_see_presentation(
        p, part, approved_experts(pres.pk), lifted=meeting.agenda_public
    )
    return pres


def visible_meetings(
    principal: Principal | None, oids: list[ObjectId | Exception]
) -> list[Meeting | Exception]:
    """``visible_meeting`` for the meetings of one entity request: the caller checked
    once, one find; each refusal stays its meeting's alone."""
    p, part = caller(principal)
    wanted = [i for i in oids if isinstance(i, ObjectId)]
    found = {m.pk: m for m in Meeting.objects(pk__in=wanted)} if wanted else {}
    out: list[Meeting | Exception] = []
    for oid in oids:
        if isinstance(oid, Exception):
            out.append(oid)
        elif oid not in found:
            out.append(NotFound("No meeting with this id.", field="id"))
        else:
            try:
                access.ensure_may_see_meeting(p, part, lifted=found[oid].agenda_public)
                out.append(found[oid])
            except Forbidden as refusal:
                out.append(refusal)
    return out


def _approved_for(subject: str, presentation_ids: list[ObjectId]) -> set[ObjectId]:
    """The presentations among these that the expert ``subject`` was approved for (rule
    8), in one find."""
    return {
        proposal.presentation_id
        for proposal in ExpertProposal.objects(
            presentation_id__in=presentation_ids, expert_subject=subject
        ).only("presentation_id", "status", "decision")
        if experts.is_approved(proposal.status, proposal.decision)
    }


def visible_presentations(
    principal: Principal | None, oids: list[ObjectId | Exception]
) -> list[tuple[Presentation, date] | Exception]:
    """``visible_presentation`` for the presentations of one entity request, each with its
    meeting's first day: the caller checked once, one find of the presentations, one of
    their meetings (and, for an expert, one of their approvals); each refusal stays its
    presentation's alone."""
    p, part = caller(principal)
    wanted = [i for i in oids if isinstance(i, ObjectId)]
    found = {x.pk: x for x in Presentation.objects(pk__in=wanted)} if wanted else {}
    meeting_ids = sorted({x.meeting_id for x in found.values()})
    meetings = (
        {m.pk: m for m in Meeting.objects(pk__in=meeting_ids).only("start_date", "confidentiality")}
        if meeting_ids
        else {}
    )
    approved: set[ObjectId] = set()
    if found and not access.may_see_meeting(p, part) and p.has_role(Role.EXPERT):
        approved = _approved_for(p.subject, sorted(found))
    out: list[tuple[Presentation, date] | Exception] = []
    for oid in oids:
        if isinstance(oid, Exception):
            out.append(oid)
            continue
        pres = found.get(oid)
        meeting = meetings.get(pres.meeting_id) if pres is not None else None
        if pres is None or meeting is None:
            out.append(
                NotFound(
                    f"No {'presentation' if pres is None else 'meeting'} with this id.", field="id"
                )
            )
            continue
        experts_of = frozenset({p.subject}) if oid in approved else frozenset()
        try:
            access.ensure_may_see_presentation(p, part, experts_of, lifted=meeting.agenda_public)
        except Forbidden as refusal:
            out.append(refusal)
            continue
        out.append((pres, meeting.start_date))
    return out


# --- sessions, meetings, Chair (rules 3, 4) ----------------------------------------------


def create_session(
    principal: Principal | None,
    kind: domain.SessionKind,
    name: str,
    start_date: date,
    end_date: date,
) -> Session:
    p = require_authenticated(principal)
    access.ensure_secretariat(p, 3, "record a session")
    domain.check_session(domain.Session("new", kind, name, start_date, end_date))
    doc = Session(
        kind=kind,
        name=text(name, "name"),
        start_date=start_date,
        end_date=end_date,
        created_by=p.subject,
    )
    with unit_of_work(ALIAS) as uow:
        uow.insert(doc)
    return doc


def list_sessions(principal: Principal | None) -> list[Session]:
    require_authenticated(principal)
    return list(Session.objects.order_by("start_date"))


@dataclass(frozen=True)
class ScheduleInput:
    session_id: ObjectId
    start_date: date
    end_date: date
    venue: str
    decided_by: str
    decided_on: date


def schedule_meeting(principal: Principal | None, now: datetime, data: ScheduleInput) -> Meeting:
    """Rule 3: the CSP President decides, the Secretariat records it, within the session
    and at most twice a calendar year."""
    p = require_authenticated(principal)
    access.ensure_secretariat(p, 3, "schedule a meeting")
    session = as_session(load_session(data.session_id))
    year = calendar_year(data.start_date.year)  # read before counting: see CalendarYear
    oid = ObjectId()
    planned = domain.schedule_meeting(
        str(oid),
        session,
        data.start_date,
        data.end_date,
        data.venue,
        meetings_in_year(data.start_date.year),
    )
    doc = Meeting(
        pk=oid,
        session_id=data.session_id,
        start_date=planned.start_date,
        end_date=planned.end_date,
        venue=planned.venue,
        decided_by=text(data.decided_by, "decidedBy", rule=3),
        decided_on=data.decided_on,
        recorded_by=p.subject,
        created_at=now,
    )
    with unit_of_work(ALIAS) as uow:
        uow.save(year)
        uow.insert(doc)
        uow.record(
            event(
                SERVICE,
                "meeting",
                "scheduled",
                gid("Meeting", oid),
                meetingId=gid("Meeting", oid),
                startDate=doc.start_date.isoformat(),
                endDate=doc.end_date.isoformat(),
            )
        )
    return doc


def move_meeting(
    principal: Principal | None,
    oid: ObjectId,
    start_date: date,
    end_date: date,
    venue: str | None,
) -> Meeting:
    """Rule 3 again for the new dates; the timeline follows, and a new invitation is due."""
    p = require_authenticated(principal)
    access.ensure_secretariat(p, 3, "move a meeting")
    doc = load_meeting(oid)
    session = as_session(load_session(doc.session_id))
    before = doc.start_date
    year = calendar_year(start_date.year)
    moved = domain.move_meeting(
        as_meeting(doc), session, start_date, end_date, meetings_in_year(start_date.year), venue
    )
    doc.start_date, doc.end_date, doc.venue = moved.start_date, moved.end_date, moved.venue
    with unit_of_work(ALIAS) as uow:
        uow.save(year)
        uow.save(doc)
        uow.record(
            event(
                SERVICE,
                "meeting",
                "moved",
                gid("Meeting", oid),
                meetingId=gid("Meeting", oid),
                startDate=doc.start_date.isoformat(),
                endDate=doc.end_date.isoformat(),
                previousStartDate=before.isoformat(),
            )
        )
    return doc


def cancel_meeting(principal: Principal | None, now: datetime, oid: ObjectId) -> Meeting:
    p = require_authenticated(principal)
    access.ensure_secretariat(p, 3, "cancel a meeting")
    doc = load_meeting(oid)
    doc.status = domain.cancel_meeting(as_meeting(doc)).status
    doc.cancelled_at = now
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)
        uow.record(
            event(
                SERVICE,
                "meeting",
                "cancelled",
                gid("Meeting", oid),
                meetingId=gid("Meeting", oid),
                cancelledAt=now.isoformat(),
            )
        )
    return doc


CALENDAR = ListOrder((("start_date", 1), ("id", 1)), index="start_date_id")


def list_meetings(principal: Principal | None, year: int | None):
    p, part = caller(principal)
    query = Meeting.objects.order_by(*CALENDAR.sort())
    if year is not None:
        query = query.filter(start_date__gte=date(year, 1, 1), start_date__lte=date(year, 12, 31))
    access.ensure_may_see_meeting(p, part)
    return query


def appoint_chair(
    principal: Principal | None,
    now: datetime,
    chair: str,
    appointed_on: date,
    appointed_by: str,
    end_previous: bool = False,
) -> ChairAppointment:
    """Rule 4: the CSP President appoints the Chair; the Secretariat records it. One
    Chair at a time: a term in force is ended explicitly (the day before) or it refuses."""
    p = require_authenticated(principal)
    access.ensure_secretariat(p, 4, "record the Chair's appointment")
    appointment = domain.appoint_chair(chair, appointed_on, [])
    docs = list(ChairAppointment.objects.order_by("appointed_on", "recorded_at"))
    sessions = [as_session(s) for s in Session.objects]
    terms = [domain.appoint_chair(d.chair, d.appointed_on, sessions, d.ended_on) for d in docs]
    ending = [docs[i] for i in domain.terms_to_end(terms, appointed_on, end_previous)]
    for previous in ending:
        previous.ended_on = appointed_on - timedelta(days=1)
    doc = ChairAppointment(
        chair=appointment.chair,
        appointed_on=appointed_on,
        appointed_by=text(appointed_by, "appointedBy", rule=4),
        recorded_by=p.subject,
        recorded_at=now,
    )
    with unit_of_work(ALIAS) as uow:
        for previous in ending:
            uow.save(previous)
        uow.insert(doc)
    return doc


def chair_appointments(principal: Principal | None) -> list[domain.ChairAppointment]:
    require_authenticated(principal)
    sessions = [as_session(s) for s in Session.objects]
    return [
        domain.appoint_chair(a.chair, a.appointed_on, sessions, a.ended_on)
        for a in ChairAppointment.objects.order_by("appointed_on", "recorded_at")
    ]


def current_chair(principal: Principal | None, on: date) -> domain.ChairAppointment | None:
    """Rule 4: the Chair on a given day (term: until the end of the following CSP)."""
    return domain.current_chair(chair_appointments(principal), on)


# --- the invitation (rule 9) -------------------------------------------------------------


def check_invitation(
    principal: Principal | None,
    now: datetime,
    oid: ObjectId,
    call_for_presentations: str,
    late_reason: str | None,
) -> domain.Invitation:
    """Every check of rule 9, before the directory is asked for recipients."""
    p = require_authenticated(principal)
    doc = load_meeting(oid)
    meeting = as_meeting(doc)
    if doc.invitation is not None and domain.invitation_is_current(_as_invitation(doc), meeting):
        raise Conflict("The invitation to this meeting has been issued already.", rule=9)
    return domain.issue_invitation(
        meeting,
        issued_by=p,
        issued_at=now,
        call_for_presentations=call_for_presentations,
        late_reason=late_reason,
    )


def _as_invitation(doc: Meeting) -> domain.Invitation:
    inv = doc.invitation
    return domain.Invitation(
        str(doc.pk),
        inv.start_date,
        inv.end_date,
        inv.venue,
        inv.call_for_presentations,
        inv.issued_at,
        inv.late_reason,
    )


def issue_invitation(
    principal: Principal | None,
    now: datetime,
    oid: ObjectId,
    call_for_presentations: str,
    late_reason: str | None,
    resolution: Resolution,
) -> Meeting:
    """Rule 9: record the invitation, its notice and one pending delivery per recipient
    address; the participant States nobody can be told are recorded and reported."""
    invitation = check_invitation(principal, now, oid, call_for_presentations, late_reason)
    p = require_authenticated(principal)
    doc = load_meeting(oid)
    doc.invitation = Invitation(
        issued_at=invitation.issued_at,
        issued_by=p.subject,
        call_for_presentations=invitation.call_for_presentations,
        late_reason=invitation.late_reason,
        start_date=invitation.start_date,
        end_date=invitation.end_date,
        venue=invitation.venue,
        recipient_count=len({(r.state, r.email) for r in resolution.recipients}),
        unreachable_state_codes=list(resolution.unreachable),
    )
    superseded = [
        d.pk for d in Delivery.objects(meeting_id=oid, kind="INVITATION", status="PENDING")
    ]
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)
        notices.record(uow, notices.invitation(doc), resolution, now, meeting=doc)
        uow.record(
            event(
                SERVICE,
                "invitation",
                "issued",
                gid("Meeting", oid),
                meetingId=gid("Meeting", oid),
                issuedAt=now.isoformat(),
                late=invitation.late,
                recipientCount=doc.invitation.recipient_count,
            )
        )
    # A superseded invitation (the meeting moved) is not sent any more.
    Delivery.objects(pk__in=superseded).delete()
    return doc


def deliveries(principal: Principal | None, oid: ObjectId) -> list[Delivery]:
    """Rule 9: the Secretariat sees how each invitation email went."""
    p = require_authenticated(principal)
    access.ensure_organiser(p, 9, "see the invitation's deliveries")
    return list(Delivery.objects(meeting_id=oid, kind="INVITATION").order_by("state", "email"))


# --- the agenda (rules 10, 11, 14, 23) ---------------------------------------------------


def _open_agenda(doc: Meeting) -> None:
    if doc.status is domain.MeetingStatus.CANCELLED:
        raise Conflict("This meeting is cancelled.", rule=3)
    agenda.ensure_agenda_open(doc.agenda_status)


def _next_position(oid: ObjectId) -> int:
    last = AgendaItem.objects(meeting_id=oid).order_by("-position").first()
    return 1 if last is None else last.position + 1


def add_agenda_item(
    principal: Principal | None, now: datetime, oid: ObjectId, title: str
) -> AgendaItem:
    """Rule 10: the Secretariat and the Chair draw up the draft agenda."""
    p = require_authenticated(principal)
    access.ensure_organiser(p, 10, "change the agenda")
    doc = load_meeting(oid)
    _open_agenda(doc)
    item = AgendaItem(
        meeting_id=oid,
        position=_next_position(oid),
        title=text(title, "title"),
        created_by=p.subject,
        created_at=now,
    )
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)  # the meeting's version guards against a concurrent adoption
        uow.insert(item)
    return item


def agenda_items(principal: Principal | None, oid: ObjectId) -> list[AgendaItem]:
    visible_meeting(principal, oid)
    return list(AgendaItem.objects(meeting_id=oid).order_by("position"))


def load_agenda_item(principal: Principal | None, oid: ObjectId) -> AgendaItem:
    item = _load(AgendaItem, oid, "agenda item")
    visible_meeting(principal, item.meeting_id)
    return item


def distribute_agenda(
    principal: Principal | None, now: datetime, oid: ObjectId, late_reason: str | None = None
) -> Meeting:
    """Rule 10: the draft agenda goes out at least 30 days ahead, or late with a reason."""
    p = require_authenticated(principal)
    access.ensure_secretariat(p, 10, "distribute the draft agenda")
    doc = load_meeting(oid)
    if doc.status is domain.MeetingStatus.CANCELLED:
        raise Conflict("This meeting is cancelled.", rule=3)
    late = agenda.ensure_may_distribute(doc.agenda_status, doc.start_date, now, late_reason)
    doc.agenda_status = agenda.AgendaStatus.DISTRIBUTED
    doc.agenda_distributed_at = now
    doc.agenda_late_reason = (
        text(late_reason, "lateReason", max_length=MAX_TEXT, rule=10) if late else None
    )
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)
        uow.record(
            event(
                SERVICE,
                "agenda",
                "distributed",
                gid("Meeting", oid),
                meetingId=gid("Meeting", oid),
                distributedAt=now.isoformat(),
            )
        )
    return doc


def _presentations_onto_agenda(
    doc: Meeting, p: Principal, now: datetime
) -> list[tuple[Presentation, AgendaItem]]:
    """Rule 12: at adoption, each announced presentation that may go on the agenda (its
    involved States notified in time, or the Chair kept it) and that the organisers did not
    place themselves is appended, in the order announced: the running order (presentation,
    then each involved State's right of reply) follows from the adopted agenda."""
    position = _next_position(doc.pk)
    out = []
    for pres in Presentation.objects(meeting_id=doc.pk, agenda_item_id=None).order_by(
        "intended_at"
    ):
        notified = _notified(pres)
        if len(notified) < len(pres.involved_states):
            continue
        if not (
            rule12.notified_in_time(doc.start_date, pres.involved_states, notified)
            or pres.chair_keeps
        ):
            continue
        item = AgendaItem(
            pk=ObjectId(),
            meeting_id=doc.pk,
            position=position,
            title=pres.title,
            presentation_id=pres.pk,
            created_by=p.subject,
            created_at=now,
        )
        pres.agenda_item_id = item.pk
        position += 1
        out.append((pres, item))
    return out


def adopt_agenda(principal: Principal | None, now: datetime, oid: ObjectId) -> Meeting:
    """Rules 10, 11, 12: adoption freezes the agenda and closes intentions to present."""
    p = require_authenticated(principal)
    access.ensure_organiser(p, 10, "adopt the agenda")
    doc = load_meeting(oid)
    scheduled = Presentation.objects(meeting_id=oid, agenda_item_id__ne=None)
    late = sum(
        1
        for pres in scheduled
        if not rule12.notified_in_time(doc.start_date, pres.involved_states, _notified(pres))
        and not pres.chair_keeps
    )
    agenda.ensure_may_adopt(doc.agenda_status, late)
    doc.agenda_status = agenda.AgendaStatus.ADOPTED
    doc.agenda_adopted_at = now
    derived = _presentations_onto_agenda(doc, p, now)
    with unit_of_work(ALIAS) as uow:
        for pres, item in derived:
            uow.insert(item)
            uow.save(pres)
        uow.save(doc)
        uow.record(
            event(
                SERVICE,
                "agenda",
                "adopted",
                gid("Meeting", oid),
                meetingId=gid("Meeting", oid),
                adoptedAt=now.isoformat(),
            )
        )
    return doc


@dataclass(frozen=True)
class Upload:
    filename: str
    media_type: str
    language: str
    content: bytes


def attach_document(
    principal: Principal | None,
    now: datetime,
    item_oid: ObjectId,
    upload: Upload,
    max_bytes: int,
) -> MeetingDocument:
    """Rules 10 and 23: a supporting document, in a UN language, size and type limited.
    The organisers attach to any item; a presenting State to its own presentation."""
    p, part = caller(principal)
    item = _load(AgendaItem, item_oid, "agenda item")
    doc = load_meeting(item.meeting_id)
    pres = Presentation.objects(pk=item.presentation_id).first() if item.presentation_id else None
    if not access.is_organiser(p):
        if pres is None:
            raise Forbidden("Only the Secretariat or the Chair may attach documents here.", rule=10)
        access.ensure_acts_for(p, pres.presenting_state, part, rule=10)
    _open_agenda(doc)
    facts = agenda.check_document(
        agenda.DocumentFacts(
            upload.filename, upload.media_type, upload.language, len(upload.content)
        ),
        max_bytes,
    )
    checked = check_file(
        upload.content,
        facts.media_type,
        facts.filename,
        accepted=tuple(agenda.DOCUMENT_TYPES),
        max_bytes=max_bytes,
        type_field="mediaType",
        content_field="content",
    )
    facts = dataclasses.replace(facts, filename=checked.filename)
    fs = gridfs.GridFS(mongo.database(ALIAS))
    file_id = fs.put(upload.content, filename=facts.filename, content_type=facts.media_type)
    meta = MeetingDocument(
        meeting_id=doc.pk,
        agenda_item_id=item.pk,
        presentation_id=item.presentation_id,
        filename=facts.filename,
        media_type=facts.media_type,
        language=facts.language,
        size=facts.size,
        sha256=hashlib.sha256(upload.content).hexdigest(),
        file_id=file_id,
        uploaded_by=p.subject,
        uploaded_at=now,
    )
    try:
        with unit_of_work(ALIAS) as uow:
            uow.save(doc)  # refused if the agenda was adopted in the meantime
            uow.insert(meta)
    except Exception:
        fs.delete(file_id)
        raise
    return meta


def documents_of_item(principal: Principal | None, item_oid: ObjectId) -> list[MeetingDocument]:
    p, part = caller(principal)
    item = _load(AgendaItem, item_oid, "agenda item")
    meeting = load_meeting(item.meeting_id)
    found = list(MeetingDocument.objects(agenda_item_id=item_oid))
    if meeting.agenda_public or access.may_see_meeting(p, part):
        return found
    if item.presentation_id is not None:
        access.ensure_may_see_presentation(p, part, approved_experts(item.presentation_id))
        return found
    access.ensure_may_see_meeting(p, part)
    return found


def _document_public(meeting: Meeting, doc_id: ObjectId) -> bool:
    return any(d.target == "DOCUMENT" and d.document_id == doc_id for d in meeting.confidentiality)


def read_document(principal: Principal | None, oid: ObjectId) -> tuple[MeetingDocument, bytes]:
    """Rules 14 and 23: the file, for those who may see its item, or anyone signed in
    once the participants made this document non-confidential."""
    p, part = caller(principal)
    meta = _load(MeetingDocument, oid, "document")
    meeting = load_meeting(meta.meeting_id)
    if not _document_public(meeting, meta.pk):
        if meta.presentation_id is not None:
            access.ensure_may_see_presentation(p, part, approved_experts(meta.presentation_id))
        else:
            access.ensure_may_see_meeting(p, part)
    content = gridfs.GridFS(mongo.database(ALIAS)).get(meta.file_id).read()
    return meta, content


def lift_confidentiality(
    principal: Principal | None,
    now: datetime,
    oid: ObjectId,
    target: str,
    document_id: ObjectId | None,
    decided_on: date,
) -> Meeting:
    """Rule 14: the participants decided to make the agenda (or one document)
    non-confidential; the Secretariat records it, and it is honoured from then on."""
    p = require_authenticated(principal)
    access.ensure_secretariat(p, 14, "record the participants' decision")
    doc = load_meeting(oid)
    if target == "DOCUMENT":
        if document_id is None or not MeetingDocument.objects(pk=document_id, meeting_id=oid):
            raise ValidationFailed("Name a document of this meeting.", field="documentId")
    else:
        document_id = None
    doc.confidentiality.append(
        ConfidentialityDecision(
            target=target,
            document_id=document_id,
            decided_on=decided_on,
            recorded_by=p.subject,
            recorded_at=now,
        )
    )
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)
    return doc


# --- presentations (rules 11, 12) --------------------------------------------------------


def _notified(pres: Presentation) -> dict[str, datetime]:
    return {n.state: n.notified_at for n in pres.notifications}


def intend_presentation(
    principal: Principal | None,
    now: datetime,
    oid: ObjectId,
    presenting_state: str,
    title: str,
    involved: list[str],
) -> Presentation:
    """Rule 11: a participant tells the Secretariat it intends to present, at the latest
    when the draft agenda is adopted."""
    p, part = caller(principal)
    code = state_code(presenting_state, field="stateCode")
    access.ensure_acts_for(p, code, part, rule=11)
    doc = load_meeting(oid)
    if doc.status is domain.MeetingStatus.CANCELLED:
        raise Conflict("This meeting is cancelled.", rule=3)
    agenda.ensure_may_intend_presentation(doc.agenda_status)
    pres = Presentation(
        meeting_id=oid,
        presenting_state=code,
        title=text(title, "title"),
        involved_states=rule12.check_involved_states(code, involved),
        intended_at=now,
        intended_by=p.subject,
    )
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)  # refused if the agenda was adopted in the meantime
        uow.insert(pres)
    return pres


def notify_involved_states(
    principal: Principal | None, now: datetime, oid: ObjectId, late_reason: str | None = None
) -> Presentation:
    """Rule 12: notify the involved States at least 30 days ahead, asking for their
    response at least 15 days ahead."""
    p, part = caller(principal)
    pres = load_presentation(oid)
    if not p.is_secretariat:
        access.ensure_acts_for(p, pres.presenting_state, part, rule=12)
    if not pres.involved_states:
        raise ValidationFailed("This presentation involves no other State.", rule=12)
    meeting = load_meeting(pres.meeting_id)
    reply_due = rule12.ensure_may_notify(meeting.start_date, now, late_reason)
    late = rule12.is_late(meeting.start_date, now)
    reason = text(late_reason, "lateReason", max_length=MAX_TEXT, rule=12) if late else None
    already = _notified(pres)
    for state in pres.involved_states:
        if state not in already:
            pres.notifications.append(
                Notification(
                    state=state, notified_at=now, reply_due_on=reply_due, late_reason=reason
                )
            )
    with unit_of_work(ALIAS) as uow:
        uow.save(pres)
        uow.record(
            event(
                SERVICE,
                "notification",
                "sent",
                gid("Presentation", oid),
                meetingId=gid("Meeting", meeting.pk),
                presentationId=gid("Presentation", oid),
                notifiedAt=now.isoformat(),
                replyDueOn=reply_due.isoformat(),
            )
        )
    return pres


def respond_to_presentation(
    principal: Principal | None, now: datetime, oid: ObjectId, state: str, response: str
) -> Presentation:
    """Rule 12: an involved State's response, stored with the presentation."""
    p, part = caller(principal)
    code = state_code(state, field="stateCode")
    access.ensure_acts_for(p, code, part, rule=12)
    pres = load_presentation(oid)
    rule12.ensure_may_respond(code, pres.involved_states, _notified(pres))
    body = text(response, "response", max_length=MAX_TEXT, rule=12)
    pres.responses = [r for r in pres.responses if r.state != code]
    pres.responses.append(Response(state=code, text=body, at=now, by=p.subject))
    with unit_of_work(ALIAS) as uow:
        uow.save(pres)
    return pres


def schedule_presentation(principal: Principal | None, now: datetime, oid: ObjectId) -> AgendaItem:
    """Rule 12: put a presentation on the draft agenda, only if every involved State was
    notified 30 days ahead."""
    p = require_authenticated(principal)
    access.ensure_organiser(p, 12, "put a presentation on the agenda")
    pres = load_presentation(oid)
    doc = load_meeting(pres.meeting_id)
    _open_agenda(doc)
    if pres.agenda_item_id is not None:
        raise Conflict("This presentation is on the agenda already.", rule=12)
    rule12.ensure_may_schedule(
        doc.start_date, pres.involved_states, _notified(pres), pres.chair_keeps
    )
    item = AgendaItem(
        pk=ObjectId(),
        meeting_id=doc.pk,
        position=_next_position(doc.pk),
        title=pres.title,
        presentation_id=pres.pk,
        created_by=p.subject,
        created_at=now,
    )
    pres.agenda_item_id = item.pk
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)
        uow.save(pres)
        uow.insert(item)
    return item


def decide_late_presentation(
    principal: Principal | None, now: datetime, oid: ObjectId, keep: bool
) -> Presentation:
    """Rule 12: after a late notification the Chair decides, recorded, whether the
    presentation stays on the agenda (a dropped one is taken off it)."""
    p = require_authenticated(principal)
    if not p.has_role(Role.CHAIR):
        raise Forbidden("Only the Chair decides whether a late presentation stays.", rule=12)
    pres = load_presentation(oid)
    doc = load_meeting(pres.meeting_id)
    _open_agenda(doc)
    if rule12.notified_in_time(doc.start_date, pres.involved_states, _notified(pres)):
        raise Conflict("Its involved States were notified in time; nothing to decide.", rule=12)
    if len(_notified(pres)) < len(pres.involved_states):
        raise Conflict("Notify every involved State first.", rule=12)
    pres.chair_keeps = keep
    pres.chair_decided_by = p.subject
    pres.chair_decided_at = now
    item = AgendaItem.objects(pk=pres.agenda_item_id).first() if not keep else None
    if item is not None:
        pres.agenda_item_id = None
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)  # refused if the agenda was adopted meanwhile
        uow.save(pres)
    if item is not None:
        item.delete()
    return pres


def presentations_of_meeting(principal: Principal | None, oid: ObjectId) -> list[Presentation]:
    visible_meeting(principal, oid)
    return list(Presentation.objects(meeting_id=oid).order_by("intended_at"))


def presentations_of_state(principal: Principal | None, code: str):
    """The presentations a State gave or intends to give, for those who may see meetings."""
    p, part = caller(principal)
    access.ensure_may_see_meeting(p, part)
    return Presentation.objects(presenting_state=code.upper()).order_by("intended_at")


def presentations_of_states(
    principal: Principal | None, codes: list[str]
) -> dict[str, list[Presentation]]:
    """``presentations_of_state`` for several States at once (the States of one entity
    request): the caller checked once, one find."""
    p, part = caller(principal)
    access.ensure_may_see_meeting(p, part)
    wanted = sorted({c.upper() for c in codes})
    found: dict[str, list[Presentation]] = {c: [] for c in wanted}
    for pres in Presentation.objects(presenting_state__in=wanted).order_by("intended_at"):
        found[pres.presenting_state].append(pres)
    return found


def meeting_start_dates(meeting_ids: set[ObjectId]) -> dict[ObjectId, date]:
    """The first day of each meeting, in one find."""
    if not meeting_ids:
        return {}
    found = Meeting.objects(pk__in=sorted(meeting_ids)).only("start_date")
    return {m.pk: m.start_date for m in found}


def meetings_of_state(principal: Principal | None, code: str):
    """Rule 7: the meetings a State registered delegates for."""
    p, part = caller(principal)
    access.ensure_may_see_meeting(p, part)
    ids = Registration.objects(state=code.upper()).distinct("meeting_id")
    return Meeting.objects(pk__in=ids).order_by("start_date")


def meetings_of_states(principal: Principal | None, codes: list[str]) -> dict[str, list[Meeting]]:
    """``meetings_of_state`` for several States at once (the States of one entity
    request): the caller checked once, one find of their registrations, one of the
    meetings, each State's in the order of their first days."""
    p, part = caller(principal)
    access.ensure_may_see_meeting(p, part)
    wanted = sorted({c.upper() for c in codes})
    registered: dict[str, set[ObjectId]] = {c: set() for c in wanted}
    rows = Registration._get_collection().find(
        {"state": {"$in": wanted}}, {"_id": 0, "state": 1, "meeting_id": 1}
    )
    for row in rows:
        registered[row["state"]].add(row["meeting_id"])
    ids = sorted(set().union(*registered.values())) if registered else []
    meetings = list(Meeting.objects(pk__in=ids).order_by("start_date")) if ids else []
    return {c: [m for m in meetings if m.pk in registered[c]] for c in wanted}


def _agenda_order(oid: ObjectId) -> list[rule12.RunningOrderEntry]:
    """Rule 12: the order the agenda gives (each presentation, then its rights of reply)."""
    items = AgendaItem.objects(meeting_id=oid).order_by("position")
    pres = {x.pk: x for x in Presentation.objects(meeting_id=oid)}
    return rule12.running_order(
        rule12.ScheduledItem(
            str(i.pk),
            i.position,
            str(i.presentation_id) if i.presentation_id else None,
            tuple(pres[i.presentation_id].involved_states) if i.presentation_id in pres else (),
        )
        for i in items
    )


def _stored_order(doc: Meeting) -> list[rule12.OrderStep]:
    return [
        rule12.OrderStep(rule12.RunningOrderKind(s.kind), s.item_id, s.state)
        for s in doc.running_order
    ]


def running_order(principal: Principal | None, oid: ObjectId) -> list[rule12.RunningOrderEntry]:
    doc = visible_meeting(principal, oid)
    return rule12.follow(_agenda_order(oid), _stored_order(doc))


def set_running_order(
    principal: Principal | None,
    now: datetime,
    oid: ObjectId,
    steps: list[rule12.OrderStep],
    reason: str | None = None,
) -> Meeting:
    """Rule 12: the Chair changes the running order of the adopted agenda, recorded (who,
    when, why); a right of reply left out stays right after its presentation."""
    p = require_authenticated(principal)
    if not p.has_role(Role.CHAIR):
        raise Forbidden("Only the Chair changes the running order.", rule=12)
    doc = load_meeting(oid)
    if doc.status is domain.MeetingStatus.CANCELLED:
        raise Conflict("This meeting is cancelled.", rule=3)
    if doc.agenda_status is not agenda.AgendaStatus.ADOPTED:
        raise Conflict(
            "Until the agenda is adopted the running order follows it; adopt it first.",
            rule=10,
        )
    arranged = rule12.arrange(_agenda_order(oid), steps)
    doc.running_order = [
        RunningOrderStep(kind=e.kind.value, item_id=e.item_id, state=e.state) for e in arranged
    ]
    doc.running_order_changes.append(
        RunningOrderChange(
            changed_by=p.subject,
            changed_at=now,
            reason=text(reason, "reason", max_length=MAX_TEXT, rule=12) if reason else None,
        )
    )
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)
    return doc


# --- non-state experts (rule 8) ----------------------------------------------------------


def _proposal_event(uow: UnitOfWork, proposal: ExpertProposal, now: datetime) -> None:
    uow.record(
        event(
            SERVICE,
            "expert_proposal",
            "changed",
            gid("ExpertProposal", proposal.pk),
            proposalId=gid("ExpertProposal", proposal.pk),
            meetingId=gid("Meeting", proposal.meeting_id),
            status=proposal.status.value,
            changedAt=now.isoformat(),
        )
    )


def propose_expert(
    principal: Principal | None,
    now: datetime,
    presentation_oid: ObjectId,
    expert_name: str,
    expert_subject: str,
    purpose: str,
) -> ExpertProposal:
    """Rule 8: at least 30 days ahead; circulated at once; the silence procedure opens.
    Any participant may propose, also for another State's presentation: that State is
    then told at once, specifically (``telling.told_of_expert``), and may object."""
    p, part = caller(principal)
    proposing = access.own_participant_state(p, part, rule=8)
    pres = load_presentation(presentation_oid)
    meeting = load_meeting(pres.meeting_id)
    silence_ends = experts.ensure_may_propose(meeting.start_date, now)
    proposal = ExpertProposal(
        meeting_id=meeting.pk,
        presentation_id=pres.pk,
        presenting_state=pres.presenting_state,
        proposing_state=proposing,
        expert_name=text(expert_name, "expertName", max_length=200, rule=8),
        expert_subject=text(expert_subject, "expertSubject", max_length=200, rule=8),
        purpose=text(purpose, "purpose", max_length=MAX_TEXT, rule=8),
        status=ExpertProposalStatus.SILENCE,
        proposed_at=now,
        proposed_by=p.subject,
        silence_ends_on=silence_ends,
    )
    with unit_of_work(ALIAS) as uow:
        uow.insert(proposal)
        _proposal_event(uow, proposal, now)
    return proposal


def visible_proposal(principal: Principal | None, oid: ObjectId) -> ExpertProposal:
    p, part = caller(principal)
    proposal = load_proposal(oid)
    if p.has_role(access.Role.EXPERT) and p.subject == proposal.expert_subject:
        return proposal
    access.ensure_may_see_meeting(p, part)
    return proposal


def proposals_of_meeting(principal: Principal | None, oid: ObjectId) -> list[ExpertProposal]:
    visible_meeting(principal, oid)
    return list(ExpertProposal.objects(meeting_id=oid).order_by("proposed_at"))


def object_to_expert(
    principal: Principal | None, now: datetime, oid: ObjectId, state_party: bool = False
) -> ExpertProposal:
    """Rule 8: a State Party objects during the silence procedure (``state_party``: what
    the contact directory says of the caller's State)."""
    p, part = caller(principal)
    proposal = load_proposal(oid)
    state = access.own_participant_state(p, part, rule=8)
    if state == proposal.proposing_state:
        raise Conflict("The proposing State does not object to its own proposal.", rule=8)
    experts.ensure_state_party_objects(state, state_party)
    experts.ensure_may_object(proposal.status, proposal.silence_ends_on, now)
    if any(o.state == p.state for o in proposal.objections):
        raise Conflict(f"{p.state} has objected already.", rule=8)
    proposal.objections.append(Objection(state=p.state, at=now, by=p.subject))
    proposal.status = ExpertProposalStatus.OBJECTED
    with unit_of_work(ALIAS) as uow:
        uow.save(proposal)
        _proposal_event(uow, proposal, now)
    return proposal


def record_consultation(
    principal: Principal | None, now: datetime, oid: ObjectId
) -> ExpertProposal:
    """Rule 8: the objecting and the proposing States record that they consulted."""
    p, part = caller(principal)
    proposal = load_proposal(oid)
    access.own_participant_state(p, part, rule=8)
    parties = {proposal.proposing_state, *(o.state for o in proposal.objections)}
    if p.state not in parties:
        raise Forbidden("Only the objecting and the proposing States consult.", rule=8)
    experts.ensure_may_consult(proposal.status)
    proposal.consultations.append(Consultation(state=p.state, at=now, by=p.subject))
    with unit_of_work(ALIAS) as uow:
        uow.save(proposal)
    return proposal


def resolve_objection(principal: Principal | None, now: datetime, oid: ObjectId) -> ExpertProposal:
    """Rule 8: after consultation an objecting State withdraws its objection; once every
    objecting State has, the proposal is resolved (the expert may attend). The Secretariat
    records a resolution the States reached together."""
    p, part = caller(principal)
    proposal = load_proposal(oid)
    experts.ensure_may_resolve(proposal.status)
    if p.is_secretariat:
        withdrawing = {o.state for o in proposal.objections}
    else:
        state = access.own_participant_state(p, part, rule=8)
        if state not in {o.state for o in proposal.objections}:
            raise Forbidden("Only an objecting State withdraws its objection.", rule=8)
        withdrawing = {state}
    for objection in proposal.objections:
        if objection.state in withdrawing and objection.withdrawn_at is None:
            objection.withdrawn_at = now
    objecting = {o.state for o in proposal.objections}
    withdrawn = {o.state for o in proposal.objections if o.withdrawn_at is not None}
    resolved = experts.objections_resolved(objecting, withdrawn)
    if resolved:
        proposal.status = ExpertProposalStatus.RESOLVED
        proposal.resolved_at = now
    with unit_of_work(ALIAS) as uow:
        uow.save(proposal)
        if resolved:
            _proposal_event(uow, proposal, now)
    return proposal


def decide_on_expert(
    principal: Principal | None,
    now: datetime,
    oid: ObjectId,
    decision: ExpertDecision,
    decided_on: date,
) -> ExpertProposal:
    """Rule 8: the meeting's participants' procedural decision, recorded by the organisers."""
    p = require_authenticated(principal)
    access.ensure_organiser(p, 8, "record the participants' decision")
    proposal = load_proposal(oid)
    experts.ensure_may_decide(proposal.status)
    proposal.status = ExpertProposalStatus.DECIDED
    proposal.decision = decision
    proposal.decided_at = now
    proposal.decided_on = decided_on
    proposal.decision_recorded_by = p.subject
    with unit_of_work(ALIAS) as uow:
        uow.save(proposal)
        _proposal_event(uow, proposal, now)
    return proposal


def advance_expert_proposals(now: datetime) -> int:
    """Rule 8: let time act (silence over: approved; objection unresolved 20 days ahead:
    referred). Idempotent; the scheduler runs it, also right after a restart."""
    today = utc_day(now)
    changed = 0
    open_ = ExpertProposal.objects(
        status__in=[ExpertProposalStatus.SILENCE, ExpertProposalStatus.OBJECTED]
    )
    for proposal in open_:
        meeting = Meeting.objects(pk=proposal.meeting_id).only("start_date").first()
        if meeting is None:
            continue
        new = experts.due_transition(
            proposal.status, proposal.silence_ends_on, meeting.start_date, today
        )
        if new is None:
            continue
        proposal.status = new
        if new is ExpertProposalStatus.APPROVED:
            proposal.approved_at = now
        else:
            proposal.referred_at = now
        try:
            with unit_of_work(ALIAS) as uow:
                uow.save(proposal)
                _proposal_event(uow, proposal, now)
        except Conflict:
            continue  # someone acted on it meanwhile; the next round looks again
        changed += 1
    return changed


# --- participation (rules 6, 7) ----------------------------------------------------------


def register_delegate(
    principal: Principal | None,
    now: datetime,
    oid: ObjectId,
    state: str,
    name: str,
    function: participation.DelegateFunction,
) -> Registration:
    """Rules 6 and 7: a participant State registers its delegates; no one may refuse it."""
    p, part = caller(principal)
    code = state_code(state, field="stateCode")
    if not p.represents_state or p.state != code:
        raise Forbidden(f"Only representatives of {code} may register its delegates.", rule=6)
    participation.ensure_may_register(code, part)
    doc = load_meeting(oid)
    if doc.status is domain.MeetingStatus.CANCELLED:
        raise Conflict("This meeting is cancelled.", rule=3)
    reg = Registration(
        meeting_id=oid,
        state=code,
        name=participation.delegate_name(name),
        function=function,
        registered_by=p.subject,
        registered_at=now,
    )
    with unit_of_work(ALIAS) as uow:
        uow.insert(reg)
    return reg


def registrations(principal: Principal | None, oid: ObjectId) -> list[Registration]:
    visible_meeting(principal, oid)
    return list(Registration.objects(meeting_id=oid).order_by("state", "registered_at"))


def figures(principal: Principal | None, oid: ObjectId) -> participation.ParticipationFigures:
    return participation.participation_figures(
        (r.state, r.function) for r in registrations(principal, oid)
    )


# --- oral briefings (rule 22) ------------------------------------------------------------


def propose_briefing(
    principal: Principal | None, now: datetime, oid: ObjectId, forum: str
) -> Briefing:
    p = require_authenticated(principal)
    access.ensure_organiser(p, 22, "propose an oral briefing")
    load_meeting(oid)
    doc = Briefing(meeting_id=oid, forum=forum, proposed_by=p.subject, proposed_at=now)
    with unit_of_work(ALIAS) as uow:
        uow.insert(doc)
    return doc


def load_briefing(principal: Principal | None, oid: ObjectId) -> Briefing:
    found = _load(Briefing, oid, "briefing")
    visible_meeting(principal, found.meeting_id)
    return found


def briefings(principal: Principal | None, oid: ObjectId) -> list[Briefing]:
    visible_meeting(principal, oid)
    return list(Briefing.objects(meeting_id=oid).order_by("proposed_at"))


def record_briefing_consensus(
    principal: Principal | None, now: datetime, oid: ObjectId
) -> Briefing:
    """Rule 22: the participants agreed by consensus; the organisers record it."""
    p = require_authenticated(principal)
    access.ensure_organiser(p, 22, "record the participants' consensus")
    doc = _load(Briefing, oid, "briefing")
    briefing.ensure_may_record_consensus(doc.consensus_recorded_at is not None)
    doc.consensus_recorded_at = now
    doc.consensus_recorded_by = p.subject
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)
    return doc


def object_to_briefing(
    principal: Principal | None, now: datetime, oid: ObjectId, presentation_oid: ObjectId
) -> Briefing:
    """Rule 22: a presenting State objects to a briefing based on its case; left out."""
    p, part = caller(principal)
    doc = _load(Briefing, oid, "briefing")
    pres = load_presentation(presentation_oid)
    if pres.meeting_id != doc.meeting_id:
        raise ValidationFailed("That presentation is not of this meeting.", rule=22)
    state = access.own_participant_state(p, part, rule=22)
    briefing.ensure_may_object(state, pres.presenting_state)
    if not any(o.presentation_id == pres.pk for o in doc.case_objections):
        doc.case_objections.append(CaseObjection(presentation_id=pres.pk, state=state, at=now))
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)
    return doc


def consent_to_attribution(
    principal: Principal | None, now: datetime, oid: ObjectId, state: str
) -> Briefing:
    """Rule 22: a State consents to being named in the briefing."""
    p, part = caller(principal)
    code = state_code(state, field="stateCode")
    access.ensure_acts_for(p, code, part, rule=22)
    doc = _load(Briefing, oid, "briefing")
    load_meeting(doc.meeting_id)
    if not any(c.state == code for c in doc.attribution_consents):
        doc.attribution_consents.append(AttributionConsent(state=code, at=now, by=p.subject))
    with unit_of_work(ALIAS) as uow:
        uow.save(doc)
    return doc


# --- the timeline ------------------------------------------------------------------------


def _last_day(moments: Iterable[datetime | None]) -> date | None:
    days = [utc_day(m) for m in moments if m is not None]
    return max(days) if days else None


def _invitation_is_current(doc: Meeting) -> bool:
    """Rule 9: once the meeting moves, the invitation sent no longer names its dates."""
    return doc.invitation is not None and domain.invitation_is_current(
        _as_invitation(doc), as_meeting(doc)
    )


def timeline_facts(doc: Meeting) -> TimelineFacts:
    pres = list(Presentation.objects(meeting_id=doc.pk))
    involved = [(p, s) for p in pres for s in p.involved_states]
    notified = {(p.pk, n.state): n.notified_at for p in pres for n in p.notifications}
    answered = {(p.pk, r.state): r.at for p in pres for r in p.responses}
    proposals = list(ExpertProposal.objects(meeting_id=doc.pk))
    silences = [x for x in proposals if x.status is ExpertProposalStatus.SILENCE]
    objected = [x for x in proposals if x.objections]
    return TimelineFacts(
        invitation_issued_on=(
            utc_day(doc.invitation.issued_at) if _invitation_is_current(doc) else None
        ),
        agenda_distributed_on=_last_day([doc.agenda_distributed_at]),
        notifications_last_on=_last_day(notified.values()),
        notifications_open=sum(1 for p, s in involved if (p.pk, s) not in notified),
        responses_last_on=_last_day(answered.values()),
        responses_open=sum(1 for p, s in involved if (p.pk, s) not in answered),
        proposals_last_on=_last_day(x.proposed_at for x in proposals),
        silence_ends_on=max((x.silence_ends_on for x in proposals), default=None),
        silences_open=len(silences),
        objections_resolved_on=_last_day(x.resolved_at or x.decided_at for x in objected),
        objections_open=sum(1 for x in objected if x.status in (ExpertProposalStatus.OBJECTED,)),
    )


def timeline(principal: Principal | None, oid: ObjectId, now: datetime) -> list[TimelineItem]:
    doc = visible_meeting(principal, oid)
    return meeting_timeline(doc.start_date, timeline_facts(doc), utc_day(now))


def timeline_of(doc: Meeting, now: datetime) -> list[TimelineItem]:
    """For the scheduler (no caller): the same computation."""
    return meeting_timeline(doc.start_date, timeline_facts(doc), utc_day(now))
