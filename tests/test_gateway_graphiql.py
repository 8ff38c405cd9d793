"""GraphiQL served by the gateway alone, checked in a real headless browser (Debian's
chromium driven by Playwright, every request leaving loopback refused and recorded): the
page loads from the gateway, the header editor holds ``Authorization: Bearer ``, and a
query with a token answers. And CORS as a browser does it: a page of an allowed origin calls
the gateway after a real preflight, one of another origin is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from gateway.graphiql import ASSETS, STATIC
from services.common.keys import SigningKey
from services.common.settings import Settings
from services.dev.servers import ServerProcess
from tests.gateway_stack import Gateway, contacts_running, gateway_stack, stack_settings
from tests.gateway_support import served

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
    "--disable-domain-reliability",
]


@pytest.fixture(scope="module")
def settings(
    mongodb: ServerProcess,
    nats: ServerProcess,
    keys_dir: Path,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    home = tmp_path_factory.mktemp("graphiql-home")
    return stack_settings(mongodb.port, nats.port, keys_dir, home, "test_gateway_graphiql")


def console_app() -> Starlette:
    """A web front-end of another origin: a blank page the browser test runs fetch() in."""

    async def page(_: Request) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>console</title><p>console</p>")

    return Starlette(routes=[Route("/", page)])


@pytest.fixture(scope="module")
async def console() -> AsyncIterator[str]:
    async with served(console_app()) as base:
        yield base


@pytest.fixture(scope="module")
async def gw(
    settings: Settings, console: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    async with (
        contacts_running(settings) as contacts,
        gateway_stack(
            settings,
            contacts,
            tmp_path_factory.mktemp("gw"),
            gateway_cors_origins=[console],
        ) as gateway,
    ):
        yield gateway


def test_the_assets_are_files_of_the_package() -> None:
    for name in (
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "dief-graphiql.js",
    ):
        assert (STATIC / name).stat().st_size > 100, name


async def test_the_page_and_its_assets_come_from_the_gateway(gw: Gateway) -> None:
    page = await gw.http.get(f"{gw.base}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "https://" not in page.text and "http://" not in page.text
    script = await gw.http.get(f"{gw.base}{ASSETS}/graphiql.min.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    escape = await gw.http.get(f"{gw.base}{ASSETS}/../app.py")
    assert escape.status_code == 404


async def test_graphiql_runs_a_query_with_a_token_in_headless_chromium(
    gw: Gateway, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    token = gw.token(sub="fra-delegate", state="FRA", roles=["delegate"])
    shots = tmp_path
    asked: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()

            async def only_loopback(route: Any) -> None:
                url = route.request.url
                asked.append(url)
                if urlsplit(url).hostname == "127.0.0.1":
                    await route.continue_()
                else:
                    await route.abort()

            await page.route("**/*", only_loopback)
            await page.goto(f"{gw.base}/graphql", wait_until="load", timeout=60_000)
            await page.wait_for_selector(".graphiql-container", timeout=60_000)
            assert "dief token" in await page.inner_text("#hint")
            headers_editor = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
            headers = await page.evaluate(
                "(sel) => document.querySelector(sel).CodeMirror.getValue()", headers_editor
            )
            assert '"Authorization": "Bearer "' in headers
            # The schema loaded before any token: the documentation explorer has it.
            await page.click("button[aria-label='Show Documentation Explorer']")
            await page.get_by_text("Root Types").wait_for(timeout=60_000)
            await page.evaluate(
                """([sel, token]) => {
                  const query = document.querySelector('.graphiql-query-editor .CodeMirror');
                  query.CodeMirror.setValue('{ states(first: 2) { totalCount } }');
                  const tool = document.querySelector(sel);
                  tool.CodeMirror.setValue(JSON.stringify({Authorization: 'Bearer ' + token}));
                }""",
                [headers_editor, token],
            )
            await page.click(".graphiql-execute-button")
            result = page.locator(".result-window")
            await result.get_by_text("totalCount").wait_for(timeout=60_000)
            text = await result.inner_text()
            assert '"states"' in text and "errors" not in text, text
            await page.screenshot(path=str(shots / "graphiql.png"))
        finally:
            await browser.close()
    assert asked, "the browser asked for nothing"
    outside = [url for url in asked if urlsplit(url).hostname != "127.0.0.1"]
    assert outside == [], outside


async def test_standard_introspection_passes_the_limits_and_deep_introspection_does_not(
    gw: Gateway,
) -> None:
    from graphql import get_introspection_query

    standard = get_introspection_query(
        descriptions=True, schema_description=True, input_value_deprecation=True
    )
    answer = await gw.post({"query": standard})
    assert answer.status_code == 200
    assert answer.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    nested = "fields { type { " * 8 + "name" + " } }" * 8
    deep = await gw.post({"query": "{ __schema { types { " + nested + " } } }"})
    error = deep.json()["errors"][0]
    assert error["extensions"]["code"] == "VALIDATION" and "depth" in error["message"], error
    assert not deep.json().get("data")


async def test_a_services_dev_graphiql_is_the_same_offline_page(settings: Settings) -> None:
    from services.common.app import create_app
    from services.common.runtime import ServiceRuntime
    from services.contacts.schema import schema

    app = create_app(ServiceRuntime("contacts", settings), schema)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://contacts") as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "https://" not in page.text
        assert f"{ASSETS}/graphiql.min.js" in page.text
        script = await http.get(f"{ASSETS}/graphiql.min.js")
        assert script.status_code == 200


FETCH = """async ([url, token]) => {
  try {
    const answer = await fetch(url, {
      method: "POST",
      headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
      body: JSON.stringify({query: "{ states(first: 1) { totalCount } }"}),
    });
    return {status: answer.status, body: await answer.json(),
            requestId: answer.headers.get("x-request-id")};
  } catch (error) {
    return {blocked: String(error)};
  }
}"""


async def test_a_front_end_of_an_allowed_origin_calls_the_gateway_after_a_real_preflight(
    gw: Gateway, console: str, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from playwright.async_api import async_playwright

    caplog.set_level(logging.INFO, logger="dief.access")
    token = gw.token(sub="fra-delegate", state="FRA", roles=["delegate"])
    # The same server under another name is another origin, one the gateway does not allow.
    other = console.replace("127.0.0.1", "localhost")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(console + "/", wait_until="load", timeout=60_000)
            allowed = await page.evaluate(FETCH, [f"{gw.base}/graphql", token])
            await page.goto(other + "/", wait_until="load", timeout=60_000)
            refused = await page.evaluate(FETCH, [f"{gw.base}/graphql", token])
        finally:
            await browser.close()
    assert allowed.get("status") == 200, allowed
    assert allowed["body"]["data"]["states"]["totalCount"] >= 1, allowed
    assert allowed["requestId"], "exposed to the page: X-Request-Id"
    assert "blocked" in refused, refused
    asked = [
        (r.method, r.status)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "dief.access" and getattr(r, "path", "") == "/graphql"
    ]
    # The browser asked first (OPTIONS) for each origin: the allowed one was answered yes
    # and went on to POST, the other one no (and its fetch failed, above).
    preflights = [a for a in asked if a[0] == "OPTIONS"]
    assert preflights == [("OPTIONS", 200), ("OPTIONS", 400)], asked
    assert asked.index(("OPTIONS", 200)) < asked.index(("POST", 200)), asked
    preflight = await gw.http.options(
        f"{gw.base}/graphql",
        headers={
            "Origin": console,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == console
