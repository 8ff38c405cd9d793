"""The web console in front of a whole stack, driven by Debian's chromium through
Playwright (never a downloaded browser), for the console's browser tests.

The stack is ``tests/flows_support.start_stack`` (every service and the gateway as real
processes); the console runs as its own ``dief serve console`` process on a free port,
talking to that gateway only. Screenshots go to ``tests/artifacts/console/`` (not
committed); with ``DIEF_CONSOLE_DOCS_SCREENSHOTS=1`` the main ones are also written to
``docs/console/`` for the README.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.dev.servers import LOOPBACK, ServerProcess, free_port
from tests.flows_support import REPO, FlowStack, data_of, start_stack

ARTIFACTS = REPO / "tests" / "artifacts" / "console"
DOCS = REPO / "docs" / "console"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = REPO / "build" / "axe-core" / "axe-4.14.1.min.js"
# WCAG 2.1 A and AA, what the console promises for its main flows, and axe's best practices
# (heading order, landmarks, one main heading)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
TIMEOUT_MS = 30_000  # two busy cores: generous, and every wait polls


@dataclass
class ConsoleStack:
    stack: FlowStack
    console: ServerProcess
    url: str

    def token(self, *args: Any, **kwargs: Any) -> str:
        return self.stack.token(*args, **kwargs)


def start_console(stack: FlowStack) -> ServerProcess:
    port = free_port()
    server = ServerProcess(
        "console",
        [
            sys.executable,
            "-m",
            "services.cli",
            "serve",
            "console",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
        ],
        port,
        log_path=stack.root / "console.log",
        env={
            **stack.env,
            "DIEF_CONSOLE_GATEWAY_URL": stack.urls["gateway"],
            "DIEF_CONSOLE_PUBLIC_URL": f"http://{LOOPBACK}:{port}",
        },
    )
    return server.start(timeout=60)


@contextlib.contextmanager
def console_running(
    mongodb_port: int, root: Path, settings: dict[str, str] | None = None
) -> Iterator[ConsoleStack]:
    """The whole stack (with ``settings``, more ``DIEF_*`` variables) and the console in
    front of it, stopped afterwards."""
    stack = start_stack(root, mongodb_port, settings)
    try:
        server = start_console(stack)
    except BaseException:
        stack.stop()
        raise
    try:
        yield ConsoleStack(stack, server, f"http://{LOOPBACK}:{server.port}")
    finally:
        server.stop()
        stack.stop()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium through Playwright's sync API. That API runs its own event loop
    while it is open: close it before any asyncio test runs (a module-scoped fixture)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser: Any, locale: str = "en-GB") -> Any:
    """A fresh browser context (its own cookies) and a page in it."""
    context = browser.new_context(
        locale=locale, viewport={"width": 1366, "height": 900}, timezone_id="Europe/Paris"
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def sign_in(page: Any, base: str, subject: str, role: str, state: str = "") -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("User name").fill(subject)
    page.get_by_label("Role").select_option(role)
    page.locator("#state").fill(state)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"^(?!.*/signin).*$"))


def shot(page: Any, name: str, docs: bool = False, focus: Any = None) -> Path:
    """The whole page as an artifact; for the README, the screen with ``focus`` in view."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get("DIEF_CONSOLE_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        if focus is not None:
            focus.scroll_into_view_if_needed()
        page.screenshot(path=str(DOCS / f"{name}.png"), full_page=False)
    return path


def graphql(cs: ConsoleStack, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    """A GraphQL request straight to the stack's gateway (for a test's own setup)."""
    answer = httpx.post(
        f"{cs.stack.urls['gateway']}/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return data_of(answer.json())


def refused_with_code(page: Any) -> tuple[str, str]:
    """The next page's refusal flash: (its text, the API's error code shown with it)."""
    flash = page.get_by_test_id("flash-refusal").first
    flash.wait_for()
    code = flash.get_by_test_id("flash-code").inner_text()
    assert re.fullmatch(r"[A-Z_]{3,}", code), code
    return flash.inner_text(), code


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core run in the page as it is (in the real chromium), WCAG 2.1 A and AA rules
    and best practices:
    each violation with its rule, impact and the elements it found. The engine goes in
    through the DevTools protocol, so the page's Content-Security-Policy stays as served."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make axe-core`")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found = page.evaluate(
        """async (tags) => {
            const result = await window.axe.run(document, {
                runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
            return {passed: result.passes.length, violations: result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " +
                                                   n.failureSummary)}))};
        }""",
        AXE_TAGS,
    )
    # a page on which nothing was checked would pass anything
    assert found["passed"] >= 5 or found["violations"], found
    return list(found["violations"])
