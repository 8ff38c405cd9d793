"""The one check every file that reaches people goes through (meeting documents, case
attachments): an allow-list by detected content, never by the declared type or the name.

The content is detected with ``puremagic``; Office Open XML and OpenDocument files (ZIP
containers) are opened and their declared main part checked, so a JAR, a macro-enabled
``.docm``/``.xlsm`` or any other ZIP sent as ``.docx`` is refused. Text must be UTF-8 without
control characters and not markup (HTML, SVG, XML). The file name is sanitised once, when
the file is stored, and its extension must be one of the detected type's.
``content_disposition`` builds the download header (RFC 6266 with RFC 5987's ``filename*``).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from urllib.parse import quote

import puremagic

from services.common.errors import ValidationFailed

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"

# Each accepted type: the extensions its files may carry.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "text/plain": (".txt",),
    "text/csv": (".csv",),
    DOCX: (".docx",),
    XLSX: (".xlsx",),
    PPTX: (".pptx",),
    ODT: (".odt",),
}
# The content type of an OOXML file's main part, as [Content_Types].xml declares it.
OOXML_MAIN = {
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    PPTX: "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
}
# What puremagic must find first for the binary types.
DETECTED = {
    "application/pdf": "application/pdf",
    "image/png": "image/png",
    "image/jpeg": "image/jpeg",
}
ZIP_MAGIC = b"PK\x03\x04"
# Never inside an accepted container: macros, Java, embedded programs.
FORBIDDEN_PARTS = re.compile(
    r"(vbaproject\.bin|vbadata\.xml|\.class$|^meta-inf/manifest\.mf$|^basic/|^scripts/|"
    r"\.(exe|dll|js|jar|vbs|hta|lnk|ps1|bat|cmd|scr|msi)$)",
    re.IGNORECASE,
)
# Text that a browser or Windows would run as markup: starts with a tag, or holds one of these.
MARKUP = re.compile(rb"^\s*<[a-z!?/]", re.I)
MARKUP_TAGS = re.compile(rb"<(script|html|svg|iframe|object|embed|hta:|\?xml)", re.I)
MAX_CONTAINER_PARTS = 2000
MAX_CONTENT_TYPES_BYTES = 1024 * 1024
FILENAME_MAX = 200
# Windows would drop or misread these: the name is refused, never silently changed.
RESERVED = set('<>:"/\\|?*')


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    media_type: str


def _refuse(message: str, field: str = "file") -> ValidationFailed:
    return ValidationFailed(message, field=field)


def safe_filename(name: str, media_type: str, field: str = "filename") -> str:
    """The name to store: the last path segment, NFC, no control or reserved characters, no
    trailing dot or space, and an extension of ``media_type``'s."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = base.strip(" ")
    if not base or len(base) > FILENAME_MAX or base in (".", ".."):
        raise _refuse(f"Give the file a name (at most {FILENAME_MAX} characters).", field)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in base):
        raise _refuse("The file name must not hold control characters.", field)
    if RESERVED & set(base) or base.endswith("."):
        raise _refuse('The file name must not hold < > : " / \\ | ? * or end with a dot.', field)
    allowed = EXTENSIONS.get(media_type, ())
    if not base.lower().endswith(allowed):
        raise _refuse(f"A {media_type} file's name ends with {' or '.join(allowed)}.", field)
    return base


def _detected(data: bytes) -> str | None:
    try:
        found = puremagic.magic_string(data)
    except puremagic.PureError:
        return None
    return found[0].mime_type if found else None


def _check_text(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse("A text file must be UTF-8.") from None
    if any(unicodedata.category(c) == "Cc" and c not in "\t\r\n\f" for c in text):
        raise _refuse("A text file holds no control characters.")
    if data.removeprefix(b"\xef\xbb\xbf").startswith(b"#!"):
        raise _refuse("Scripts are not accepted as text.")
    detected = _detected(data)
    head = data.removeprefix(b"\xef\xbb\xbf")
    if (
        MARKUP.match(head)
        or MARKUP_TAGS.search(head[:65536])
        or (
            detected is not None
            and not detected.startswith("text/plain")
            and ("html" in detected or "xml" in detected or "svg" in detected)
        )
    ):
        raise _refuse("Markup (HTML, SVG, XML) is not accepted as text.")


def _container(data: bytes) -> zipfile.ZipFile:
    if not data.startswith(ZIP_MAGIC):
        raise _refuse("The file's content is not an Office document.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _refuse("The file's content is not an Office document.") from None
    if len(names) > MAX_CONTAINER_PARTS:
        raise _refuse("The document has too many parts.")
    for info in archive.infolist():
        if info.flag_bits & 0x1:
            raise _refuse("Encrypted documents are not accepted.")
        if FORBIDDEN_PARTS.search(info.filename):
            raise _refuse("Documents with macros, scripts or programs are not accepted.")
    return archive


def _read_part(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _refuse("The file's content is not an Office document.") from None
    if info.file_size > MAX_CONTENT_TYPES_BYTES:
        raise _refuse("The file's content is not an Office document.")
    with archive.open(info) as part:
        return part.read(MAX_CONTENT_TYPES_BYTES + 1)


def _check_ooxml(data: bytes, media_type: str) -> None:
    archive = _container(data)
    types = _read_part(archive, "[Content_Types].xml").decode("utf-8", "replace").lower()
    if "macroenabled" in types or "vbaproject" in types:
        raise _refuse("Documents with macros, scripts or programs are not accepted.")
    if OOXML_MAIN[media_type] not in types:
        raise _refuse(f"The file's content is not {media_type}.")


def _check_odf(data: bytes, media_type: str) -> None:
    archive = _container(data)
    first = archive.infolist()[0] if archive.infolist() else None
    if first is None or first.filename != "mimetype":
        raise _refuse(f"The file's content is not {media_type}.")
    if _read_part(archive, "mimetype").strip() != media_type.encode():
        raise _refuse(f"The file's content is not {media_type}.")


def check_file(
    data: bytes,
    declared_type: str,
    filename: str,
    *,
    accepted: tuple[str, ...] | list[str],
    max_bytes: int,
    type_field: str = "contentType",
    name_field: str = "filename",
    content_field: str = "file",
) -> CheckedFile:
    """The media type and name to store, once size, the allow-list, the detected content
    and the name agree; ``VALIDATION`` naming the field otherwise."""
    try:
        media = _checked_content(data, declared_type, accepted, max_bytes, type_field)
    except ValidationFailed as refusal:
        if refusal.field == "file":
            refusal.field = content_field
        raise
    return CheckedFile(safe_filename(filename, media, name_field), media)


def _checked_content(
    data: bytes,
    declared_type: str,
    accepted: tuple[str, ...] | list[str],
    max_bytes: int,
    type_field: str,
) -> str:
    media = (declared_type or "").split(";", 1)[0].strip().lower()
    if not data:
        raise _refuse("The file is empty.")
    if len(data) > max_bytes:
        raise _refuse(f"The file is larger than the {max_bytes} bytes allowed.")
    if media not in accepted or media not in EXTENSIONS:
        listed = ", ".join(t for t in accepted if t in EXTENSIONS)
        raise _refuse(f"{media or 'This type'} is not accepted; accepted: {listed}.", type_field)
    if media in ("text/plain", "text/csv"):
        _check_text(data)
    elif media in OOXML_MAIN:
        _check_ooxml(data, media)
    elif media == ODT:
        _check_odf(data, media)
    elif _detected(data) != DETECTED[media]:
        raise _refuse(f"The file's content is not {media}.")
    return media


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """``Content-Disposition`` for a stored name: an ASCII fallback in quotes with nothing
    that could end it, and the exact name in RFC 5987's ``filename*``."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = re.sub(r"[^A-Za-z0-9._ ()-]", "_", fallback).strip() or "download"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
