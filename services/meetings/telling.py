"""Which notice each API change gives, and to which States (rules 8, 10, 12 and the
meeting's changes): called by the resolvers after the change is saved; the payload
then carries the notice, with the States nobody could be told."""

from __future__ import annotations

from typing import Any, TypeVar

from services.common.ids import from_global_id
from services.common.mongo import run_sync
from services.common.notifications.kinds import NoticeKind
from services.meetings import experts, notices
from services.meetings.documents import AgendaItem, ExpertProposal, Meeting, Presentation
from services.meetings.experts import ExpertProposalStatus
from services.meetings.notices_schema import notice_of
from services.meetings.notify import link_base, tell

P = TypeVar("P")


def _shown(info: Any, payload: P, entry: Any) -> P:
    principal = info.context.principal
    payload.notice = notice_of(entry, principal.subject if principal else "")  # type: ignore[attr-defined]
    return payload


async def told_of_meeting(info: Any, payload: P, meeting: Meeting, *, moved: bool) -> P:
    notice = notices.meeting_moved(meeting) if moved else notices.meeting_cancelled(meeting)
    return _shown(info, payload, await tell(info, notice, meeting))


def _titles(meeting: Meeting) -> list[str]:
    return [i.title for i in AgendaItem.objects(meeting_id=meeting.pk).order_by("position")]


async def told_of_agenda(info: Any, payload: P, meeting: Meeting) -> P:
    kind = (
        NoticeKind.AGENDA_ADOPTED
        if meeting.agenda_adopted_at is not None
        else NoticeKind.AGENDA_DISTRIBUTED
    )
    titles = await run_sync(_titles, meeting)
    notice = notices.agenda_notice(meeting, kind, titles, link_base(info))
    return _shown(info, payload, await tell(info, notice, meeting))


async def told_of_notification(info: Any, payload: P, pres: Presentation) -> P:
    """Rule 12: the States notified now (not those told before), asked to respond."""
    latest = max(n.notified_at for n in pres.notifications)
    fresh = [n for n in pres.notifications if n.notified_at == latest]
    meeting = await run_sync(lambda: Meeting.objects(pk=pres.meeting_id).first())
    late = next((getattr(n, "late_reason", None) for n in fresh), None)
    notice = notices.involved_state_notified(
        meeting,
        pres.title,
        pres.presenting_state,
        fresh[0].reply_due_on,
        late,
        link_base(info),
    )
    states = [n.state for n in fresh]
    return _shown(info, payload, await tell(info, notice, meeting, states))


async def told_of_response(info: Any, payload: P, pres: Presentation) -> P:
    """Rule 12: the presenting State hears that an involved State responded."""
    response = max(pres.responses, key=lambda r: r.at)
    meeting = await run_sync(lambda: Meeting.objects(pk=pres.meeting_id).first())
    notice = notices.response_received(meeting, pres.title, response.state, link_base(info))
    return _shown(info, payload, await tell(info, notice, meeting, [pres.presenting_state]))


async def told_of_expert(info: Any, payload: P, proposal: ExpertProposal | None) -> P:
    """Rule 8: a new proposal goes to every participant, and when another State proposed
    it, to the presenting State specifically as well; an objection to the proposer."""
    if proposal is None:
        oid = from_global_id(payload.expert_proposal.id, "ExpertProposal")  # type: ignore[attr-defined]
        proposal = await run_sync(lambda: ExpertProposal.objects(pk=oid).first())
    meeting = await run_sync(lambda: Meeting.objects(pk=proposal.meeting_id).first())
    if proposal.status is ExpertProposalStatus.SILENCE and not proposal.objections:
        kind, states = NoticeKind.EXPERT_PROPOSAL_CIRCULATED, None
    else:
        kind, states = NoticeKind.EXPERT_OBJECTION_RAISED, [proposal.proposing_state]
    notice = notices.expert_notice(
        meeting,
        kind,
        proposal.expert_name,
        proposal.proposing_state,
        link_base(info),
        proposal.silence_ends_on,
    )
    shown = _shown(info, payload, await tell(info, notice, meeting, states))
    presenting = proposal.presenting_state
    if kind is NoticeKind.EXPERT_PROPOSAL_CIRCULATED and experts.tells_the_presenter(
        presenting, proposal.proposing_state
    ):
        specific = notices.expert_notice(
            meeting,
            NoticeKind.EXPERT_PROPOSED_FOR_YOUR_PRESENTATION,
            proposal.expert_name,
            proposal.proposing_state,
            link_base(info),
            proposal.silence_ends_on,
        )
        await tell(info, specific, meeting, [presenting], secretariat=False)
    return shown
