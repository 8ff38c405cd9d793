"""Who may read a case and each of its sections, as stored and as queried.

The rules are the domain's (``may_see``, ``most_restrictive``); this module turns them
into the ``reach`` a case stores and into the database conditions every list uses, so
that forbidden cases are never loaded, counted or matched.
"""

from __future__ import annotations

from typing import Any

from mongoengine.queryset.visitor import Q

from services.cases.domain import (
    Audience,
    AudienceKind,
    CaseStatus,
    Section,
    Viewer,
    most_restrictive,
)

CASE = "CASE"  # the reach key of the case as a whole (title, categories, status...)


def reach_entry(audience: Audience) -> dict[str, Any]:
    return {
        "everyone": audience.kind is AudienceKind.ALL_PARTICIPANTS,
        "states": sorted(audience.states),
        "secretariat": audience.include_secretariat,
    }


def compute_reach(
    case_audience: Audience, section_audiences: dict[Section, Audience]
) -> dict[str, dict[str, Any]]:
    """Rule 15: each section's audience is the stricter of the case's and its own."""
    reach = {CASE: reach_entry(case_audience)}
    for section in Section:
        own = section_audiences.get(section, case_audience)
        reach[section.value] = reach_entry(most_restrictive(case_audience, own))
    return reach


def visible_condition(viewer: Viewer, key: str = CASE) -> Q | None:
    """Database condition for 'the viewer may read this part'; None when nothing is."""
    state = viewer.participant_state
    shared = Q(status__ne=CaseStatus.DRAFT.value)
    if state is not None:
        return Q(provider=state) | (
            shared
            & (Q(**{f"reach__{key}__everyone": True}) | Q(**{f"reach__{key}__states": state}))
        )
    if viewer.principal.is_secretariat:
        return shared & Q(**{f"reach__{key}__secretariat": True})
    return None


def part_condition(viewer: Viewer, key: str, condition: Q) -> Q:
    """A search condition on a section's content holds only where the viewer may read
    that section: matching on hidden content would reveal it."""
    visible = visible_condition(viewer, key)
    return condition & visible if visible is not None else Q(pk__in=[])
