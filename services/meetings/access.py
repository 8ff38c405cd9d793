"""Rule 14: who may see a meeting, its agenda and its documents. Pure.

Meetings, their agenda and all documents are confidential: the Secretariat and the Chair
see everything; representatives of participant States see their meetings; an approved
non-state expert sees only the presentation they were approved for, and its documents; a
participants' decision to lift confidentiality is honoured for what it names.
"""

from __future__ import annotations

from services.common.errors import Forbidden
from services.common.principal import Principal, Role


def is_organiser(principal: Principal) -> bool:
    """Rules 3, 5, 9, 10: the Secretariat and the Chair run the meetings."""
    return principal.is_secretariat or principal.has_role(Role.CHAIR)


def is_participant_representative(principal: Principal, participant_now: bool) -> bool:
    """Rules 1 and 6: a delegate or enforcement officer of a participant State.

    ``participant_now`` is the State's status as this service knows it now (the
    gateway's flag and the local register must both say yes)."""
    return principal.represents_state and participant_now


def may_see_meeting(principal: Principal, participant_now: bool) -> bool:
    """Rule 14: the meeting and its agenda, for organisers and participants."""
    return is_organiser(principal) or is_participant_representative(principal, participant_now)


def ensure_may_see_meeting(
    principal: Principal, participant_now: bool, *, lifted: bool = False
) -> None:
    """Rule 14: refuse anyone else, unless the participants lifted confidentiality."""
    if lifted or may_see_meeting(principal, participant_now):
        return
    if principal.has_role(Role.EXPERT):
        raise Forbidden(
            "A non-state expert sees only the presentation they were approved for.", rule=8
        )
    if principal.represents_state:
        raise Forbidden(
            f"{principal.state} is not a participant (State Party or signatory); Forum "
            "meetings are confidential to participants.",
            rule=14,
        )
    raise Forbidden("Forum meetings are confidential to participants.", rule=14)


def may_see_presentation(
    principal: Principal, participant_now: bool, approved_experts: frozenset[str]
) -> bool:
    """Rules 8 and 14: participants and organisers, and the experts approved for it."""
    if may_see_meeting(principal, participant_now):
        return True
    return principal.has_role(Role.EXPERT) and principal.subject in approved_experts


def ensure_may_see_presentation(
    principal: Principal,
    participant_now: bool,
    approved_experts: frozenset[str],
    *,
    lifted: bool = False,
) -> None:
    if lifted or may_see_presentation(principal, participant_now, approved_experts):
        return
    if principal.has_role(Role.EXPERT):
        raise Forbidden(
            "A non-state expert sees only the presentation they were approved for.", rule=8
        )
    ensure_may_see_meeting(principal, participant_now)


def ensure_organiser(principal: Principal, rule: int, what: str) -> None:
    if not is_organiser(principal):
        raise Forbidden(f"Only the Secretariat or the Chair may {what}.", rule=rule)


def ensure_secretariat(principal: Principal, rule: int, what: str) -> None:
    if not principal.is_secretariat:
        raise Forbidden(f"Only the Secretariat may {what}.", rule=rule)


def ensure_acts_for(principal: Principal, state: str, participant_now: bool, rule: int) -> None:
    """A representative acts for their own participant State only."""
    if not principal.represents_state or principal.state != state:
        raise Forbidden(f"Only representatives of {state} may do this for it.", rule=rule)
    if not participant_now:
        raise Forbidden(
            f"{state} is not a participant (State Party or signatory) of the Forum.", rule=6
        )


def own_participant_state(principal: Principal, participant_now: bool, rule: int) -> str:
    """The State a representative acts for, which must be a participant now."""
    if not principal.represents_state or principal.state is None:
        raise Forbidden("Only a participant State's representative may do this.", rule=rule)
    ensure_acts_for(principal, principal.state, participant_now, rule)
    return principal.state
