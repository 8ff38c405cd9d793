"""Pure rules of the case exchange (rules 15, 16, 18, 19, 21, 22), without servers."""

from __future__ import annotations

from datetime import date

import pytest

from services.cases import domain
from services.cases.domain import (
    Arrangement,
    Audience,
    AudienceKind,
    BriefingConsent,
    CaseStatus,
    ConcernStatus,
    DiversionCategory,
    Section,
    UseDecision,
    Viewer,
)
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.principal import Principal, Role


def viewer(*roles: Role, state: str | None = None, participant: bool = True) -> Viewer:
    return Viewer(
        Principal(subject="x", roles=frozenset(roles), state=state, participant=participant)
    )


FRA = viewer(Role.DELEGATE, state="FRA")
DEU = viewer(Role.ENFORCEMENT_OFFICER, state="DEU")
ITA = viewer(Role.DELEGATE, state="ITA")
USA = viewer(Role.DELEGATE, state="USA", participant=False)
SECRETARIAT = viewer(Role.SECRETARIAT)
CHAIR = viewer(Role.CHAIR)
EXPERT = viewer(Role.EXPERT)
SYSTEM = viewer(Role.SYSTEM)
ALL = Audience()
DEU_ONLY = Audience(AudienceKind.NAMED_STATES, frozenset({"DEU"}))


# --- who may see a case (rules 14, 15) ---------------------------------------------------


@pytest.mark.parametrize(
    ("who", "audience", "expected"),
    [
        (FRA, DEU_ONLY, True),  # the provider always
        (DEU, DEU_ONLY, True),  # named
        (ITA, DEU_ONLY, False),  # not named
        (ITA, ALL, True),  # every participant
        (USA, ALL, False),  # a non-party never
        (SECRETARIAT, ALL, False),  # the Secretariat only when included
        (SECRETARIAT, Audience(include_secretariat=True), True),
        (CHAIR, ALL, False),
        (EXPERT, ALL, False),
        (SYSTEM, ALL, False),
    ],
)
def test_rule_15_the_provider_decides_who_sees_its_case(
    who: Viewer, audience: Audience, expected: bool
) -> None:
    assert domain.may_see(who, "FRA", audience) is expected


def test_a_forbidden_case_is_refused_without_naming_it() -> None:
    with pytest.raises(Forbidden) as refusal:
        domain.ensure_may_see(ITA, "FRA", DEU_ONLY)
    assert refusal.value.message == "This case is not shared with you."
    assert refusal.value.rule == 15


def test_rule_15_the_stricter_audience_wins_for_a_section() -> None:
    case_audience = Audience(
        AudienceKind.NAMED_STATES, frozenset({"DEU", "ITA"}), include_secretariat=True
    )
    sections = {Section.ACTORS: DEU_ONLY}
    assert domain.visible_sections(DEU, "FRA", case_audience, sections) == set(Section)
    assert domain.visible_sections(ITA, "FRA", case_audience, sections) == (
        set(Section) - {Section.ACTORS}
    )
    # DEU_ONLY does not include the Secretariat: actors are hidden from it
    assert Section.ACTORS not in domain.visible_sections(
        SECRETARIAT, "FRA", case_audience, sections
    )
    # the other sections have the case's audience, which includes the Secretariat
    assert domain.visible_sections(SECRETARIAT, "FRA", case_audience, sections) == (
        set(Section) - {Section.ACTORS}
    )
    assert domain.visible_sections(USA, "FRA", case_audience, sections) == set()


def test_disjoint_audiences_leave_a_section_to_the_provider_alone() -> None:
    strict = domain.most_restrictive(
        Audience(AudienceKind.NAMED_STATES, frozenset({"ITA"})), DEU_ONLY
    )
    assert strict.states == frozenset()
    assert not domain.may_see(DEU, "FRA", strict) and not domain.may_see(ITA, "FRA", strict)
    assert domain.may_see(FRA, "FRA", strict)


def test_an_audience_must_name_another_state() -> None:
    with pytest.raises(ValidationFailed) as refusal:
        domain.check_audience(Audience(AudienceKind.NAMED_STATES, frozenset({"FRA"})), "FRA")
    assert refusal.value.field == "states"
    with pytest.raises(ValidationFailed):
        domain.check_audience(Audience(AudienceKind.ALL_PARTICIPANTS, frozenset({"DEU"})), "FRA")
    assert domain.check_audience(DEU_ONLY, "FRA") == DEU_ONLY


def test_a_draft_is_the_providers_alone() -> None:
    domain.ensure_visible_to_non_providers(CaseStatus.DRAFT, FRA, "FRA")
    with pytest.raises(Forbidden):
        domain.ensure_visible_to_non_providers(CaseStatus.DRAFT, DEU, "FRA")
    domain.ensure_visible_to_non_providers(CaseStatus.SHARED, DEU, "FRA")


def test_only_the_provider_acts_on_its_case() -> None:
    domain.ensure_provider(FRA, "FRA")
    for other in (DEU, SECRETARIAT, viewer(Role.DELEGATE, state="FRA", participant=False)):
        with pytest.raises(Forbidden):
            domain.ensure_provider(other, "FRA")


# --- lifecycle (rules 18, 19) ------------------------------------------------------------


def test_rule_18_timeliness_is_the_delay_from_diversion_to_discovery() -> None:
    assert domain.check_timeliness(date(2025, 1, 1), date(2025, 3, 2)) == 60
    assert domain.check_timeliness(date(2025, 1, 1), date(2025, 1, 1)) == 0
    assert domain.check_timeliness(None, date(2025, 1, 1)) is None
    with pytest.raises(ValidationFailed) as refusal:
        domain.check_timeliness(date(2025, 1, 2), date(2025, 1, 1))
    assert (refusal.value.field, refusal.value.rule) == ("discoveredOn", 18)


def test_rule_19_a_case_is_shared_only_with_a_category() -> None:
    with pytest.raises(ValidationFailed) as refusal:
        domain.next_case_status(CaseStatus.DRAFT, CaseStatus.SHARED, [])
    assert (refusal.value.field, refusal.value.rule) == ("categories", 19)
    assert (
        domain.next_case_status(
            CaseStatus.DRAFT, CaseStatus.SHARED, [DiversionCategory.TRAFFICKING_ROUTES]
        )
        is CaseStatus.SHARED
    )
    assert len(DiversionCategory) == 7


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (CaseStatus.DRAFT, CaseStatus.ARCHIVED),
        (CaseStatus.SHARED, CaseStatus.DRAFT),
        (CaseStatus.ARCHIVED, CaseStatus.SHARED),
        (CaseStatus.ARCHIVED, CaseStatus.DRAFT),
    ],
)
def test_a_case_never_goes_back(current: CaseStatus, wanted: CaseStatus) -> None:
    with pytest.raises(Conflict):
        domain.next_case_status(current, wanted, [DiversionCategory.ILLICIT_BROKERS])


# --- operational use (rule 16) -----------------------------------------------------------


def test_rule_16_a_reader_state_asks_the_provider() -> None:
    domain.ensure_may_request_use(DEU, "FRA", ALL)
    for refused in (FRA, ITA):  # the provider itself; a State outside the audience
        with pytest.raises(Forbidden):
            domain.ensure_may_request_use(refused, "FRA", DEU_ONLY)
    with pytest.raises(Forbidden):
        domain.ensure_may_request_use(SECRETARIAT, "FRA", Audience(include_secretariat=True))


def test_rule_16_the_answer_is_final_and_explained() -> None:
    assert domain.decide_use(UseDecision.PENDING, UseDecision.AGREED, None, None) is (
        UseDecision.AGREED
    )
    with pytest.raises(ValidationFailed) as refusal:
        domain.decide_use(UseDecision.PENDING, UseDecision.AGREED_WITH_CONDITIONS, " ", None)
    assert refusal.value.field == "conditions"
    with pytest.raises(ValidationFailed) as refusal:
        domain.decide_use(UseDecision.PENDING, UseDecision.DECLINED, None, None)
    assert refusal.value.field == "reason"
    with pytest.raises(ValidationFailed):
        domain.decide_use(UseDecision.PENDING, UseDecision.PENDING, None, None)
    with pytest.raises(Conflict) as final:
        domain.decide_use(UseDecision.DECLINED, UseDecision.AGREED, None, None)
    assert final.value.rule == 16


# --- disclosure concerns (rule 15) -------------------------------------------------------


def test_rule_15_concerns_are_bilateral() -> None:
    parties = domain.concern_raiser(DEU, "ITA")
    assert domain.may_see_concern(DEU, parties) and domain.may_see_concern(ITA, parties)
    for outsider in (FRA, SECRETARIAT, CHAIR, USA):
        assert not domain.may_see_concern(outsider, parties)


def test_rule_15_the_chair_sees_a_concern_it_raised() -> None:
    parties = domain.concern_raiser(CHAIR, "ITA")
    assert domain.may_see_concern(CHAIR, parties)
    assert not domain.may_see_concern(SECRETARIAT, parties)
    assert not domain.may_see_concern(DEU, parties)


@pytest.mark.parametrize("who", [EXPERT, SYSTEM, USA])
def test_only_participants_chair_and_secretariat_raise_concerns(who: Viewer) -> None:
    with pytest.raises(Forbidden):
        domain.concern_raiser(who, "ITA")


def test_a_concern_is_raised_with_another_state() -> None:
    with pytest.raises(ValidationFailed):
        domain.concern_raiser(ITA, "ITA")


def test_rule_15_respondent_explains_and_raiser_closes() -> None:
    parties = domain.concern_raiser(DEU, "ITA")
    with pytest.raises(Forbidden):
        domain.next_concern_status(ConcernStatus.RAISED, ConcernStatus.EXPLAINED, DEU, parties)
    explained = domain.next_concern_status(
        ConcernStatus.RAISED, ConcernStatus.EXPLAINED, ITA, parties
    )
    with pytest.raises(Forbidden):
        domain.next_concern_status(explained, ConcernStatus.CLOSED, ITA, parties)
    with pytest.raises(Forbidden):
        domain.next_concern_status(explained, ConcernStatus.CLOSED, FRA, parties)
    closed = domain.next_concern_status(explained, ConcernStatus.CLOSED, DEU, parties)
    with pytest.raises(Conflict):
        domain.next_concern_status(closed, ConcernStatus.CLOSED, DEU, parties)
    with pytest.raises(Conflict):
        domain.next_concern_status(closed, ConcernStatus.RAISED, DEU, parties)
    with pytest.raises(Conflict):
        domain.next_concern_status(explained, ConcernStatus.EXPLAINED, ITA, parties)


# --- arrangements (rule 21), briefings (rule 22) -----------------------------------------


def test_rule_21_arrangements_are_confidential_to_their_states() -> None:
    arrangement = Arrangement(frozenset({"FRA", "DEU"}), "joint investigation")
    assert domain.may_see_arrangement(FRA, arrangement)
    assert domain.may_see_arrangement(DEU, arrangement)
    for outsider in (ITA, SECRETARIAT, CHAIR, USA):
        assert not domain.may_see_arrangement(outsider, arrangement)


def test_rule_22_briefings_need_consent() -> None:
    assert domain.may_cite_in_briefing(BriefingConsent())
    assert not domain.may_attribute(BriefingConsent())
    assert domain.may_attribute(BriefingConsent(attribution_consent=True))
    excluded = BriefingConsent(excluded_from_briefings=True, attribution_consent=True)
    assert not domain.may_cite_in_briefing(excluded)
    assert not domain.may_attribute(excluded)


def test_an_edit_shows_to_a_reader_only_if_it_touched_what_the_reader_may_read() -> None:
    from services.cases.domain import revision_visible

    sections = frozenset({"actors", "summary"})
    readable = frozenset({"SUMMARY"})
    assert not revision_visible(["actors"], ["ACTORS"], sections, readable)
    assert revision_visible(["summary"], ["SUMMARY"], sections, readable)
    assert revision_visible(["title"], [], sections, readable), "case-level fields: everyone"
    assert not revision_visible(["section_audiences"], [], sections, readable)
    assert revision_visible(["actors", "title"], ["ACTORS"], sections, readable)


def test_rule_13_only_the_presenting_state_links_a_case_to_its_presentation() -> None:
    from services.cases.domain import ensure_presenter
    from services.common.errors import Forbidden

    ensure_presenter("FRA", "FRA")
    for presenter in ("DEU", None):  # another State's presentation; a presenter unknown
        with pytest.raises(Forbidden) as refused:
            ensure_presenter("FRA", presenter)
        assert refused.value.rule == 13
