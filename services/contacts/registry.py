"""The State registry as each contacts process reads it: from memory.

About 250 States whose status changes a few times a year, read by nearly every request
(the caller's participation, the ``states`` pages, State entities). The copy is dropped by
this process's own status changes at once, by ``dief.contacts.state.status_changed`` in
every process, and otherwise within ``hot_data_check_seconds`` (``services.common.hot_data``).

The documents handed out are shared by every request of the process: read them, never
change them (a status change loads its State from the database).
"""

from __future__ import annotations

from services.common.hot_data import HotData
from services.contacts import domain
from services.contacts.documents import ALIAS, State


def _load() -> dict[str, State]:
    return {state.code: state for state in State.objects.order_by("code")}


STATES: HotData[dict[str, State]] = HotData(ALIAS, "states", _load)


def all_states() -> dict[str, State]:
    """Every State by code, in code order."""
    return STATES.get()


def find(code: str) -> State | None:
    return STATES.get().get(code)


def is_participant(code: str | None) -> bool:
    state = find(code) if code is not None else None
    return state is not None and domain.is_participant(state.status)
