"""The console's session, CSRF and CSP handling, in process (no gateway needed: a page whose
gateway cannot be reached says so instead of going blank)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from console.app import build
from console.security import CSP, csrf_valid
from console.sessions import SessionStore, cookie_attributes
from console.settings import ConsoleSettings
from console.web import safe_next
from services.common.settings import Settings
from services.dev.servers import free_port

TEMPLATES = Path(__file__).resolve().parent.parent / "console" / "templates"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_expires_when_idle_and_when_too_old() -> None:
    clock = Clock()
    store = SessionStore(idle_seconds=60, max_age_seconds=300, clock=clock)
    session = store.new()
    clock.now += 59
    assert store.get(session.id) is session
    clock.now += 61
    assert store.get(session.id) is None
    kept = store.new()
    for _ in range(6):  # active all along, but older than the maximum age at the end
        clock.now += 55
        found = store.get(kept.id)
    assert found is None


def test_rotation_gives_a_new_id_and_csrf_secret_and_forgets_the_old_id() -> None:
    store = SessionStore(60, 300)
    session = store.new()
    old_id, old_csrf = session.id, session.csrf
    store.rotate(session)
    assert session.id != old_id and session.csrf != old_csrf
    assert store.get(old_id) is None and store.get(session.id) is session
    store.drop(session)
    assert store.get(session.id) is None


@pytest.mark.parametrize("sid", [None, "", "x" * 101, "not-a-session"])
def test_unknown_or_absurd_session_ids_find_nothing(sid: str | None) -> None:
    store = SessionStore(60, 300)
    store.new()
    assert store.get(sid) is None


def test_the_cookie_is_httponly_lax_and_secure_with_the_host_prefix_in_prod() -> None:
    dev = cookie_attributes(secure=False, max_age=10)
    assert dev["httponly"] and dev["samesite"] == "lax" and not dev["secure"]
    prod = cookie_attributes(secure=True, max_age=10)
    assert prod["secure"] and prod["key"].startswith("__Host-") and prod["path"] == "/"


@pytest.mark.parametrize("given", [None, "", "wrong", 42, ["token"], "token "])
def test_csrf_tokens_other_than_the_sessions_are_refused(given: object) -> None:
    assert not csrf_valid("token", given)
    assert csrf_valid("token", "token")
    assert not csrf_valid(None, "token") and not csrf_valid("", "")


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x", ""]
)
def test_sign_in_never_sends_you_elsewhere(target: str) -> None:
    assert safe_next(target) == "/"
    assert safe_next("/cases?words=x") == "/cases?words=x"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    core = Settings(env="dev", home=tmp_path)
    # a gateway nobody listens on: every page must still answer, with the reason
    settings = ConsoleSettings(gateway_url=f"http://127.0.0.1:{free_port()}")
    with TestClient(build(settings, core), base_url="http://127.0.0.1") as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, **fields: str) -> tuple[str, str]:
    """(cookie before, cookie after) of a dev sign-in."""
    page = client.get("/signin")
    before = client.cookies["dief_console"]
    form = {
        "csrf_token": csrf_of(page.text),
        "subject": "fra-1",
        "role": "delegate",
        "state": "FRA",
        "next": "/cases",
        **fields,
    }
    answer = client.post("/signin", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return before, client.cookies["dief_console"]


def test_every_response_carries_the_strict_policy(client: TestClient) -> None:
    for path in ("/signin", "/static/console.css", "/nowhere", "/"):
        answer = client.get(path, follow_redirects=False)
        assert answer.headers["content-security-policy"] == CSP, path
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert "frame-ancestors 'none'" in CSP and "default-src 'none'" in CSP
    assert client.get("/signin").headers["cache-control"] == "no-store"


def test_no_template_needs_inline_script_or_style() -> None:
    """What the policy forbids, the pages must not use (it would silently break them)."""
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\sstyle=", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name
        assert "<style" not in text and "http://" not in text and "https://" not in text


def test_a_form_without_the_sessions_token_is_refused(client: TestClient) -> None:
    client.get("/signin")
    base = {"subject": "fra-1", "role": "delegate", "state": "FRA"}
    for token in ({}, {"csrf_token": "forged"}):
        answer = client.post("/signin", data={**base, **token}, follow_redirects=False)
        assert answer.status_code == 403
        assert "expired" in answer.text
    # nobody was signed in by those
    assert client.get("/cases", follow_redirects=False).status_code == 303


def test_a_post_from_a_browser_without_a_session_is_refused(client: TestClient) -> None:
    answer = client.post("/preferences", data={"locale": "fr", "csrf_token": "x"})
    assert answer.status_code == 403


def test_signing_in_rotates_the_session_id_and_sets_a_safe_cookie(client: TestClient) -> None:
    page = client.get("/signin")
    header = page.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/" in header
    before, after = sign_in(client)
    assert before != after
    # the old id is worth nothing now
    stale = TestClient(client.app, base_url="http://127.0.0.1", cookies={"dief_console": before})
    assert stale.get("/cases", follow_redirects=False).status_code == 303


def test_pages_need_a_sign_in_and_come_back_after_it(client: TestClient) -> None:
    answer = client.get("/cases?words=rifles", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=%2Fcases%3Fwords%3Drifles"


def test_a_dev_sign_in_names_a_valid_role_and_state(client: TestClient) -> None:
    page = client.get("/signin")
    for fields in ({"role": "admin"}, {"state": "F<script>"}, {"subject": "a b"}, {"state": ""}):
        form = {
            "csrf_token": csrf_of(page.text),
            "subject": "x",
            "role": "delegate",
            "state": "FRA",
            **fields,
        }
        answer = client.post("/signin", data=form, follow_redirects=False)
        assert answer.status_code == 200 and 'data-testid="signin-error"' in answer.text
        assert "<script>" not in answer.text


def test_a_page_whose_gateway_is_down_says_so(client: TestClient) -> None:
    sign_in(client)
    answer = client.get("/cases")
    assert answer.status_code == 200
    assert "The gateway cannot be reached" in answer.text
    assert "fra-1" in answer.text and "FRA" in answer.text  # who you are, still shown


def test_signing_out_forgets_the_session(client: TestClient) -> None:
    sign_in(client)
    page = client.get("/cases")
    answer = client.post(
        "/signout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert client.get("/cases", follow_redirects=False).status_code == 303


def test_the_language_and_time_zone_are_chosen_per_user(client: TestClient) -> None:
    page = client.get("/signin", headers={"accept-language": "es-ES,es;q=0.9"})
    assert 'lang="es"' in page.text and "Iniciar sesión" in page.text
    client.post(
        "/preferences",
        data={
            "csrf_token": csrf_of(page.text),
            "locale": "fr",
            "time_zone": "America/Mexico_City",
            "next": "/signin",
        },
    )
    page = client.get("/signin", headers={"accept-language": "es"})
    assert 'lang="fr"' in page.text and "Se connecter" in page.text
    assert 'value="America/Mexico_City"' in page.text
    bad = client.post(
        "/preferences",
        data={"csrf_token": csrf_of(page.text), "time_zone": "Mars/Olympus", "next": "/signin"},
    )
    assert "Mars/Olympus" in bad.text and 'value="America/Mexico_City"' in bad.text


@pytest.mark.parametrize(
    ("chosen", "browser", "expected"),
    [
        (None, "Asia/Tokyo", "Asia/Tokyo"),
        ("America/Bogota", "Asia/Tokyo", "America/Bogota"),  # the user's choice first
        (None, "Mars/Olympus", "UTC"),
        (None, "<script>alert(1)</script>", "UTC"),
        (None, "../../etc/passwd", "UTC"),
        (None, "Europe/Paris" + "x" * 100, "UTC"),
        (None, "", "UTC"),
        ("Nowhere/Else", "Europe/Paris", "Europe/Paris"),
    ],
)
def test_the_browsers_zone_counts_only_when_it_is_a_known_zone(
    chosen: str | None, browser: str, expected: str
) -> None:
    from console.i18n import choose_zone

    assert choose_zone(chosen, browser, "UTC") == expected


def test_pages_follow_the_browsers_zone_until_the_user_chooses_one_kept_for_next_time(
    client: TestClient,
) -> None:
    client.cookies.set("dief_tz", "Asia/Tokyo")
    sign_in(client)
    page = client.get("/cases")
    assert 'data-zone="Asia/Tokyo"' in page.text and 'data-zone-chosen="0"' in page.text
    client.cookies.set("dief_tz", "Mars/Olympus")
    assert 'data-zone="UTC"' in client.get("/cases").text  # a made-up zone is not taken
    client.post(
        "/preferences",
        data={"csrf_token": csrf_of(page.text), "time_zone": "America/Bogota", "next": "/"},
    )
    page = client.get("/cases")
    assert 'data-zone="America/Bogota"' in page.text and 'data-zone-chosen="1"' in page.text
    # signed out and in again (a new session): the user's choice is found again
    client.post("/signout", data={"csrf_token": csrf_of(page.text)})
    sign_in(client)
    page = client.get("/cases")
    assert 'data-zone="America/Bogota"' in page.text
    # an empty zone goes back to following the browser
    client.cookies.set("dief_tz", "Asia/Tokyo")
    client.post("/preferences", data={"csrf_token": csrf_of(page.text), "time_zone": ""})
    assert 'data-zone="Asia/Tokyo"' in client.get("/cases").text
    # another user does not inherit it
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/cases").text)})
    client.cookies.delete("dief_tz")
    sign_in(client, subject="deu-1", state="DEU")
    assert 'data-zone="UTC"' in client.get("/cases").text


def test_a_body_past_the_limit_is_refused_declared_or_not(tmp_path: Path) -> None:
    core = Settings(env="dev", home=tmp_path)
    settings = ConsoleSettings(gateway_url=f"http://127.0.0.1:{free_port()}", max_upload_bytes=10)
    limit = 10 + 1024 * 1024
    with TestClient(build(settings, core), base_url="http://127.0.0.1") as client:
        sign_in(client)
        token = csrf_of(client.get("/cases").text)
        declared = client.post(
            "/meetings/x/documents",
            content=b"x" * (limit + 1),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert declared.status_code == 413 and declared.headers["content-security-policy"] == CSP

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield (
                b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                + token.encode()
                + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"'
                b"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            for _ in range(20):
                yield b"%PDF" + b"x" * 65_532

        streamed = client.post(
            "/meetings/x/documents",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        assert streamed.status_code == 413, streamed.text
        assert "larger than 10 bytes" in streamed.text
        # a form within the limit still goes through (to the gateway, down here)
        small = client.post(
            "/meetings/x/documents",
            data={"csrf_token": token},
            files={"file": ("a.txt", b"0123456789", "text/plain")},
            follow_redirects=False,
        )
        assert small.status_code == 303
