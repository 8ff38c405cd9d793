"""Pure parts of the case exchange outside the domain module: the stored reach of each
section, and the checks on attachment bytes. No servers."""

from __future__ import annotations

import pytest

from services.cases import access
from services.cases.attachments import Limits, check_content, clean_filename
from services.cases.domain import Audience, AudienceKind, Section
from services.common.errors import ValidationFailed

LIMITS = Limits(1024, ("application/pdf", "image/png", "text/plain"))


def test_reach_of_each_section_is_the_stricter_audience() -> None:
    case = Audience(AudienceKind.NAMED_STATES, frozenset({"DEU", "NLD"}), True)
    reach = access.compute_reach(
        case, {Section.ACTORS: Audience(AudienceKind.NAMED_STATES, frozenset({"DEU", "ITA"}))}
    )
    assert reach["CASE"] == {"everyone": False, "states": ["DEU", "NLD"], "secretariat": True}
    # no own audience: the case's
    assert reach["SUMMARY"] == reach["CASE"]
    # own audience: the intersection, and the Secretariat only if both include it
    assert reach["ACTORS"] == {"everyone": False, "states": ["DEU"], "secretariat": False}
    assert set(reach) == {"CASE", *(s.value for s in Section)}


def test_reach_of_an_open_case_with_a_named_section() -> None:
    reach = access.compute_reach(
        Audience(), {Section.ROUTES: Audience(AudienceKind.NAMED_STATES, frozenset({"DEU"}))}
    )
    assert reach["CASE"]["everyone"] is True
    assert reach["ROUTES"] == {"everyone": False, "states": ["DEU"], "secretariat": False}


@pytest.mark.parametrize(
    ("data", "content_type", "expected"),
    [
        (b"%PDF-1.4 ...", "application/pdf", "application/pdf"),
        (b"%PDF-1.4 ...", "Application/PDF; charset=binary", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n....", "image/png", "image/png"),
        ("Привет, notes".encode(), "text/plain", "text/plain"),
    ],
)
def test_accepted_content(data: bytes, content_type: str, expected: str) -> None:
    assert check_content(data, content_type, LIMITS) == expected


@pytest.mark.parametrize(
    ("data", "content_type", "field"),
    [
        (b"x" * 1025, "text/plain", "file"),
        (b"", "text/plain", "file"),
        (b"MZ\x90\x00", "application/pdf", "file"),
        (b"\x7fELF", "text/plain", "file"),
        (b"\xca\xfe\xba\xbe", "image/png", "file"),
        (b"#!/usr/bin/env python", "text/plain", "file"),
        (b"\x00asm\x01", "application/pdf", "file"),
        (b"%PDF-1.4", "application/zip", "contentType"),
        (b"%PDF-1.4", "", "contentType"),
        (b"GIF89a", "image/png", "file"),
        (b"a\x00b", "text/plain", "file"),
        (b"\xff\xfe", "text/plain", "file"),
    ],
)
def test_refused_content(data: bytes, content_type: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as refusal:
        check_content(data, content_type, LIMITS)
    assert refusal.value.field == field


@pytest.mark.parametrize(
    ("name", "expected"),
    [("report.pdf", "report.pdf"), ("C:\\docs\\report.pdf", "report.pdf"), ("a/b/c.png", "c.png")],
)
def test_filenames_lose_their_path(name: str, expected: str) -> None:
    assert clean_filename(name) == expected


@pytest.mark.parametrize("name", ["", "..", "setup.EXE", "run.sh", "x.pdf.bat", "a\x00.pdf"])
def test_refused_filenames(name: str) -> None:
    with pytest.raises(ValidationFailed):
        clean_filename(name)
