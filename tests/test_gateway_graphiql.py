"""GraphiQL served by the gateway alone, checked in a real headless browser (Debian's
chromium driven by Playwright, every request leaving loopback refused and recorded): the
page loads from the gateway, the header editor holds ``Authorization: Bearer ``, and a
query with a token answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.graphiql import ASSETS, STATIC
from services.common.keys import SigningKey
from services.common.settings import Settings
from services.dev.servers import ServerProcess
from tests.gateway_stack import Gateway, contacts_running, gateway_stack, stack_settings

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


@pytest.fixture(scope="module")
async def gw(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    async with (
        contacts_running(settings) as contacts,
        gateway_stack(settings, contacts, tmp_path_factory.mktemp("gw")) as gateway,
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
