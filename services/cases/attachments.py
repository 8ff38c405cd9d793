"""Documents attached to a case, kept in GridFS: checked before they are stored (size,
content type, the bytes themselves), and given out only to those who may read the
section they belong to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import gridfs
from bson import ObjectId

from services.cases import views
from services.cases.documents import ALIAS, Attachment
from services.cases.domain import CaseStatus, Section
from services.cases.handlers import (
    append_audit,
    audit_entry,
    load_case,
    provided_case,
    viewer_of,
)
from services.cases.values import language
from services.common import mongo
from services.common.errors import Conflict, Forbidden
from services.common.files import CheckedFile, check_file
from services.common.principal import Principal
from services.common.unit_of_work import unit_of_work

UNKNOWN_ATTACHMENT = "No attachment with this id is shared with you."


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    content_types: tuple[str, ...]


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    language: str
    section: Section | None
    data: bytes


def check_upload(upload: Upload, limits: Limits) -> CheckedFile:
    """The one check of services.common.files: content allow-list and the stored name."""
    return check_file(
        upload.data,
        upload.content_type,
        upload.filename,
        accepted=limits.content_types,
        max_bytes=limits.max_bytes,
    )


def store(
    principal: Principal | None, case_id: ObjectId, upload: Upload, limits: Limits
) -> Attachment:
    """The provider attaches a document to its case or one of its sections."""
    viewer = viewer_of(principal)
    case = provided_case(viewer, case_id)
    if case.status is CaseStatus.ARCHIVED:
        raise Conflict("An archived case takes no new documents.", field="status")
    checked = check_upload(upload, limits)
    filename, media = checked.filename, checked.media_type
    lang = language(upload.language)
    fs = gridfs.GridFS(mongo.database(ALIAS))
    file_id = fs.put(upload.data, filename=filename, contentType=media)
    attachment = Attachment(
        case_id=case.pk,
        file_id=file_id,
        filename=filename,
        content_type=media,
        size=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        language=lang,
        section=upload.section,
        uploaded_by=viewer.principal.subject,
    )
    try:
        with unit_of_work(ALIAS) as uow:
            uow.insert(attachment)
            uow.insert(audit_entry(case, viewer, "ATTACHMENT_ADDED", str(attachment.pk)))
    except Exception:
        fs.delete(file_id)
        raise
    return attachment


def open_for_download(
    principal: Principal | None, attachment_id: ObjectId
) -> tuple[Attachment, bytes]:
    """The document, if the caller may read its section; one audit entry per download."""
    viewer = viewer_of(principal)
    attachment = Attachment.objects(pk=attachment_id).first()
    if attachment is None:
        raise Forbidden(UNKNOWN_ATTACHMENT, rule=15)
    case = load_case(attachment.case_id)
    if case is None or not views.may_read_attachment(viewer, case, attachment):
        raise Forbidden(UNKNOWN_ATTACHMENT, rule=15)
    append_audit([audit_entry(case, viewer, "DOWNLOAD", str(attachment.pk))])
    data = gridfs.GridFS(mongo.database(ALIAS)).get(attachment.file_id).read()
    return attachment, data


def of_case(case_id: ObjectId) -> list[Attachment]:
    return list(Attachment.objects(case_id=case_id).order_by("uploaded_at"))
