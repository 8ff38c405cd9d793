"""Pure parts of the case exchange outside the domain module: the stored reach of each
section (the checks on attachment bytes are services.common.files, tests/test_common_files.py).
No servers."""

from __future__ import annotations

from services.cases import access
from services.cases.domain import Audience, AudienceKind, Section


def test_reach_of_each_section_is_the_stricter_audience() -> None:
    case = Audience(AudienceKind.NAMED_STATES, frozenset({"DEU", "NLD"}), True)
    reach = access.compute_reach(
        case, {Section.ACTORS: Audience(AudienceKind.NAMED_STATES, frozenset({"DEU", "ITA"}))}
    )
    assert reach["CASE"] == {"everyone": False, "states": ["DEU", "NLD"], "secretariat": True}
    # no own audience: the case's
    assert reach["SUMMARY"] == reach["CASE"]
    # own audience: the intersection, and the Secretariat only if both include it
    assert reach["ACTORS"] == {"everyone": False, "states": ["DEU"], "secretariat": False}
    assert set(reach) == {"CASE", *(s.value for s in Section)}


def test_reach_of_an_open_case_with_a_named_section() -> None:
    reach = access.compute_reach(
        Audience(), {Section.ROUTES: Audience(AudienceKind.NAMED_STATES, frozenset({"DEU"}))}
    )
    assert reach["CASE"]["everyone"] is True
    assert reach["ROUTES"] == {"everyone": False, "states": ["DEU"], "secretariat": False}
