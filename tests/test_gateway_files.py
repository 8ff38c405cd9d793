"""Files, feeds and uploads through the gateway: the subgraphs' own endpoints, under the same
paths, with the same caller checks as GraphQL, streamed, with the services' body limits."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from bson import ObjectId

from services.common.ids import to_global_id
from services.common.routes import routes_of
from tests.door_support import Door, door_fixture, door_meeting, door_nats  # noqa: F401
from tests.gateway_stack import wait_until
from tests.meetings_support import ADD_ITEM, ATTACH, pdf

PDF = b"%PDF-1.4\n" + b"brief " * 20


door = door_fixture(
    "files",
    cases_attachment_max_bytes=256 * 1024,
    gateway_cors_origins=["https://console.example.org"],
)


@pytest.fixture(scope="module")
async def meeting(door: Door) -> dict[str, str]:
    """A scheduled meeting with an agenda item and a document on it."""
    mid = await door_meeting(door)
    item = await door.ok("sec", ADD_ITEM, {"i": {"meetingId": mid, "title": "Trends"}})
    item_id = item["agendaItemAdd"]["agendaItem"]["id"]
    attach = {
        "agendaItemId": item_id,
        "filename": "brief.pdf",
        "mediaType": "application/pdf",
        "language": "en",
        "contentBase64": pdf(PDF),
    }
    document = (await door.ok("sec", ATTACH, {"i": attach}))["documentAttach"]["document"]
    return {"id": mid, "item": item_id, "download": document["downloadPath"]}


def venues(ics: bytes) -> set[str]:
    from icalendar import Calendar

    return {str(e.get("LOCATION")) for e in Calendar.from_ical(ics).walk("VEVENT")}


CREATE_CASE = "mutation($input: CaseFieldsInput!) { caseCreate(input: $input) { case { id } } }"
SHARE_CASE = "mutation($id: ID!) { caseShare(id: $id) { case { id } } }"
ATTACHMENTS = "query($id: ID!) { case(id: $id) { attachments { id size downloadUrl } } }"


@pytest.fixture(scope="module")
async def case_id(door: Door) -> str:
    from tests.cases_support import case_input

    given = case_input("Through the door", audience={"kind": "NAMED_STATES", "states": ["DEU"]})
    created = await door.ok("fra", CREATE_CASE, {"input": given})
    cid = created["caseCreate"]["case"]["id"]
    await door.ok("fra", SHARE_CASE, {"id": cid})
    return cid


def test_every_published_route_is_served_by_the_gateway_and_by_its_service() -> None:
    from gateway.files import FileProxy  # noqa: F401  (the module the gateway mounts)
    from services.cases.app import build as cases
    from services.contacts.app import build as contacts
    from services.meetings.app import build as meetings

    for name, build in (("contacts", contacts), ("meetings", meetings), ("cases", cases)):
        published = {r.path for r in routes_of(name)}
        assert published, name
        mounted = {getattr(r, "path", "") for r in build().routes}
        assert published <= mounted, (name, published - mounted)
        own = {"/graphql", "/healthz", "/readyz", "/metrics", "/graphiql-assets"}
        assert mounted - published <= own and "/graphql" in mounted, name


async def test_gateway_mounts_the_published_routes(door: Door) -> None:
    paths = {getattr(r, "path", "") for r in door.app.routes}
    for name in ("contacts", "meetings", "cases"):
        assert {r.path for r in routes_of(name)} <= paths


# --- downloads and feeds -------------------------------------------------------------------


async def test_a_document_downloads_through_the_gateway_at_the_path_the_api_gave(
    door: Door, meeting: dict[str, str]
) -> None:
    path = meeting["download"]
    assert path.startswith("/meetings/documents/")
    got = await door.http.get(door.base + path, headers=door.auth("deu"))
    assert got.status_code == 200, got.text
    assert got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "brief.pdf" in got.headers["content-disposition"]
    assert got.headers["x-request-id"]


async def test_a_download_is_refused_through_the_gateway_as_by_the_service(
    door: Door, meeting: dict[str, str]
) -> None:
    path = meeting["download"]
    anonymous = await door.http.get(door.base + path)
    assert anonymous.status_code == 401
    # USA is in no register of participants: the gateway signs participant=false.
    usa = await door.http.get(door.base + path, headers=door.auth("usa"))
    direct = await door.http.get(
        door.services["meetings"] + path,
        headers={"Authorization": "Bearer " + door.token("usa", participant=False)},
    )
    assert usa.status_code == direct.status_code == 403
    assert usa.json()["error"] == direct.json()["error"]
    forged = await door.http.get(door.base + path, headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401 and forged.headers["www-authenticate"] == "Bearer"
    unknown = "/meetings/documents/" + to_global_id("Document", ObjectId())
    missing = await door.http.get(door.base + unknown, headers=door.auth("deu"))
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"


async def test_the_vcard_and_calendar_feeds_answer_through_the_gateway(
    door: Door, meeting: dict[str, str]
) -> None:
    vcf = await door.http.get(door.base + "/contacts/FRA.vcf", headers=door.auth("deu"))
    assert vcf.status_code == 200, vcf.text
    assert vcf.headers["content-type"].startswith("text/vcard")
    ics = await door.http.get(door.base + "/meetings/calendar.ics", headers=door.auth("deu"))
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert "Geneva, CICG" in venues(ics.content)
    refused = await door.http.get(door.base + "/meetings/calendar.ics", headers=door.auth("usa"))
    assert refused.status_code == 403


async def test_a_get_route_refuses_a_request_body(door: Door) -> None:
    got = await door.http.request(
        "GET", door.base + "/contacts/FRA.vcf", content=b"x" * 10, headers=door.auth("deu")
    )
    assert got.status_code == 413
    assert got.json()["code"] == "VALIDATION"


async def test_a_route_answers_only_its_declared_methods(door: Door) -> None:
    got = await door.http.post(door.base + "/contacts/FRA.vcf", headers=door.auth("deu"))
    assert got.status_code == 405


# --- case attachments: upload and download, streamed ---------------------------------------


async def _chunks(data: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_case_attachment_streams_up_and_down_through_the_gateway(
    door: Door, case_id: str
) -> None:
    data = PDF + bytes(range(256)) * 800  # ~200 kB, under the 256 KiB limit
    up = await door.http.post(
        f"{door.base}/cases/{case_id}/attachments",
        params={"filename": "report.pdf", "language": "en"},
        content=_chunks(data),  # chunked: no Content-Length, read as it comes
        headers={**door.auth("fra"), "Content-Type": "application/pdf"},
    )
    assert up.status_code == 201, up.text
    stored = up.json()
    assert stored["size"] == len(data)
    listed = await door.ok("deu", ATTACHMENTS, {"id": case_id})
    url = listed["case"]["attachments"][0]["downloadUrl"]
    assert url == stored["downloadUrl"] and url.startswith("/cases/attachments/")
    async with door.http.stream("GET", door.base + url, headers=door.auth("deu")) as got:
        assert got.status_code == 200
        pieces = [piece async for piece in got.aiter_raw()]
    assert hashlib.sha256(b"".join(pieces)).digest() == hashlib.sha256(data).digest()
    refused = await door.http.get(door.base + url, headers=door.auth("isr"))
    assert refused.status_code == 403


async def test_an_attachment_over_the_service_limit_is_refused_at_the_gateway(
    door: Door, case_id: str
) -> None:
    limit = door.settings.cases_attachment_max_bytes
    declared = await door.http.post(
        f"{door.base}/cases/{case_id}/attachments",
        params={"filename": "big.pdf", "language": "en"},
        content=PDF + b"x" * limit,
        headers={**door.auth("fra"), "Content-Type": "application/pdf"},
    )
    assert declared.status_code == 413
    assert declared.json() == {
        "error": f"The file is larger than the {limit} bytes allowed.",
        "code": "VALIDATION",
        "field": "file",
    }
    chunked = await door.http.post(
        f"{door.base}/cases/{case_id}/attachments",
        params={"filename": "big.pdf", "language": "en"},
        content=_chunks(PDF + b"x" * limit),
        headers={**door.auth("fra"), "Content-Type": "application/pdf"},
    )
    assert chunked.status_code == 413
    listed = await door.ok("fra", ATTACHMENTS, {"id": case_id})
    assert all(a["size"] <= limit for a in listed["case"]["attachments"])


async def test_an_upload_by_a_caller_the_case_does_not_concern_is_refused(
    door: Door, case_id: str
) -> None:
    got = await door.http.post(
        f"{door.base}/cases/{case_id}/attachments",
        params={"filename": "x.pdf", "language": "en"},
        content=PDF,
        headers={**door.auth("deu"), "Content-Type": "application/pdf"},
    )
    assert got.status_code == 403
    assert got.json()["code"] == "FORBIDDEN"


# --- CORS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/graphql", "/cases/attachments/x", "/meetings/calendar.ics"])
async def test_a_preflight_from_an_allowed_origin_is_answered(door: Door, path: str) -> None:
    got = await door.http.options(
        door.base + path,
        headers={
            "Origin": "https://console.example.org",
            "Access-Control-Request-Method": "POST" if path == "/graphql" else "GET",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert got.status_code == 200
    assert got.headers["access-control-allow-origin"] == "https://console.example.org"
    allowed = got.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "access-control-allow-credentials" not in got.headers


async def test_a_preflight_from_another_origin_is_refused(door: Door) -> None:
    got = await door.http.options(
        door.base + "/graphql",
        headers={
            "Origin": "https://evil.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert got.status_code == 400
    assert "access-control-allow-origin" not in got.headers


async def test_a_cross_origin_answer_names_the_allowed_origin_only(door: Door) -> None:
    allowed = await door.http.post(
        door.base + "/graphql",
        json={"query": "{ __typename }"},
        headers={"Origin": "https://console.example.org"},
    )
    assert allowed.headers["access-control-allow-origin"] == "https://console.example.org"
    other = await door.http.post(
        door.base + "/graphql",
        json={"query": "{ __typename }"},
        headers={"Origin": "https://evil.example.com"},
    )
    assert "access-control-allow-origin" not in other.headers


def test_cors_origins_default_to_none_in_prod_and_the_dev_console_in_dev() -> None:
    from gateway.cors import DEV_CONSOLE_ORIGIN, allowed_origins
    from services.common.settings import Settings

    dev = Settings(env="dev")
    prod = dev.model_copy(update={"env": "prod"})
    assert not prod.is_dev
    assert allowed_origins(dev) == [DEV_CONSOLE_ORIGIN] == ["http://127.0.0.1:8000"]
    assert allowed_origins(prod) == []
    chosen = prod.model_copy(update={"gateway_cors_origins": ["https://a.example.org"]})
    assert allowed_origins(chosen) == ["https://a.example.org"]


# --- personal calendar feed links ----------------------------------------------------------

LINK_CREATE = """mutation($label: String!) { calendarFeedLinkCreate(input: {label: $label}) {
  url link { id label revokedAt } } }"""
LINKS = "{ calendarFeedLinks { id label revokedAt lastFetchedAt } }"
LINK_REVOKE = """mutation($id: ID!) { calendarFeedLinkRevoke(input: {id: $id}) {
  link { id revokedAt } } }"""
STATUS = """mutation($code: String!, $status: AttStatus!) {
  stateStatusChange(input: {code: $code, status: $status, signatureDate: "2014-12-18"}) {
    state { code } } }"""


async def test_a_calendar_feed_link_opens_the_feed_without_a_token_until_revoked(
    door: Door, meeting: dict[str, str]
) -> None:
    made = (await door.ok("deu", LINK_CREATE, {"label": "work calendar"}))["calendarFeedLinkCreate"]
    url = made["url"]
    assert url.startswith("/meetings/calendar/dcf_") and url.endswith(".ics")
    feed = await door.http.get(door.base + url)  # no Authorization: the URL is the credential
    assert feed.status_code == 200, feed.text
    assert feed.headers["cache-control"] == "no-store"
    assert "Geneva, CICG" in venues(feed.content)
    listed = (await door.ok("deu", LINKS))["calendarFeedLinks"]
    assert [(x["id"], x["label"]) for x in listed] == [(made["link"]["id"], "work calendar")]
    assert listed[0]["lastFetchedAt"] is not None
    secret = url.removeprefix("/meetings/calendar/").removesuffix(".ics")
    assert secret not in str(listed)
    # Stored hashed: the secret itself is nowhere in the database.
    from pymongo import MongoClient

    with MongoClient(door.settings.mongodb_uri) as client:
        stored = list(client[door.settings.meetings_db]["calendar_feed_links"].find())
    assert stored and secret not in str(stored)
    # Another user can neither see nor revoke it.
    assert (await door.ok("fra", LINKS))["calendarFeedLinks"] == []
    other = await door.gql("fra", LINK_REVOKE, {"id": made["link"]["id"]})
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # A guessed or altered secret opens nothing.
    for wrong in (url[:-6] + "xx.ics", "/meetings/calendar/dcf_guess.ics"):
        assert (await door.http.get(door.base + wrong)).status_code == 404
    revoked = await door.ok("deu", LINK_REVOKE, {"id": made["link"]["id"]})
    assert revoked["calendarFeedLinkRevoke"]["link"]["revokedAt"] is not None
    gone = await door.http.get(door.base + url)
    assert gone.status_code == 404 and gone.json()["code"] == "NOT_FOUND"


async def test_a_non_participant_gets_no_calendar_feed_link(door: Door) -> None:
    refused = await door.gql("usa", LINK_CREATE, {"label": "x"})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "not a participant" in refused["errors"][0]["message"]


async def test_a_calendar_feed_link_stops_when_its_state_stops_participating(
    door: Door, meeting: dict[str, str]
) -> None:
    url = (await door.ok("isr", LINK_CREATE, {"label": "isr"}))["calendarFeedLinkCreate"]["url"]
    assert (await door.http.get(door.base + url)).status_code == 200
    await door.ok("sec", STATUS, {"code": "ISR", "status": "NON_PARTY"})
    try:

        async def refused() -> bool:
            return (await door.http.get(door.base + url)).status_code == 403

        await wait_until(refused, timeout=60)
        got = await door.http.get(door.base + url)
        assert "ISR is not a participant" in got.json()["error"]
    finally:
        await door.ok("sec", STATUS, {"code": "ISR", "status": "SIGNATORY"})

    async def back() -> bool:
        return (await door.http.get(door.base + url)).status_code == 200

    await wait_until(back, timeout=60)  # rejoined: the same link works again


# --- multipart uploads (the GraphQL multipart request specification) -----------------------

ATTACH_FILE = """mutation($i: DocumentAttachInput!) { documentAttach(input: $i) {
  document { id size mediaType downloadPath } } }"""
CSRF = {"Apollo-Require-Preflight": "true"}


def attach_input(item: str, filename: str = "annex.pdf") -> dict[str, object]:
    return {
        "agendaItemId": item,
        "filename": filename,
        "mediaType": "application/pdf",
        "language": "en",
        "file": None,
    }


async def upload(
    door: Door, who: str, item: str, data: bytes, headers: dict[str, str] | None = None
) -> object:
    import json

    operations = {"query": ATTACH_FILE, "variables": {"i": attach_input(item)}}
    return await door.http.post(
        door.base + "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.i.file"]})},
        files={"0": ("annex.pdf", data, "application/pdf")},
        headers={**door.auth(who), **(CSRF if headers is None else headers)},
    )


async def test_a_9_mib_document_uploads_through_the_gateway_and_downloads_the_same(
    door: Door, meeting: dict[str, str]
) -> None:
    data = PDF + bytes(range(256)) * (9 * 1024 * 4)  # 9 MiB and a little
    assert len(data) > 9 * 1024 * 1024
    got = await upload(door, "sec", meeting["item"], data)
    assert got.status_code == 200, got.text
    body = got.json()
    assert "errors" not in body, body
    document = body["data"]["documentAttach"]["document"]
    assert document["size"] == len(data)
    async with door.http.stream(
        "GET", door.base + document["downloadPath"], headers=door.auth("deu")
    ) as down:
        assert down.status_code == 200
        digest = hashlib.sha256()
        async for piece in down.aiter_raw():
            digest.update(piece)
    assert digest.digest() == hashlib.sha256(data).digest()


async def test_a_multipart_request_without_the_csrf_header_is_refused(
    door: Door, meeting: dict[str, str]
) -> None:
    got = await upload(door, "sec", meeting["item"], PDF, headers={})
    assert got.status_code == 400
    error = got.json()["errors"][0]
    assert error["extensions"]["code"] == "VALIDATION"
    assert "Apollo-Require-Preflight" in error["message"]


async def test_an_upload_over_the_document_limit_is_refused(
    door: Door, meeting: dict[str, str]
) -> None:
    from gateway.uploads import upload_limit

    too_big = PDF + b"x" * upload_limit(door.settings)
    got = await upload(door, "sec", meeting["item"], too_big)
    assert got.status_code == 413
    assert got.json()["errors"][0]["extensions"]["limit"] == "bodySize"
    # Past the service's own limit, inside the gateway's allowance for the other parts:
    limit = door.settings.meetings_document_max_bytes
    over = await upload(door, "sec", meeting["item"], PDF + b"x" * (limit - len(PDF) + 1))
    error = over.json()["errors"][0]
    assert error["extensions"]["code"] == "VALIDATION", error
    assert str(limit) in error["message"]


async def test_an_upload_by_a_non_participant_is_refused_and_nothing_stored(
    door: Door, meeting: dict[str, str]
) -> None:
    got = await upload(door, "usa", meeting["item"], PDF)
    body = got.json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert not (body.get("data") or {}).get("documentAttach")


@pytest.mark.parametrize(
    ("operations", "mapping", "says"),
    [
        ('{"query": "mutation { x }"', '{"0": ["variables.i.file"]}', "operations"),
        (None, '{"0": ["variables.i.file"]}', "operations"),
        ('{"query": "q", "variables": {"i": {"file": null}}}', '{"1": ["variables.i.file"]}', "1"),
        ('{"query": "q", "variables": {"i": {"file": 3}}}', '{"0": ["variables.i.file"]}', "null"),
        ('{"query": "q", "variables": {}}', '{"0": ["query"]}', "variables."),
        ('{"query": "q", "variables": {}}', '{"0": ["variables.a.b"]}', "nowhere"),
        ('[{"query": "q", "variables": {"f": null}}]', '{"0": ["variables.f"]}', "one operation"),
        ('{"query": "q", "variables": {"f": null}}', '{"0": "variables.f"}', "no paths"),
    ],
)
async def test_a_malformed_multipart_request_is_refused_with_why(
    door: Door, operations: str | None, mapping: str, says: str
) -> None:
    data = {"map": mapping}
    if operations is not None:
        data["operations"] = operations
    got = await door.http.post(
        door.base + "/graphql",
        data=data,
        files={"0": ("a.pdf", PDF, "application/pdf")},
        headers={**door.auth("sec"), **CSRF},
    )
    assert got.status_code == 400, got.text
    assert says in got.json()["errors"][0]["message"]


CASE_UPLOAD = """mutation($i: CaseAttachmentUploadInput!) { caseAttachmentUpload(input: $i) {
  attachment { id size contentType downloadUrl } } }"""


async def upload_to_case(door: Door, who: str, case_id: str, data: bytes) -> dict[str, object]:
    import json

    given = {"caseId": case_id, "filename": "annex.pdf", "language": "en", "file": None}
    answer = await door.http.post(
        door.base + "/graphql",
        data={
            "operations": json.dumps({"query": CASE_UPLOAD, "variables": {"i": given}}),
            "map": json.dumps({"0": ["variables.i.file"]}),
        },
        files={"0": ("annex.pdf", data, "application/pdf")},
        headers={**door.auth(who), **CSRF},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_case_attachment_uploads_as_multipart_through_the_gateway(
    door: Door, case_id: str
) -> None:
    data = PDF + b"annex " * 20_000  # ~120 kB
    body = await upload_to_case(door, "fra", case_id, data)
    assert "errors" not in body, body
    stored = body["data"]["caseAttachmentUpload"]["attachment"]
    assert stored["size"] == len(data) and stored["contentType"] == "application/pdf"
    got = await door.http.get(door.base + stored["downloadUrl"], headers=door.auth("deu"))
    assert got.status_code == 200 and got.content == data
    refused = await upload_to_case(door, "deu", case_id, PDF)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
    limit = door.settings.cases_attachment_max_bytes
    too_big = await upload_to_case(door, "fra", case_id, PDF + b"x" * limit)
    error = too_big["errors"][0]
    assert error["extensions"] == {"code": "VALIDATION", "field": "file"}, error
