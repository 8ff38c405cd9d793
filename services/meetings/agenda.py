"""Rules 10, 11 and 23: the draft agenda, its adoption, presentation intentions, documents.

Pure: no database, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from services.common.errors import Conflict, DeadlinePassed, ValidationFailed
from services.common.languages import UN_LANGUAGES
from services.meetings.deadlines import draft_agenda_due, on_or_before
from services.meetings.values import text


class AgendaStatus(StrEnum):
    DRAFT = "DRAFT"
    DISTRIBUTED = "DISTRIBUTED"
    ADOPTED = "ADOPTED"


DOCUMENT_TYPES = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "text/plain": ".txt",
    "image/png": ".png",
    "image/jpeg": ".jpg",
}


def ensure_agenda_open(status: AgendaStatus) -> None:
    """Rule 10: adoption freezes the agenda."""
    if status is AgendaStatus.ADOPTED:
        raise Conflict("The agenda is adopted and can no longer change.", rule=10)


def ensure_may_distribute(
    status: AgendaStatus, start_day: date, at: datetime, late_reason: str | None = None
) -> bool:
    """Rule 10: the draft agenda, with its documents, goes out at least 30 days ahead.
    The Secretariat "will distribute" it: after the mark only with a recorded reason, and
    then it is late on the timeline (as the invitation). Returns whether it is late."""
    ensure_agenda_open(status)
    if status is AgendaStatus.DISTRIBUTED:
        raise Conflict("The draft agenda has been distributed already.", rule=10)
    due = draft_agenda_due(start_day)
    late = not on_or_before(at, due)
    if late and not (late_reason and late_reason.strip()):
        raise DeadlinePassed(
            f"The draft agenda was due by {due.isoformat()} (30 days before the meeting); "
            "distribute it late with a reason (lateReason).",
            rule=10,
        )
    return late


def ensure_may_adopt(status: AgendaStatus, presentations_not_notified: int) -> None:
    """Rules 10 and 12: a distributed draft is adopted; a presentation whose involved
    States were not notified in time cannot be on it."""
    ensure_agenda_open(status)
    if status is not AgendaStatus.DISTRIBUTED:
        raise Conflict("Distribute the draft agenda before adopting it.", rule=10)
    if presentations_not_notified:
        raise Conflict(
            f"{presentations_not_notified} presentation(s) on the agenda involve States that "
            "were not notified 30 days ahead; take them off first.",
            rule=12,
        )


def ensure_may_intend_presentation(status: AgendaStatus) -> None:
    """Rule 11: intentions to present are accepted until the draft agenda is adopted."""
    if status is AgendaStatus.ADOPTED:
        raise DeadlinePassed(
            "The agenda is adopted: intentions to present were due by its adoption.", rule=11
        )


@dataclass(frozen=True)
class DocumentFacts:
    filename: str
    media_type: str
    language: str
    size: int


def check_document(doc: DocumentFacts, max_bytes: int) -> DocumentFacts:
    """Rule 23: documents carry one of the six UN languages; size and type are limited."""
    name = text(doc.filename, "filename", max_length=200)
    if "/" in name or "\\" in name:
        raise ValidationFailed("filename must not contain a path.", field="filename")
    language = doc.language.strip().lower()
    if language not in UN_LANGUAGES:
        raise ValidationFailed(
            f"language must be one of {', '.join(UN_LANGUAGES)} (the six UN languages).",
            field="language",
            rule=23,
        )
    media_type = doc.media_type.strip().lower()
    if media_type not in DOCUMENT_TYPES:
        raise ValidationFailed(
            f"{doc.media_type!r} is not an accepted document type "
            f"({', '.join(sorted(DOCUMENT_TYPES))}).",
            field="mediaType",
        )
    if doc.size <= 0:
        raise ValidationFailed("The document is empty.", field="content")
    if doc.size > max_bytes:
        raise ValidationFailed(f"The document is larger than {max_bytes} bytes.", field="content")
    return DocumentFacts(name, media_type, language, doc.size)
