"""Rules 6 and 7: who registers for a meeting, and the participation figures. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from services.common.errors import Forbidden
from services.meetings.values import text


class DelegateFunction(StrEnum):
    LICENSING = "LICENSING"
    CUSTOMS = "CUSTOMS"
    POLICE = "POLICE"
    PROSECUTION = "PROSECUTION"
    INTELLIGENCE = "INTELLIGENCE"
    OTHER = "OTHER"


ENFORCEMENT_FUNCTIONS = frozenset(
    {
        DelegateFunction.CUSTOMS,
        DelegateFunction.POLICE,
        DelegateFunction.PROSECUTION,
        DelegateFunction.INTELLIGENCE,
    }
)


def ensure_may_register(state: str, participant_now: bool) -> None:
    """Rule 6: every State Party and signatory may attend every meeting (no one can
    refuse them); a State that is not a participant cannot register."""
    if not participant_now:
        raise Forbidden(
            f"{state} is not a State Party or signatory State and cannot attend.", rule=6
        )


def delegate_name(name: str) -> str:
    return text(name, "name", max_length=200, rule=7)


@dataclass(frozen=True)
class ParticipationFigures:
    delegates: int
    states: int
    enforcement_officers: int
    by_function: dict[DelegateFunction, int]


def participation_figures(
    registrations: Iterable[tuple[str, DelegateFunction]],
) -> ParticipationFigures:
    """Rule 7: how many delegates, from how many States, how many enforcement officers."""
    regs = list(registrations)
    by_function = Counter(function for _, function in regs)
    return ParticipationFigures(
        delegates=len(regs),
        states=len({state for state, _ in regs}),
        enforcement_officers=sum(n for f, n in by_function.items() if f in ENFORCEMENT_FUNCTIONS),
        by_function={f: by_function.get(f, 0) for f in DelegateFunction},
    )
