"""The events the case exchange publishes. Thin: a case's id, its provider's code and a
time, never its title, content, involved States or audience (rules 14, 15). Whoever
learns of a change asks the API, which decides what the caller may see."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from services.cases.domain import ConcernStatus, UseDecision
from services.common.catalogue import EventData, declare

STATE_CODE = Field(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3 code.")
GLOBAL_ID = Field(pattern=r"^[A-Za-z0-9_=-]{8,80}$", description="Global id, as in the API.")


class CaseChanged(EventData):
    caseId: str = GLOBAL_ID
    providerCode: str = STATE_CODE
    at: datetime = Field(description="When it happened.")


class CaseShared(CaseChanged):
    """A case became visible to its audience."""


class CaseUpdated(CaseChanged):
    """A shared case has a new version."""


class CaseArchived(CaseChanged):
    """A shared case was archived."""


class UseRequestChanged(EventData):
    useRequestId: str = GLOBAL_ID
    caseId: str = GLOBAL_ID
    decision: UseDecision = Field(description="PENDING when asked, then the answer.")
    at: datetime = Field(description="When it happened.")


class ConcernChanged(EventData):
    concernId: str = GLOBAL_ID
    status: ConcernStatus = Field(description="Where the concern stands now.")
    at: datetime = Field(description="When it happened.")


CASE_SHARED = declare(
    "cases",
    "case",
    "shared",
    summary="A provider shared a diversion case (rule 18).",
    why="Subscribers refresh their view by asking the API, which shows the case only to "
    "its audience; the event says nothing of who that is.",
    data=CaseChanged,
)
CASE_UPDATED = declare(
    "cases",
    "case",
    "updated",
    summary="A shared case was edited; a new version was recorded.",
    why="Readers' clients refresh the case through the API.",
    data=CaseUpdated,
)
CASE_ARCHIVED = declare(
    "cases",
    "case",
    "archived",
    summary="A provider archived a shared case.",
    why="Clients stop offering the case for new requests.",
    data=CaseArchived,
)
USE_REQUEST_CHANGED = declare(
    "cases",
    "use_request",
    "changed",
    summary="An operational-use request was made or answered (rule 16).",
    why="The two sides' clients fetch the request through the API, which shows it only to them.",
    data=UseRequestChanged,
)
CONCERN_CHANGED = declare(
    "cases",
    "concern",
    "changed",
    summary="A disclosure concern was raised, explained or closed (rule 15).",
    why="The parties' clients fetch the concern through the API.",
    data=ConcernChanged,
)
