"""Documents attached to a case, kept in GridFS: checked before they are stored (size,
content type, the bytes themselves), and given out only to those who may read the
section they belong to."""

from __future__ import annotations

import hashlib
import re
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
from services.common.errors import Conflict, Forbidden, ValidationFailed
from services.common.principal import Principal
from services.common.unit_of_work import unit_of_work

# Signatures of programs and scripts: refused whatever the declared type says.
EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE
    b"\x7fELF",  # Linux
    b"\xcf\xfa\xed\xfe",  # Mach-O 64
    b"\xce\xfa\xed\xfe",  # Mach-O 32
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xca\xfe\xba\xbe",  # Mach-O universal, Java class
    b"#!",  # scripts
    b"\x00asm",  # WebAssembly
)
EXECUTABLE_EXTENSIONS = re.compile(
    r"\.(exe|dll|com|scr|msi|bat|cmd|ps1|vbs|js|jar|sh|bin|elf|app|apk|so|dylib|py|pl)$",
    re.IGNORECASE,
)
# What the first bytes must be for each accepted type (text types: no NUL, valid UTF-8).
MAGIC_BY_TYPE = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/vnd.oasis.opendocument.text": (b"PK\x03\x04",),
}
TEXT_TYPES = ("text/plain", "text/csv")
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


def clean_filename(name: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base or len(base) > 255 or not base.isprintable() or base in (".", ".."):
        raise ValidationFailed("Give the file a name (at most 255 characters).", field="filename")
    if EXECUTABLE_EXTENSIONS.search(base):
        raise ValidationFailed("Programs and scripts cannot be attached.", field="filename")
    return base


def check_content(data: bytes, content_type: str, limits: Limits) -> str:
    """The media type to store, once size, declared type and the bytes agree."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if len(data) > limits.max_bytes:
        raise ValidationFailed(
            f"The file is larger than the {limits.max_bytes} bytes allowed.", field="file"
        )
    if not data:
        raise ValidationFailed("The file is empty.", field="file")
    if any(data.startswith(magic) for magic in EXECUTABLE_MAGIC):
        raise ValidationFailed("Programs and scripts cannot be attached.", field="file")
    if media not in limits.content_types:
        raise ValidationFailed(
            f"{media or 'This type'} is not accepted; accepted: {', '.join(limits.content_types)}.",
            field="contentType",
        )
    if media in TEXT_TYPES:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationFailed("A text file must be UTF-8.", field="file") from exc
        if b"\x00" in data:
            raise ValidationFailed("A text file contains no NUL bytes.", field="file")
    elif not any(data.startswith(m) for m in MAGIC_BY_TYPE.get(media, ())):
        raise ValidationFailed(f"The file's content is not {media}.", field="file")
    return media


def store(
    principal: Principal | None, case_id: ObjectId, upload: Upload, limits: Limits
) -> Attachment:
    """The provider attaches a document to its case or one of its sections."""
    viewer = viewer_of(principal)
    case = provided_case(viewer, case_id)
    if case.status is CaseStatus.ARCHIVED:
        raise Conflict("An archived case takes no new documents.", field="status")
    filename = clean_filename(upload.filename)
    media = check_content(upload.data, upload.content_type, limits)
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
