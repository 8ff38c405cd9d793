"""Rule 8: non-state experts, their proposal, the silence procedure and objections. Pure.

``PROPOSED → SILENCE → APPROVED``, or ``SILENCE → OBJECTED → RESOLVED`` (the objection is
withdrawn after consultation) or ``OBJECTED → REFERRED → DECIDED`` (unresolved 20 days
before the meeting, the participants take a procedural decision: approved or rejected).
A proposal is circulated at once, so ``PROPOSED`` lasts only as long as the request.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from services.common.errors import Conflict, DeadlinePassed, Forbidden
from services.meetings.deadlines import (
    expert_proposal_due,
    objection_resolution_due,
    on_or_before,
    silence_ends_on,
    utc_day,
)


class ExpertProposalStatus(StrEnum):
    PROPOSED = "PROPOSED"
    SILENCE = "SILENCE"
    APPROVED = "APPROVED"
    OBJECTED = "OBJECTED"
    RESOLVED = "RESOLVED"
    REFERRED = "REFERRED"
    DECIDED = "DECIDED"


class ExpertDecision(StrEnum):
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class PresenterPosition(StrEnum):
    """Rule 8, as the presenting State stands on an expert proposed for its presentation
    (the expert would read it): its objection in the silence procedure is its say."""

    PROPOSER = "PROPOSER"  # it proposed the expert itself
    NONE = "NONE"  # it has not objected (silence means approval)
    OBJECTED = "OBJECTED"  # it objects
    OBJECTION_WITHDRAWN = "OBJECTION_WITHDRAWN"  # it objected, then withdrew after consulting


def presenter_position(
    presenting: str, proposing: str, objections: list[tuple[str, bool]]
) -> PresenterPosition:
    """``objections``: (State, withdrawn) of each objection raised."""
    if presenting == proposing:
        return PresenterPosition.PROPOSER
    for state, withdrawn in objections:
        if state == presenting:
            return (
                PresenterPosition.OBJECTION_WITHDRAWN if withdrawn else PresenterPosition.OBJECTED
            )
    return PresenterPosition.NONE


def tells_the_presenter(presenting: str | None, proposing: str) -> bool:
    """Rule 8: another State's proposal for a presentation is told to its presenter at
    once, specifically (the circulated notice to every participant is not enough)."""
    return presenting is not None and presenting != proposing


def ensure_may_propose(start_date: date, at: datetime) -> date:
    """Rule 8: a non-state expert is proposed at least 30 days before the meeting.
    Returns the last day of the silence procedure that opens at once."""
    due = expert_proposal_due(start_date)
    if not on_or_before(at, due):
        raise DeadlinePassed(
            f"Non-state experts had to be proposed by {due.isoformat()} (30 days before the "
            "meeting).",
            rule=8,
        )
    return silence_ends_on(at)


def silence_is_over(silence_ends: date, today: date) -> bool:
    """Rule 8: the five days of silence are over from the day after the last one."""
    return today > silence_ends


def ensure_state_party_objects(state: str, state_party: bool) -> None:
    """Rule 8: "a State Party" may object. A signatory State takes part in the meeting
    (rule 6) and is told of the proposal, but does not object to it."""
    if not state_party:
        raise Forbidden(
            f"Rule 8: only a State Party may object to a non-state expert; {state} is not a "
            "State Party (a signatory State is told of the proposal but cannot object).",
            rule=8,
        )


def ensure_may_object(status: ExpertProposalStatus, silence_ends: date, at: datetime) -> None:
    """Rule 8: a participant objects during the silence procedure, not after it."""
    if status not in (ExpertProposalStatus.SILENCE, ExpertProposalStatus.OBJECTED):
        raise Conflict("Objections are made during the silence procedure.", rule=8)
    if silence_is_over(silence_ends, utc_day(at)):
        raise DeadlinePassed(f"The silence procedure ended on {silence_ends.isoformat()}.", rule=8)


def ensure_may_consult(status: ExpertProposalStatus) -> None:
    """Rule 8: the objecting and the proposing States consult while the objection stands."""
    if status is not ExpertProposalStatus.OBJECTED:
        raise Conflict("Consultations are recorded while an objection stands.", rule=8)


def ensure_may_resolve(status: ExpertProposalStatus) -> None:
    if status is not ExpertProposalStatus.OBJECTED:
        raise Conflict("Only a proposal under objection can be resolved.", rule=8)


def objections_resolved(objecting: set[str], withdrawn: set[str]) -> bool:
    """Rule 8: the objection is resolved once every objecting State has withdrawn."""
    return bool(objecting) and objecting <= withdrawn


def ensure_may_decide(status: ExpertProposalStatus) -> None:
    """Rule 8: the participants decide on an objection referred to them."""
    if status is not ExpertProposalStatus.REFERRED:
        raise Conflict("The participants decide only on an objection referred to them.", rule=8)


def due_transition(
    status: ExpertProposalStatus, silence_ends: date, start_date: date, today: date
) -> ExpertProposalStatus | None:
    """Rule 8: what the passing of time alone does to a proposal on ``today``: the
    silence ends without objection (approved), or an objection still unresolved 20 days
    before the meeting goes to the participants. None: nothing changes."""
    if status is ExpertProposalStatus.SILENCE and silence_is_over(silence_ends, today):
        return ExpertProposalStatus.APPROVED
    if status is ExpertProposalStatus.OBJECTED and today >= objection_resolution_due(start_date):
        return ExpertProposalStatus.REFERRED
    return None


def is_approved(status: ExpertProposalStatus, decision: ExpertDecision | None) -> bool:
    """The expert may take part (and see their presentation)."""
    return status in (ExpertProposalStatus.APPROVED, ExpertProposalStatus.RESOLVED) or (
        status is ExpertProposalStatus.DECIDED and decision is ExpertDecision.APPROVED
    )
