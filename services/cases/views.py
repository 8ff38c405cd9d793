"""What one caller sees of a case: the sections they may read, and nothing else.

Built from the stored case and the domain's ``visible_sections``; a section the caller
may not read is absent (``None``), field by field. Resolvers only ever get these views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from services.cases import documents as docs
from services.cases import domain
from services.cases.domain import (
    Arrangement,
    Audience,
    AudienceKind,
    CaseStatus,
    DiversionCategory,
    InvestigationStatus,
    Section,
    Viewer,
    may_see,
    may_see_arrangement,
    visible_sections,
)


def audience_of(doc: docs.AudienceDoc | None) -> Audience:
    if doc is None:
        return Audience()
    return Audience(AudienceKind(doc.kind), frozenset(doc.states), bool(doc.include_secretariat))


def section_audiences(case: docs.Case) -> dict[Section, Audience]:
    return {Section(s.section): audience_of(s.audience) for s in case.section_audiences}


def sections_for(viewer: Viewer, case: docs.Case) -> set[Section]:
    if case.status is CaseStatus.DRAFT and viewer.participant_state != case.provider:
        return set()
    return visible_sections(
        viewer, case.provider, audience_of(case.audience), section_audiences(case)
    )


def may_read_case(viewer: Viewer, case: docs.Case) -> bool:
    if case.status is CaseStatus.DRAFT:
        return viewer.participant_state == case.provider
    return may_see(viewer, case.provider, audience_of(case.audience))


def may_read_attachment(viewer: Viewer, case: docs.Case, attachment: docs.Attachment) -> bool:
    if not may_read_case(viewer, case):
        return False
    return attachment.section is None or Section(attachment.section) in sections_for(viewer, case)


@dataclass(frozen=True)
class DiversionView:
    details: str | None
    diverted_on: date | None


@dataclass(frozen=True)
class DiscoveryView:
    details: str | None
    discovered_on: date | None
    delay_days: int | None


@dataclass(frozen=True)
class CaseView:
    doc: docs.Case
    viewer: Viewer
    sections: frozenset[Section]
    summary: str | None
    diversion: DiversionView | None
    discovery: DiscoveryView | None
    methods: str | None
    actors: list[docs.ActorDoc] | None
    items: list[docs.ItemDoc] | None
    routes: list[docs.RouteStopDoc] | None
    arrangements: list[docs.ArrangementDoc] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.doc.pk)

    @property
    def is_provider(self) -> bool:
        return self.viewer.participant_state == self.doc.provider

    @property
    def withheld(self) -> list[Section]:
        return [s for s in Section if s not in self.sections]

    @property
    def categories(self) -> list[DiversionCategory]:
        return [DiversionCategory(c) for c in self.doc.categories]

    @property
    def investigation_status(self) -> InvestigationStatus:
        return InvestigationStatus(self.doc.investigation_status)

    @property
    def sees_co_recipients(self) -> bool:
        return domain.sees_co_recipients(
            self.viewer, self.doc.provider, bool(self.doc.audience_shown_to_recipients)
        )

    def reads_response_of(self, state: str) -> bool:
        return domain.reads_response_of(self.viewer, self.doc.provider, state)

    def shown_states(self, states: list[str]) -> list[str]:
        """``states`` as this reader may see them: all, or only its own."""
        if self.sees_co_recipients:
            return states
        return [s for s in states if s == self.viewer.state]

    def section_audience(self, section: Section) -> Audience:
        return section_audiences(self.doc).get(section, Audience())

    def attachments(self, found: list[docs.Attachment]) -> list[docs.Attachment]:
        return [a for a in found if a.section is None or Section(a.section) in self.sections]


def delay_days(case: docs.Case) -> int | None:
    if case.diverted_on is None or case.discovered_on is None:
        return None
    return (case.discovered_on - case.diverted_on).days


def case_view(viewer: Viewer, case: docs.Case) -> CaseView:
    """The case as ``viewer`` may read it; call only once ``may_read_case`` said yes."""
    sections = sections_for(viewer, case)

    def shown(section: Section) -> bool:
        return section in sections

    return CaseView(
        doc=case,
        viewer=viewer,
        sections=frozenset(sections),
        summary=case.summary if shown(Section.SUMMARY) else None,
        diversion=DiversionView(case.diversion_details, case.diverted_on)
        if shown(Section.DIVERSION)
        else None,
        discovery=DiscoveryView(case.discovery_details, case.discovered_on, delay_days(case))
        if shown(Section.DISCOVERY)
        else None,
        methods=case.methods if shown(Section.METHODS) else None,
        actors=list(case.actors) if shown(Section.ACTORS) else None,
        items=list(case.items) if shown(Section.ITEMS) else None,
        routes=list(case.routes) if shown(Section.ROUTES) else None,
        arrangements=[
            a
            for a in case.arrangements
            if may_see_arrangement(viewer, Arrangement(frozenset(a.states), a.what, a.due_on))
        ],
    )
