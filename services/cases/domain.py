"""Pure rules of the case exchange: who may see what, and the lifecycles of cases,
operational-use requests, disclosure concerns and arrangements. No database, no web.

Rule numbers are those of the DIEF Terms of Reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.principal import Principal, Role


class DiversionCategory(StrEnum):
    """Rule 19, categories a) to g)."""

    ILLICIT_TRANSFER_ACTIVITIES = "ILLICIT_TRANSFER_ACTIVITIES"  # a) incl. corruption
    TRAFFICKING_ROUTES = "TRAFFICKING_ROUTES"  # b)
    ILLICIT_BROKERS = "ILLICIT_BROKERS"  # c)
    SOURCES_OF_ILLICIT_SUPPLY = "SOURCES_OF_ILLICIT_SUPPLY"  # d)
    CONCEALMENT_METHODS = "CONCEALMENT_METHODS"  # e)
    POINTS_OF_DISPATCH = "POINTS_OF_DISPATCH"  # f)
    DESTINATIONS_OF_ORGANISED_GROUPS = "DESTINATIONS_OF_ORGANISED_GROUPS"  # g)


class ItemKind(StrEnum):
    """Article 2(1) of the Treaty, plus ammunition (Article 3) and parts (Article 4)."""

    BATTLE_TANKS = "BATTLE_TANKS"
    ARMOURED_COMBAT_VEHICLES = "ARMOURED_COMBAT_VEHICLES"
    LARGE_CALIBRE_ARTILLERY = "LARGE_CALIBRE_ARTILLERY"
    COMBAT_AIRCRAFT = "COMBAT_AIRCRAFT"
    ATTACK_HELICOPTERS = "ATTACK_HELICOPTERS"
    WARSHIPS = "WARSHIPS"
    MISSILES_AND_LAUNCHERS = "MISSILES_AND_LAUNCHERS"
    SMALL_ARMS_AND_LIGHT_WEAPONS = "SMALL_ARMS_AND_LIGHT_WEAPONS"
    AMMUNITION_MUNITIONS = "AMMUNITION_MUNITIONS"
    PARTS_AND_COMPONENTS = "PARTS_AND_COMPONENTS"


class InvestigationStatus(StrEnum):
    ONGOING = "ONGOING"
    CLOSED = "CLOSED"


class CaseStatus(StrEnum):
    DRAFT = "DRAFT"
    SHARED = "SHARED"
    ARCHIVED = "ARCHIVED"


class Section(StrEnum):
    """Parts of a case whose audience the provider may set apart (rules 14, 15)."""

    SUMMARY = "SUMMARY"
    DIVERSION = "DIVERSION"
    DISCOVERY = "DISCOVERY"
    METHODS = "METHODS"
    ACTORS = "ACTORS"
    ITEMS = "ITEMS"
    ROUTES = "ROUTES"


class AudienceKind(StrEnum):
    ALL_PARTICIPANTS = "ALL_PARTICIPANTS"
    NAMED_STATES = "NAMED_STATES"


# --- audiences (rules 14 and 15) ---------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Who the provider shares with. The Secretariat sees content only when included."""

    kind: AudienceKind = AudienceKind.ALL_PARTICIPANTS
    states: frozenset[str] = frozenset()
    include_secretariat: bool = False


def check_audience(audience: Audience, provider: str) -> Audience:
    """Rule 15: the provider's classification must say who: named States, or all."""
    if audience.kind is AudienceKind.NAMED_STATES and not audience.states - {provider}:
        raise ValidationFailed(
            "A NAMED_STATES audience names at least one other State.", field="states", rule=15
        )
    if audience.kind is AudienceKind.ALL_PARTICIPANTS and audience.states:
        raise ValidationFailed(
            "An ALL_PARTICIPANTS audience names no States.", field="states", rule=15
        )
    return audience


def most_restrictive(first: Audience, second: Audience) -> Audience:
    """Rule 15: where a case and a section both set an audience, the stricter one wins
    (their intersection)."""
    secretariat = first.include_secretariat and second.include_secretariat
    if first.kind is AudienceKind.ALL_PARTICIPANTS:
        return Audience(second.kind, second.states, secretariat)
    if second.kind is AudienceKind.ALL_PARTICIPANTS:
        return Audience(first.kind, first.states, secretariat)
    # may be empty: then only the provider sees that section
    return Audience(AudienceKind.NAMED_STATES, first.states & second.states, secretariat)


@dataclass(frozen=True)
class Viewer:
    """A caller as the case exchange sees them: the principal plus the State's standing
    as it is now. ``participant_now`` is False unless this service's register of
    participants knows the State as a participant, whatever the (still valid) token says."""

    principal: Principal
    participant_now: bool = True

    @property
    def state(self) -> str | None:
        return self.principal.state if self.principal.represents_state else None

    @property
    def participant_state(self) -> str | None:
        """Rules 1 and 6: the State a participant's representative acts for, or None."""
        if not (self.principal.participant and self.participant_now):
            return None
        return self.state


def sees_co_recipients(viewer: Viewer, provider: str, shown_to_recipients: bool) -> bool:
    """Who reads a case's audience list and its involved States: the provider and the
    Secretariat always; the other recipients only if the provider chose to show them
    (default: hidden; each recipient then sees only its own State in those lists)."""
    return (
        viewer.participant_state == provider
        or viewer.principal.is_secretariat
        or shown_to_recipients
    )


def reads_response_of(viewer: Viewer, provider: str, involved: str) -> bool:
    """An involved State's response is read by the provider, the Secretariat (who sees the
    case only when included) and that State itself; never by the other recipients."""
    return viewer.participant_state in (provider, involved) or viewer.principal.is_secretariat


def may_see(viewer: Viewer, provider: str, audience: Audience) -> bool:
    """Rules 14 and 15: the provider always; participants in the audience; the
    Secretariat only if the provider included it. Nobody else, ever."""
    state = viewer.participant_state
    if state == provider:
        return True
    if state is not None:
        if audience.kind is AudienceKind.ALL_PARTICIPANTS:
            return True
        return state in audience.states
    return viewer.principal.is_secretariat and audience.include_secretariat


def visible_sections(
    viewer: Viewer,
    provider: str,
    case_audience: Audience,
    section_audiences: dict[Section, Audience],
) -> set[Section]:
    """The sections of a case the viewer may read (empty: the case is not theirs to see).
    A section without an audience of its own has the case's."""
    if not may_see(viewer, provider, case_audience):
        return set()
    return {
        section
        for section in Section
        if may_see(
            viewer,
            provider,
            most_restrictive(case_audience, section_audiences.get(section, case_audience)),
        )
    }


def ensure_may_see(viewer: Viewer, provider: str, audience: Audience) -> None:
    """A direct fetch of a case outside one's audience is FORBIDDEN, without its title."""
    if not may_see(viewer, provider, audience):
        raise Forbidden("This case is not shared with you.", rule=15)


# --- the case and its lifecycle (rules 18 and 19) ----------------------------------------


def check_timeliness(diverted_on: date | None, discovered_on: date | None) -> int | None:
    """Rule 18: the timeliness of the discovery, as whole days from diversion to
    discovery; discovery cannot precede diversion."""
    if diverted_on is None or discovered_on is None:
        return None
    if discovered_on < diverted_on:
        raise ValidationFailed(
            "The discovery cannot come before the diversion.", field="discoveredOn", rule=18
        )
    return (discovered_on - diverted_on).days


def ensure_categories_before_sharing(categories: Iterable[DiversionCategory]) -> None:
    """Rule 19: every shared case is tagged with at least one category a) to g)."""
    if not list(categories):
        raise ValidationFailed(
            "Tag the case with at least one diversion category before sharing it.",
            field="categories",
            rule=19,
        )


CASE_TRANSITIONS = {
    CaseStatus.DRAFT: {CaseStatus.SHARED},
    CaseStatus.SHARED: {CaseStatus.ARCHIVED},
    CaseStatus.ARCHIVED: set(),
}


def next_case_status(
    current: CaseStatus, wanted: CaseStatus, categories: Iterable[DiversionCategory]
) -> CaseStatus:
    """DRAFT (provider only) -> SHARED -> ARCHIVED; nothing goes back."""
    if wanted not in CASE_TRANSITIONS[current]:
        raise Conflict(f"A {current.value} case cannot become {wanted.value}.", field="status")
    if wanted is CaseStatus.SHARED:
        ensure_categories_before_sharing(categories)
    return wanted


def ensure_provider(viewer: Viewer, provider: str) -> None:
    """Only the providing State's representatives act on its case."""
    if viewer.participant_state != provider:
        raise Forbidden(f"Only representatives of {provider}, the provider, may do this.", rule=15)


def ensure_presenter(provider: str, presenter: str | None) -> None:
    """Rule 13: a case is linked to a presentation by the State that gives it (the
    presentation's presenter links its own case), never by another State."""
    if presenter != provider:
        raise Forbidden(
            "Only the presenting State links a case to its presentation.",
            field="presentationId",
            rule=13,
        )


def ensure_visible_to_non_providers(status: CaseStatus, viewer: Viewer, provider: str) -> None:
    """A draft is the provider's alone."""
    if status is CaseStatus.DRAFT and viewer.participant_state != provider:
        raise Forbidden("This case is not shared with you.", rule=15)


# --- operational use (rule 16) -----------------------------------------------------------


class IntendedUse(StrEnum):
    EXPORT_LICENCE_ASSESSMENT = "EXPORT_LICENCE_ASSESSMENT"
    INVESTIGATION = "INVESTIGATION"
    PROSECUTION = "PROSECUTION"
    OTHER = "OTHER"


class UseDecision(StrEnum):
    PENDING = "PENDING"
    AGREED = "AGREED"
    AGREED_WITH_CONDITIONS = "AGREED_WITH_CONDITIONS"
    DECLINED = "DECLINED"


def ensure_may_request_use(viewer: Viewer, provider: str, audience: Audience) -> None:
    """Rule 16: a reader State (not the provider) asks the provider before any
    operational use."""
    ensure_may_see(viewer, provider, audience)
    if viewer.participant_state in (None, provider):
        raise Forbidden(
            "Operational-use requests come from a reader State, not the provider.", rule=16
        )


def decide_use(
    current: UseDecision, decision: UseDecision, conditions: str | None, reason: str | None
) -> UseDecision:
    """Rule 16: the provider answers once; the decision is final."""
    if current is not UseDecision.PENDING:
        raise Conflict("This request has been answered; the decision is final.", rule=16)
    if decision is UseDecision.PENDING:
        raise ValidationFailed(
            "Answer AGREED, AGREED_WITH_CONDITIONS or DECLINED.", field="decision", rule=16
        )
    if decision is UseDecision.AGREED_WITH_CONDITIONS and not (conditions or "").strip():
        raise ValidationFailed("Say what the conditions are.", field="conditions", rule=16)
    if decision is UseDecision.DECLINED and not (reason or "").strip():
        raise ValidationFailed("Give the reason for declining.", field="reason", rule=16)
    return decision


# --- disclosure concerns (rule 15) -------------------------------------------------------


class ConcernStatus(StrEnum):
    RAISED = "RAISED"
    EXPLAINED = "EXPLAINED"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class ConcernParties:
    raised_by_state: str | None  # None when the Chair or the Secretariat raised it
    raised_by_role: Role | None
    respondent: str


def concern_raiser(viewer: Viewer, respondent: str) -> ConcernParties:
    """Rule 15: a participant, the Chair or the Secretariat raises a suspected
    unauthorised disclosure with another participant."""
    state = viewer.participant_state
    if state is not None:
        if state == respondent:
            raise ValidationFailed(
                "A concern is raised with another participant.", field="respondent", rule=15
            )
        return ConcernParties(state, None, respondent)
    for role in (Role.CHAIR, Role.SECRETARIAT):
        if viewer.principal.has_role(role):
            return ConcernParties(None, role, respondent)
    raise Forbidden(
        "Only participants, the Chair and the Secretariat raise disclosure concerns.", rule=15
    )


def may_see_concern(viewer: Viewer, parties: ConcernParties) -> bool:
    """Rule 15: bilateral; the Chair or the Secretariat see it only when they raised it."""
    state = viewer.participant_state
    if state is not None and state in (parties.raised_by_state, parties.respondent):
        return True
    return parties.raised_by_role is not None and viewer.principal.has_role(parties.raised_by_role)


def next_concern_status(
    current: ConcernStatus, wanted: ConcernStatus, viewer: Viewer, parties: ConcernParties
) -> ConcernStatus:
    """Rule 15: the respondent explains and records remedial measures; the raiser closes."""
    if not may_see_concern(viewer, parties):
        raise Forbidden("This concern is not yours to act on.", rule=15)
    if wanted is ConcernStatus.EXPLAINED:
        if current is not ConcernStatus.RAISED:
            raise Conflict("Only a raised concern can be explained.", rule=15)
        if viewer.participant_state != parties.respondent:
            raise Forbidden("The State the concern was raised with explains it.", rule=15)
        return wanted
    if wanted is ConcernStatus.CLOSED:
        if current is ConcernStatus.CLOSED:
            raise Conflict("This concern is closed already.", rule=15)
        raiser = (
            viewer.participant_state == parties.raised_by_state
            if parties.raised_by_state
            else parties.raised_by_role is not None
            and viewer.principal.has_role(parties.raised_by_role)
        )
        if not raiser:
            raise Forbidden("Whoever raised the concern closes it.", rule=15)
        return wanted
    raise Conflict(f"A concern cannot go back to {wanted.value}.", rule=15)


# --- arrangements (rule 21) and briefings (rule 22) --------------------------------------


@dataclass(frozen=True)
class Arrangement:
    states: frozenset[str]
    what: str
    due_on: date | None = None


def may_see_arrangement(viewer: Viewer, arrangement: Arrangement) -> bool:
    """Rule 21: follow-up arrangements are confidential to the States in them."""
    return viewer.participant_state in arrangement.states


@dataclass(frozen=True)
class BriefingConsent:
    """Rule 22: the provider may keep its case out of any oral briefing, and gives or
    withholds consent to being named."""

    excluded_from_briefings: bool = False
    attribution_consent: bool = False


def may_cite_in_briefing(consent: BriefingConsent) -> bool:
    """Rule 22: a case the provider objected to is not used in a briefing."""
    return not consent.excluded_from_briefings


def may_attribute(consent: BriefingConsent) -> bool:
    """Rule 22: no attribution to a State without its consent."""
    return consent.attribution_consent and not consent.excluded_from_briefings


# A case's history as one reader may see it: an edit shows (as a revision, in updatedAt and
# in the history) only if it changed something that reader may read. Section audiences are
# the provider's own business (sectionAudiences is the provider's only).
PROVIDER_ONLY_FIELDS = frozenset({"section_audiences"})


def revision_visible(
    changed_fields: list[str],
    changed_sections: list[str],
    section_fields: frozenset[str],
    readable: frozenset[str],
) -> bool:
    """Whether a reader who may read the sections ``readable`` sees this edit."""
    if any(s in readable for s in changed_sections):
        return True
    return any(f not in section_fields and f not in PROVIDER_ONLY_FIELDS for f in changed_fields)
