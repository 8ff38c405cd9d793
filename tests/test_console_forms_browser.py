"""The console's thinner forms in a real headless chromium, against the whole stack: the
Secretariat moves, cancels and lifts the confidentiality of a meeting, records a briefing's
consensus and appoints the Chair; a provider edits its case's actors and items and closes
an arrangement; a disclosure concern is explained and closed; a State sets its LDAP source.
Every refusal shows the API's message with its error code; axe-core finds no WCAG 2.1 AA
violation on the main pages."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from services.dev.servers import ServerProcess
from tests.console_support import (
    ConsoleStack,
    axe_violations,
    chromium,
    console_running,
    graphql,
    new_page,
    refused_with_code,
    shot,
    sign_in,
)

pytestmark = pytest.mark.slow

TODAY = dt.datetime.now(dt.UTC).date()
START = TODAY + dt.timedelta(days=120)


@pytest.fixture(scope="module")
def console_stack(
    mongodb: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleStack]:
    hosts = {"DIEF_LDAP_SYNC_ALLOWED_HOSTS": json.dumps({"MEX": ["ldap.aduana.example"]})}
    with console_running(mongodb.port, tmp_path_factory.mktemp("console-forms"), hosts) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def ok(page: Any) -> str:
    """The next page's success flash (a refusal instead fails with its text)."""
    flash = page.locator(".flash").first
    flash.wait_for()
    assert flash.get_attribute("data-testid") == "flash-ok", flash.inner_text()
    return flash.inner_text()


@pytest.fixture(scope="module")
def meeting(console_stack: ConsoleStack) -> str:
    sec = console_stack.token("sec-1", roles=("secretariat",))
    session = graphql(
        console_stack,
        "mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { session { id } } }",
        {
            "i": {
                "kind": "PREPARATORY_MEETING",
                "name": "Forms test meetings",
                "startDate": START.isoformat(),
                "endDate": (START + dt.timedelta(days=30)).isoformat(),
            }
        },
        sec,
    )["sessionCreate"]["session"]["id"]
    return graphql(
        console_stack,
        "mutation($i: MeetingScheduleInput!) { meetingSchedule(input: $i) { meeting { id } } }",
        {
            "i": {
                "sessionId": session,
                "startDate": START.isoformat(),
                "endDate": (START + dt.timedelta(days=1)).isoformat(),
                "venue": "Geneva, CICG",
                "decidedBy": "President of CSP",
                "decidedOn": TODAY.isoformat(),
            }
        },
        sec,
    )["meetingSchedule"]["meeting"]["id"]


def test_the_secretariat_appoints_the_chair_and_moves_lifts_briefs_and_cancels_a_meeting(
    console_stack: ConsoleStack, browser: Any, meeting: str
) -> None:
    base = console_stack.url
    page = new_page(browser)
    sign_in(page, base, "sec-1", "secretariat")

    # Rule 4: the Chair, then an overlapping appointment refused with the API's reason.
    page.goto(f"{base}/secretariat")
    form = page.get_by_test_id("chair-form")
    form.get_by_label("Chair's name").fill("Ambassador Ana Lima")
    form.get_by_label("Appointed by (the CSP President)").fill("President of CSP10")
    form.get_by_role("button", name="Record the appointment").click()
    assert "Chair" in ok(page)
    assert "Ambassador Ana Lima" in page.get_by_test_id("current-chair").inner_text()
    form = page.get_by_test_id("chair-form")
    form.get_by_label("Chair's name").fill("Ambassador Bo Berg")
    form.get_by_label("Appointed by (the CSP President)").fill("President of CSP10")
    form.get_by_role("button", name="Record the appointment").click()
    text, code = refused_with_code(page)
    assert code != "INTERNAL" and len(text) > len(code) + 10, text
    assert "Ambassador Ana Lima" in page.get_by_test_id("current-chair").inner_text()

    # Move: an end before the start is refused; then a real move, its timeline following.
    page.goto(f"{base}/meetings/{meeting}")
    page.get_by_test_id("organise").locator("summary").click()
    move = page.get_by_test_id("move-form")
    moved = START + dt.timedelta(days=7)
    move.get_by_label("New first day").fill(moved.isoformat())
    move.get_by_label("New last day").fill(START.isoformat())
    move.get_by_role("button", name="Move the meeting").click()
    text, code = refused_with_code(page)
    assert code != "INTERNAL", text
    page.get_by_test_id("organise").locator("summary").click()
    move = page.get_by_test_id("move-form")
    move.get_by_label("New first day").fill(moved.isoformat())
    move.get_by_label("New last day").fill((moved + dt.timedelta(days=2)).isoformat())
    move.get_by_label("Venue").fill("Geneva, Palais des Nations")
    move.get_by_role("button", name="Move the meeting").click()
    assert "moved" in ok(page)
    assert "Palais des Nations" in page.inner_text("main")
    after = graphql(
        console_stack,
        "query($id: ID!) { meeting(id: $id) { startDate endDate timeline { dueOn } } }",
        {"id": meeting},
        console_stack.token("sec-1", roles=("secretariat",)),
    )["meeting"]
    assert after["startDate"] == moved.isoformat()
    assert (moved - dt.timedelta(days=50)).isoformat() in {t["dueOn"] for t in after["timeline"]}

    # Rule 14: the participants lift the agenda's confidentiality.
    page.get_by_test_id("organise").locator("summary").click()
    lift = page.get_by_test_id("lift-form")
    lift.get_by_label("Lift confidentiality of").select_option("")
    lift.get_by_role("button", name="Record the decision").click()
    assert "confidentiality" in ok(page)
    assert "the agenda" in page.get_by_test_id("lifted").inner_text()

    # Rule 22: a briefing proposed, the participants' consensus recorded.
    page.get_by_label("Forum").select_option("CSP")
    page.get_by_role("button", name="Propose a briefing").click()
    assert "proposed" in ok(page)
    page.get_by_role("button", name="Record the participants' consensus").click()
    assert "consensus" in ok(page)
    assert page.get_by_role("button", name="Record the participants' consensus").count() == 0
    shot(page, "meeting-organise")

    # Cancel, after the confirmation the page asks for.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("organise").locator("summary").click()
    page.get_by_role("button", name="Cancel the meeting").click()
    assert "cancelled" in ok(page)
    assert "cancelled" in page.locator("main p").first.inner_text()
    page.context.close()


@pytest.fixture(scope="module")
def case(console_stack: ConsoleStack) -> str:
    """A case France shares with every participant."""
    fra = console_stack.token("fra-1", "FRA")
    case_id = graphql(
        console_stack,
        "mutation($i: CaseFieldsInput!) { caseCreate(input: $i) { case { id } } }",
        {
            "i": {
                "title": "Pistols through a free zone",
                "summary": "Pistols licensed for a police force reached a broker.",
                "categories": ["ILLICIT_BROKERS"],
                "audience": {"kind": "ALL_PARTICIPANTS", "states": []},
            }
        },
        fra,
    )["caseCreate"]["case"]["id"]
    graphql(
        console_stack,
        "mutation($id: ID!) { caseShare(id: $id) { case { id } } }",
        {"id": case_id},
        fra,
    )
    return case_id


def test_a_provider_edits_actors_and_items_and_closes_an_arrangement(
    console_stack: ConsoleStack, browser: Any, case: str
) -> None:
    base = console_stack.url
    page = new_page(browser)
    sign_in(page, base, "fra-1", "delegate", "FRA")
    page.goto(f"{base}/cases/{case}")
    actor = page.get_by_test_id("actor-form")
    actor.get_by_label("Actor's name").fill("Atlas Brokerage Ltd")
    actor.get_by_label("Actor's role").select_option("BROKER")
    actor.get_by_label("Person or company").select_option("COMPANY")
    actor.get_by_label("Country (ISO3, optional)").fill("MLT")
    actor.get_by_role("button", name="Add the actor").click()
    assert "revision" in ok(page)
    assert "Atlas Brokerage Ltd" in page.get_by_test_id("actors").inner_text()
    # a country that is not an ISO code: the API's refusal, with its code
    actor = page.get_by_test_id("actor-form")
    actor.get_by_label("Actor's name").fill("Someone Else")
    actor.get_by_label("Country (ISO3, optional)").fill("12")
    actor.get_by_role("button", name="Add the actor").click()
    text, code = refused_with_code(page)
    assert code == "VALIDATION" and "'12' is not a known State" in text, text
    assert "Someone Else" not in page.get_by_test_id("actors").inner_text()

    item = page.get_by_test_id("item-form")
    item.get_by_label("Kind of item").select_option("SMALL_ARMS_AND_LIGHT_WEAPONS")
    item.get_by_label("Description").fill("9 mm pistols")
    item.get_by_label("Quantity").fill("40")
    item.get_by_label("Markings (comma-separated)").fill("PX-1001, PX-1002")
    item.get_by_role("button", name="Add the item").click()
    ok(page)
    items = page.get_by_test_id("items").inner_text()
    assert "\u00d7 40" in items and "PX-1002" in items
    page.get_by_role("button", name="Remove Atlas Brokerage Ltd").click()
    ok(page)
    assert "Atlas Brokerage Ltd" not in page.get_by_test_id("actors").inner_text()
    assert "9 mm pistols" in page.get_by_test_id("items").inner_text()

    # Rule 21: an arrangement with Germany, then marked done.
    page.get_by_label("With the States (ISO3, comma-separated)").fill("DEU")
    page.get_by_label("What is arranged").fill("Joint tracing request")
    page.get_by_role("button", name="Record", exact=True).click()
    ok(page)
    page.get_by_label("Mark it").select_option("DONE")
    page.get_by_role("button", name="Change", exact=True).click()
    assert "status" in ok(page)
    assert page.get_by_test_id("arrangement-status").first.inner_text() == "DONE"
    page.context.close()


def test_a_disclosure_concern_is_explained_by_the_respondent_and_closed_by_the_raiser(
    console_stack: ConsoleStack, browser: Any, case: str
) -> None:
    base = console_stack.url
    france = new_page(browser)
    sign_in(france, base, "fra-2", "delegate", "FRA")
    france.goto(f"{base}/cases/{case}")
    france.get_by_label("Raise a concern about a State's disclosure (ISO3)").fill("DEU")
    france.get_by_label("What was disclosed").fill("The broker's name appeared in a press note.")
    france.get_by_role("button", name="Raise").click()
    ok(france)
    assert france.get_by_test_id("close-form").count() == 1  # the raiser may close it
    assert france.get_by_test_id("explain-form").count() == 0

    germany = new_page(browser)
    sign_in(germany, base, "deu-1", "delegate", "DEU")
    germany.goto(f"{base}/cases/{case}")
    explain = germany.get_by_test_id("explain-form")
    explain.get_by_label("Your explanation").fill("An official quoted the case by mistake.")
    explain.get_by_label("Remedial measures").fill("The note was withdrawn; staff briefed.")
    explain.get_by_role("button", name="Explain").click()
    ok(germany)
    assert germany.get_by_test_id("concern-status").first.inner_text() == "EXPLAINED"
    assert germany.get_by_test_id("close-form").count() == 0  # not Germany's to close
    germany.context.close()

    france.reload()
    france.get_by_label("Closing note").fill("Measures accepted.")
    france.get_by_role("button", name="Close the concern").click()
    ok(france)
    concerns = france.get_by_test_id("concerns").inner_text()
    assert "CLOSED" in concerns and "Measures accepted." in concerns
    france.context.close()


def test_a_state_sets_its_ldap_source_and_a_bad_one_is_refused_with_the_reason(
    console_stack: ConsoleStack, browser: Any
) -> None:
    base = console_stack.url
    page = new_page(browser)
    sign_in(page, base, "mex-1", "delegate", "MEX")
    page.goto(f"{base}/directory/MEX")
    page.locator("#a-kind").select_option("CUSTOMS")
    page.locator("#a-name").fill("Aduana Veracruz")
    page.locator("form[action$='/authority']").get_by_role("button", name="Add").click()
    ok(page)
    # refused: a host the operator did not allow for Mexico, then a base that is no DN
    for url, dn, reason in (
        ("ldap://127.0.0.1:3890", "ou=contacts,dc=aduana,dc=mx", "is not allowed"),
        ("ldaps://ldap.aduana.example", "this is not a DN", "not a DN"),
    ):
        form = page.get_by_test_id("ldap-source-form")
        form.get_by_label("Directory URL (ldaps:// or ldap://)").fill(url)
        form.get_by_label("Base DN").fill(dn)
        form.get_by_role("button", name="Save the LDAP source").click()
        text, code = refused_with_code(page)
        assert code == "VALIDATION" and reason in text, text
        assert "No LDAP source is set" in page.inner_text("main")
    form = page.get_by_test_id("ldap-source-form")
    form.get_by_label("Directory URL (ldaps:// or ldap://)").fill("ldaps://ldap.aduana.example")
    form.get_by_label("Base DN").fill("ou=contacts,dc=aduana,dc=mx")
    form.get_by_label("Bind password (empty keeps the stored one)").fill("s3cret-bind")
    form.get_by_label("Bind DN (empty: anonymous)").fill("cn=dief,dc=aduana,dc=mx")
    form.get_by_role("button", name="Save the LDAP source").click()
    assert "saved" in ok(page)
    main = page.inner_text("main")
    assert "ldaps://ldap.aduana.example" in main and "ou=contacts,dc=aduana,dc=mx" in main
    saved = page.get_by_test_id("ldap-source-form").text_content() or ""
    assert "A bind password is stored" in saved and "s3cret-bind" not in page.content()
    assert re.search(r"mail=|functional_email=", page.locator("#ls-map").input_value())
    page.context.close()


def test_the_secretariat_imports_statuses_from_a_csv_after_seeing_the_changes(
    console_stack: ConsoleStack, browser: Any, tmp_path: Any
) -> None:
    base = console_stack.url
    sec = console_stack.token("sec-1", roles=("secretariat",))
    status_of = "query($c: String!) { state(code: $c) { status } }"
    page = new_page(browser)
    sign_in(page, base, "sec-1", "secretariat")
    page.goto(f"{base}/secretariat")
    # a file with one bad row: refused whole, with its line and the API's code
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,status,signature,ratification,entry_into_force\n"
        "ISR,STATE_PARTY,2014-12-18,2026-03-01,2026-06-01\n"
        "CHN,STATE_PARTY,,,\n"
    )
    form = page.get_by_test_id("import-form")
    form.get_by_label("CSV file").set_input_files(str(bad))
    form.get_by_role("button", name="Show the changes").click()
    refused = page.get_by_test_id("import-refused").inner_text()
    assert "Row 3" in refused and "VALIDATION" in refused, refused
    assert page.get_by_test_id("import-preview").count() == 0

    good = tmp_path / "att.csv"
    good.write_text(
        "code,status,signature,ratification,entry_into_force\n"
        "# Israel ratified; China as it is\n"
        "ISR,STATE_PARTY,2014-12-18,2026-03-01,2026-06-01\n"
        "CHN,STATE_PARTY,,2020-07-06,2020-10-04\n"
    )
    form = page.get_by_test_id("import-form")
    form.get_by_label("CSV file").set_input_files(str(good))
    form.get_by_label("Note kept in each status history").fill("Depositary notification")
    form.get_by_role("button", name="Show the changes").click()
    preview = page.get_by_test_id("import-preview")
    rows = preview.locator("tbody tr")
    assert rows.count() == 1, preview.inner_text()
    assert "ISR" in rows.first.inner_text() and "SIGNATORY" in rows.first.inner_text()
    assert "2 rows read" in preview.inner_text()
    shot(page, "status-import")
    # the dry run wrote nothing
    assert graphql(console_stack, status_of, {"c": "ISR"}, sec)["state"]["status"] == "SIGNATORY"
    page.get_by_role("button", name="Apply these changes").click()
    assert "1 State changed" in ok(page)
    assert graphql(console_stack, status_of, {"c": "ISR"}, sec)["state"]["status"] == "STATE_PARTY"
    page.goto(f"{base}/directory/ISR")
    assert page.get_by_test_id("state-status").inner_text() == "STATE_PARTY"
    assert "Depositary notification" in (page.locator("main").text_content() or "")
    page.context.close()


def test_the_accessibility_check_finds_what_is_wrong(browser: Any) -> None:
    """The check can fail: a page with an unlabelled field, an image without text, no
    language and grey-on-white text is reported, rule by rule."""
    page = new_page(browser)
    page.set_content(
        "<html><head><title>t</title></head><body><main><h1>Broken</h1>"
        "<input name='q'><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='>"
        "<p style='color:#bbb;background:#fff'>faint text</p></main></body></html>"
    )
    found = {v["id"] for v in axe_violations(page)}
    assert {"label", "image-alt", "html-has-lang", "color-contrast"} <= found, found
    page.context.close()


def test_the_main_pages_meet_wcag_2_1_aa(
    console_stack: ConsoleStack, browser: Any, meeting: str, case: str
) -> None:
    """axe-core's WCAG 2.1 A and AA rules (and best practices: heading order, landmarks)
    on the main pages, signed in as a provider and as
    the Secretariat (every form of theirs shown), in English and in French."""
    base = console_stack.url
    pages = {
        ("fra-1", "delegate", "FRA"): [
            "/",
            "/directory",
            "/directory/FRA",
            "/meetings",
            f"/meetings/{meeting}",
            "/cases",
            f"/cases/{case}",
            "/cases/new",
        ],
        ("sec-1", "secretariat", ""): ["/", "/meetings", f"/meetings/{meeting}", "/secretariat"],
    }
    problems = {}
    signin = new_page(browser)
    signin.goto(f"{base}/signin")
    problems["/signin"] = axe_violations(signin)
    signin.context.close()
    for (subject, role, state), paths in pages.items():
        for locale in ("en-GB", "fr-FR"):
            page = new_page(browser, locale=locale)
            sign_in_as = subject if locale == "en-GB" else subject + "-fr"
            if locale == "en-GB":
                sign_in(page, base, sign_in_as, role, state)
            else:  # the sign-in page's labels are French: the fields by their ids
                page.goto(f"{base}/signin")
                page.locator("#subject").fill(sign_in_as)
                page.locator("#role").select_option(role)
                page.locator("#state").fill(state)
                page.locator("form[action='/signin'] button[type=submit]").click()
                page.wait_for_url(re.compile(r"^(?!.*/signin).*$"))
            assert page.locator("html").get_attribute("lang") == locale[:2]
            # in French, the pages with the most text (longer labels, other wrapping)
            for path in paths if locale == "en-GB" else paths[-4:]:
                page.goto(f"{base}{path}")
                page.locator("details").evaluate_all("ds => ds.forEach(d => d.open = true)")
                found = axe_violations(page)
                if found:
                    problems[f"{locale} {subject} {path}"] = found
            page.context.close()
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, json.dumps(problems, indent=1)[:6000]

    # keyboard: the first Tab reaches the skip link, which takes you to the content
    page = new_page(browser)
    sign_in(page, base, "fra-1", "delegate", "FRA")
    page.goto(f"{base}/cases")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    page.context.close()
