"""Bad input is refused with a clear error and writes nothing: case content, audiences,
unknown States, filters, and attachments (size, type, executables). Also the authorised
attachment download."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import MongoClient

from services.common.files import DOCX
from tests import cases_support
from tests.cases_support import CREATE, GET, LIST, UPDATE, Cases, case_input, codes, share_case
from tests.test_common_files import JAR, SVG

cases_settings = cases_support.cases_settings
cases = cases_support.cases

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def counts(cases: Cases) -> dict[str, int]:
    client: MongoClient[dict[str, Any]] = MongoClient(cases.settings.mongodb_uri)
    try:
        db = client[cases.settings.cases_db]
        names = ("cases", "attachments", "fs.files", "fs.chunks", "audit_log", "outbox")
        return {name: db[name].count_documents({}) for name in names}
    finally:
        client.close()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"summary": "bad\x00byte"}, "summary"),
        ({"audience": {"kind": "NAMED_STATES", "states": ["XYZ"]}}, "audience.states"),
        ({"audience": {"kind": "NAMED_STATES", "states": []}}, "audience.states"),
        ({"audience": {"kind": "NAMED_STATES", "states": ["FRA"]}}, "audience.states"),
        ({"audience": {"kind": "ALL_PARTICIPANTS", "states": ["DEU"]}}, "audience.states"),
        (
            {
                "sectionAudiences": [
                    {"section": "ACTORS", "audience": {"kind": "NAMED_STATES", "states": ["QQQ"]}}
                ]
            },
            "sectionAudiences.ACTORS.states",
        ),
        ({"involvedStates": ["ABC"]}, "involvedStates"),
        ({"involvedStates": ["FRA"]}, "involvedStates"),
        (
            {
                "audience": {"kind": "NAMED_STATES", "states": ["DEU"]},
                "involvedStates": ["ITA"],
            },
            "involvedStates",
        ),
        ({"routes": [{"country": "Atlantis", "role": "TRANSIT"}]}, "routes[0].country"),
        ({"actors": [{"role": "BROKER", "name": "", "kind": "PERSON"}]}, "actors[0].name"),
        (
            {"actors": [{"role": "BROKER", "name": "N", "kind": "PERSON", "country": "ZZZ"}]},
            "actors[0].country",
        ),
        ({"items": [{"kind": "WARSHIPS", "quantity": -1}]}, "items[0].quantity"),
        ({"divertedOn": "2025-05-01", "discoveredOn": "2025-04-01"}, "discoveredOn"),
    ],
)
async def test_bad_case_content_is_refused_and_nothing_written(
    cases: Cases, change: dict[str, Any], field: str
) -> None:
    before = counts(cases)
    result = await cases("provider", CREATE, {"input": {**case_input("Bad input"), **change}})
    assert codes(result) == ["VALIDATION"], result
    assert result["errors"][0]["extensions"]["field"] == field
    assert counts(cases) == before


async def test_only_participant_representatives_create_cases(cases: Cases) -> None:
    before = counts(cases)
    for who in ("non_party", "secretariat", "chair", "expert", "system"):
        result = await cases(who, CREATE, {"input": case_input("Not mine")})
        assert codes(result) == ["FORBIDDEN"], who
    assert codes(await cases(None, CREATE, {"input": case_input("x")})) == ["UNAUTHENTICATED"]
    assert counts(cases) == before


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"filter": {"routeCountry": "ZZZ"}}, "routeCountry"),
        ({"filter": {"provider": "France"}}, "provider"),
        ({"filter": {"sharedAfter": "2025-02-01", "sharedBefore": "2025-01-01"}}, "sharedAfter"),
        (
            {"filter": {"discoveredAfter": "2025-02-01", "discoveredBefore": "2025-01-01"}},
            "discoveredAfter",
        ),
        ({"filter": {"words": "w" * 201}}, "words"),
        ({"after": "not-a-cursor"}, "after"),
        ({"first": 10_000}, "first"),
    ],
)
async def test_malformed_filters(cases: Cases, variables: dict[str, Any], field: str) -> None:
    result = await cases("named", LIST, variables)
    assert codes(result) == ["VALIDATION"], result
    assert result["errors"][0]["extensions"]["field"] == field


async def test_malformed_ids_and_enums(cases: Cases) -> None:
    assert codes(await cases("named", GET, {"id": "nonsense"})) == ["VALIDATION"]
    bad_enum = await cases("named", LIST, {"filter": {"categories": ["NOT_A_CATEGORY"]}})
    assert bad_enum["errors"] and bad_enum.get("data") is None


# --- attachments --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def attached_case(cases: Cases) -> str:
    return await share_case(
        cases,
        "provider",
        "With documents",
        audience={"kind": "NAMED_STATES", "states": ["DEU", "NLD"]},
        sectionAudiences=[
            {"section": "ACTORS", "audience": {"kind": "NAMED_STATES", "states": ["DEU"]}}
        ],
    )


async def upload(
    cases: Cases,
    who: str | None,
    case_id: str,
    data: bytes,
    content_type: str = "application/pdf",
    filename: str = "report.pdf",
    language: str = "en",
    section: str | None = None,
) -> Any:
    params = {"filename": filename, "language": language}
    if section:
        params["section"] = section
    return await cases.http.post(
        f"/cases/{case_id}/attachments",
        params=params,
        content=data,
        headers={**cases.headers(who), "Content-Type": content_type},
    )


@pytest.mark.parametrize(
    ("kwargs", "status", "field"),
    [
        ({"data": b"%PDF-" + b"x" * (64 * 1024)}, 413, "file"),
        ({"data": b"MZ\x90\x00" + b"\x00" * 64}, 400, "file"),
        (
            {"data": b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "content_type": "text/plain"},
            400,
            "file",
        ),
        ({"data": b"#!/bin/sh\nrm -rf /\n", "content_type": "text/plain"}, 400, "file"),
        ({"data": PDF, "filename": "invoice.pdf.exe"}, 400, "filename"),
        ({"data": PDF, "content_type": "application/x-msdownload"}, 400, "contentType"),
        ({"data": PNG, "content_type": "application/pdf"}, 400, "file"),
        ({"data": b"", "content_type": "text/plain"}, 400, "file"),
        ({"data": b"\xff\xfe bad", "content_type": "text/plain"}, 400, "file"),
        ({"data": PDF, "language": "de"}, 400, "language"),
        ({"data": PDF, "section": "NOPE"}, 400, "section"),
        # the shared content allow-list (services.common.files): a JAR as .docx, SVG as PNG,
        # a name that would set another name in the download header
        ({"data": JAR, "content_type": DOCX, "filename": "report.docx"}, 400, "file"),
        ({"data": SVG, "content_type": "image/png", "filename": "map.png"}, 400, "file"),
        ({"data": PDF, "filename": "r.pdf\"; filename*=UTF-8''u.exe; x=\".pdf"}, 400, "filename"),
    ],
)
async def test_bad_attachments_are_refused_and_nothing_stored(
    cases: Cases, attached_case: str, kwargs: dict[str, Any], status: int, field: str
) -> None:
    before = counts(cases)
    response = await upload(cases, "provider", attached_case, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == "VALIDATION" and body["field"] == field
    assert counts(cases) == before


async def test_only_the_provider_attaches(cases: Cases, attached_case: str) -> None:
    before = counts(cases)
    assert (await upload(cases, "named", attached_case, PDF)).status_code == 403
    assert (await upload(cases, "other", attached_case, PDF)).status_code == 403
    assert (await upload(cases, None, attached_case, PDF)).status_code == 401
    assert counts(cases) == before


ATTACHMENTS = (
    "query($id: ID!) { case(id: $id) "
    "{ attachments { id filename section language size downloadUrl } } }"
)


async def test_attachments_follow_their_sections_audience(cases: Cases, attached_case: str) -> None:
    whole = await upload(cases, "provider", attached_case, PDF, filename="summary.pdf")
    assert whole.status_code == 201, whole.text
    actors = await upload(
        cases, "provider", attached_case, PNG, "image/png", "photo.png", "fr", "ACTORS"
    )
    assert actors.status_code == 201, actors.text
    actors_url = actors.json()["downloadUrl"]
    whole_url = whole.json()["downloadUrl"]

    deu = await cases.ok("named", ATTACHMENTS, {"id": attached_case})
    assert {a["filename"] for a in deu["case"]["attachments"]} == {"summary.pdf", "photo.png"}
    nld = await cases.ok("named2", ATTACHMENTS, {"id": attached_case})
    assert [a["filename"] for a in nld["case"]["attachments"]] == ["summary.pdf"]

    got = await cases.http.get(actors_url, headers=cases.headers("named"))
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert (await cases.http.get(whole_url, headers=cases.headers("named2"))).content == PDF
    for who, status in (("named2", 403), ("other", 403), ("secretariat", 403), (None, 401)):
        refused = await cases.http.get(actors_url, headers=cases.headers(who))
        assert refused.status_code == status, who
        assert "photo" not in refused.text
    assert (await cases.http.get(whole_url, headers=cases.headers("other"))).status_code == 403
    bad = await cases.http.get("/cases/attachments/nonsense", headers=cases.headers("named"))
    assert bad.status_code == 400

    log = await cases.ok(
        "provider",
        "query($id: ID!) { caseAuditLog(caseId: $id, first: 200) "
        "{ edges { node { action actor target } } } }",
        {"id": attached_case},
    )
    downloads = [
        (n["node"]["actor"], n["node"]["target"])
        for n in log["caseAuditLog"]["edges"]
        if n["node"]["action"] == "DOWNLOAD"
    ]
    assert len(downloads) == 2
    assert {actor for actor, _ in downloads} == {"deu-1", "nld-1"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"audience": None}, "audience"),
        ({"sectionAudiences": None}, "sectionAudiences"),
        ({"categories": None}, "categories"),
        ({"title": None}, "title"),
        ({"presentationId": "p-9"}, "presentationId"),
    ],
)
async def test_an_update_cannot_blur_a_case_with_null(
    cases: Cases, attached_case: str, change: dict[str, Any], field: str
) -> None:
    before = counts(cases)
    result = await cases("provider", UPDATE, {"id": attached_case, "input": change})
    assert codes(result) == ["VALIDATION"], result
    assert result["errors"][0]["extensions"]["field"] == field
    assert counts(cases) == before
    still = await cases.ok("provider", GET, {"id": attached_case})
    assert still["case"]["audience"]["states"] == ["DEU", "NLD"]
    still = await cases.ok("named2", GET, {"id": attached_case})
    assert still["case"]["withheldSections"] == ["ACTORS"]
