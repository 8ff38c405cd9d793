"""The events the contacts service publishes. Thin: codes, ids, kinds and dates only —
never a contact's name, email or phone."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from services.common.catalogue import EventData, declare
from services.contacts.domain import AttStatus, AuthorityKind

STATE_CODE = Field(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3 code.")
GLOBAL_ID = Field(pattern=r"^[A-Za-z0-9_=-]{8,80}$", description="Global id, as in the API.")


class StateStatusChanged(EventData):
    stateCode: str = STATE_CODE
    status: AttStatus = Field(description="The ATT status now.")
    previousStatus: AttStatus = Field(description="The ATT status before.")
    participant: bool = Field(description="Whether the State takes part in the Forum now.")
    changedAt: datetime = Field(description="When the Secretariat recorded the change.")


class AuthorityChanged(EventData):
    authorityId: str = GLOBAL_ID
    stateCode: str = STATE_CODE
    kind: AuthorityKind = Field(description="What the authority does.")
    action: Literal["CREATED", "UPDATED", "ARCHIVED"]


class ContactChanged(EventData):
    contactId: str = GLOBAL_ID
    authorityId: str = GLOBAL_ID
    stateCode: str = STATE_CODE
    action: Literal["CREATED", "UPDATED", "VERIFIED", "ARCHIVED"]


STATE_STATUS_CHANGED = declare(
    "contacts",
    "state",
    "status_changed",
    summary="A State's ATT status was recorded (signature, ratification, withdrawal...).",
    why="Participation follows the status: the gateway and the other services update who "
    "may take part at once.",
    data=StateStatusChanged,
)
AUTHORITY_CHANGED = declare(
    "contacts",
    "authority",
    "changed",
    summary="An enforcement authority was added or changed (rule 20).",
    why="Directory replicas (LDAP publication, national systems) refresh the authority by "
    "asking the API.",
    data=AuthorityChanged,
)
CONTACT_CHANGED = declare(
    "contacts",
    "contact",
    "changed",
    summary="A contact was added, changed, re-verified or archived (rule 20).",
    why="Directory replicas refresh the contact by asking the API; the event itself carries "
    "no personal data.",
    data=ContactChanged,
)
