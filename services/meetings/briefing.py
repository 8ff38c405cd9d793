"""Rule 22: the Chair's oral briefing of the WGETI or the CSP on general trends. Pure.

The Chair may brief only if the participants agree by consensus; a presenting State may
object to any briefing based on its case (the case is then left out); no attribution to a
State without its consent.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.common.errors import Conflict, Forbidden


def ensure_may_record_consensus(consensus_recorded: bool) -> None:
    if consensus_recorded:
        raise Conflict("The participants' consensus is recorded already.", rule=22)


def ensure_may_object(objecting_state: str, presenting_state: str) -> None:
    """Rule 22: only the State that presented a case may object to a briefing on it."""
    if objecting_state != presenting_state:
        raise Forbidden(
            "Only the State that presented a case may object to a briefing based on it.",
            rule=22,
        )


def may_brief(consensus_recorded: bool) -> bool:
    """Rule 22: the Chair briefs only with the participants' consensus."""
    return consensus_recorded


def attributable_states(requested: Iterable[str], consented: Iterable[str]) -> list[str]:
    """Rule 22: a briefing names a State only if that State consented."""
    given = set(consented)
    return sorted(s for s in set(requested) if s in given)
