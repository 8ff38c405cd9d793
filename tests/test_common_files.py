"""The one content check of every file that reaches people (services.common.files), tried
with what an outside attack run got through, and the download header it builds."""

from __future__ import annotations

import io
import re
import zipfile
from email.message import Message
from email.utils import collapse_rfc2231_value

import pytest

from services.common.errors import ValidationFailed
from services.common.files import DOCX, ODT, XLSX, check_file, content_disposition

ACCEPTED = ("application/pdf", "image/png", "image/jpeg", "text/plain", "text/csv", DOCX, XLSX, ODT)
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"PE\x00\x00"
LNK = b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00F" + b"\x00" * 56
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
HTA = b'<HTA:APPLICATION ID="x"><script language="VBScript">CreateObject("WScript.Shell")</script>'


def zipped(*parts: tuple[str, str | bytes], stored_first: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, (name, data) in enumerate(parts):
            kind = zipfile.ZIP_STORED if stored_first and n == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=kind)
    return out.getvalue()


def ooxml(main_type: str, part: str = "word/document.xml", *extra: tuple[str, str]) -> bytes:
    types = (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'content-types"><Override PartName="/{part}" ContentType="{main_type}"/></Types>'
    )
    return zipped(("[Content_Types].xml", types), (part, "<w:document/>"), *extra)


DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
GOOD_DOCX = ooxml(DOCX_MAIN)
GOOD_XLSX = ooxml(
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", "xl/workbook.xml"
)
GOOD_ODT = zipped(("mimetype", ODT), ("content.xml", "<office:document/>"), stored_first=True)
DOCM = ooxml("application/vnd.ms-word.document.macroEnabled.main+xml")
XLSM = ooxml("application/vnd.ms-excel.sheet.macroEnabled.main+xml", "xl/workbook.xml")
DOCX_WITH_MACROS = ooxml(DOCX_MAIN, "word/document.xml", ("word/vbaProject.bin", "x"))
JAR = zipped(("META-INF/MANIFEST.MF", "Main-Class: Evil\n"), ("Evil.class", b"\xca\xfe\xba\xbe"))
ODT_WITH_MACROS = zipped(
    ("mimetype", ODT), ("Basic/Standard/Module1.xml", "<script/>"), stored_first=True
)


def check(data: bytes, media: str, name: str) -> tuple[str, str]:
    checked = check_file(data, media, name, accepted=ACCEPTED, max_bytes=1 << 20)
    return checked.filename, checked.media_type


@pytest.mark.parametrize(
    ("data", "media", "name"),
    [
        (PDF, "application/pdf", "brief.pdf"),
        (PDF, "Application/PDF; charset=binary", "Brief.PDF"),
        (PNG, "image/png", "map.png"),
        (JPEG, "image/jpeg", "photo.jpeg"),
        ("Привет, notes\n".encode(), "text/plain", "notes.txt"),
        (b"a;b\n1;2\n", "text/csv", "t.csv"),
        (GOOD_DOCX, DOCX, "report.docx"),
        (GOOD_XLSX, XLSX, "figures.xlsx"),
        (GOOD_ODT, ODT, "rapport.odt"),
    ],
)
def test_files_of_the_accepted_types_pass(data: bytes, media: str, name: str) -> None:
    assert check(data, media, name)[0] == name


@pytest.mark.parametrize(
    ("data", "media", "name", "field"),
    [
        (EXE, "application/pdf", "report.pdf", "file"),  # a Windows program as a PDF
        (PDF, "application/pdf", "report.exe.", "filename"),
        (PDF, "application/pdf", "report.pdf::$DATA", "filename"),
        (HTA, "text/plain", "update.txt", "file"),
        (b"notes", "text/plain", "update.hta", "filename"),
        (LNK, "application/pdf", "report.pdf", "file"),
        (PDF, "application/pdf", "report.lnk", "filename"),
        (HTML, "text/plain", "page.txt", "file"),
        (HTML, "text/html", "page.html", "contentType"),
        (SVG, "image/png", "map.png", "file"),  # SVG sent as PNG
        (JAR, DOCX, "report.docx", "file"),  # a JAR as .docx
        (DOCM, DOCX, "report.docx", "file"),
        (XLSM, XLSX, "figures.xlsx", "file"),
        (DOCX_WITH_MACROS, DOCX, "report.docx", "file"),
        (ODT_WITH_MACROS, ODT, "rapport.odt", "file"),
        (zipped(("a.txt", "x")), DOCX, "report.docx", "file"),
        (GOOD_DOCX, XLSX, "report.xlsx", "file"),
        (b"#!/bin/sh\nrm -rf /\n", "text/plain", "run.txt", "file"),
        (b"a\x00b", "text/plain", "a.txt", "file"),
        (b"\xff\xfe bad", "text/plain", "a.txt", "file"),
        (b"\x1b[2Jcleared", "text/plain", "a.txt", "file"),
        (PDF, "application/x-msdownload", "report.pdf", "contentType"),
        (b"", "application/pdf", "empty.pdf", "file"),
        (PDF, "application/pdf", "report.pdf\"; filename*=UTF-8''update.exe; x=\".pdf", "filename"),
        (PDF, "application/pdf", "rep\u202eort.pdf", "filename"),  # right-to-left override
        (PDF, "application/pdf", "report.txt", "filename"),
    ],
)
def test_what_got_through_is_refused(data: bytes, media: str, name: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as refusal:
        check(data, media, name)
    assert (refusal.value.code, refusal.value.field) == ("VALIDATION", field)


def test_names_lose_their_path_once_when_stored() -> None:
    assert check(PDF, "application/pdf", "C:\\docs\\report.pdf")[0] == "report.pdf"
    assert check(PDF, "application/pdf", "../../etc/report.pdf")[0] == "report.pdf"


def test_the_size_limit_comes_first() -> None:
    with pytest.raises(ValidationFailed, match="larger"):
        check_file(PDF + b"x" * 100, "application/pdf", "a.pdf", accepted=ACCEPTED, max_bytes=50)


@pytest.mark.parametrize(
    "name", ["report.pdf", "Rapport d'activité (2026).pdf", "отчёт.docx", 'a"b;c\\d.pdf']
)
def test_content_disposition_carries_exactly_the_name(name: str) -> None:
    header = content_disposition(name)
    message = Message()
    message["Content-Disposition"] = header
    assert message.get_content_disposition() == "attachment"
    params = message.get_params(header="content-disposition")[1:]
    assert [key for key, _ in params] == ["filename", "filename"]  # filename and filename*
    assert collapse_rfc2231_value(params[1][1]) == name
    # one quoted ASCII fallback nothing can end early, then the RFC 5987 form: no other
    # parameter can be smuggled in
    assert re.fullmatch(
        r"attachment; filename=\"[ -!#-\[\]-~]*\"; filename\*=UTF-8''[A-Za-z0-9%._~-]+", header
    )
