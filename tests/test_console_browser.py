"""The web console in a real headless chromium, against the whole stack: a delegate sees a
meeting's timeline and uploads a document; a case shared with two named States is invisible
to a third; a non-party is refused everywhere with the reason; a State the Secretariat
withdraws loses access on its next page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.dev.servers import ServerProcess
from tests.console_support import (
    ConsoleStack,
    chromium,
    console_running,
    graphql,
    new_page,
    shot,
    sign_in,
)

pytestmark = pytest.mark.slow

TODAY = dt.datetime.now(dt.UTC).date()
# Less than 50 days ahead and no invitation: the invitation's deadline has passed (late).
MEETING_START = TODAY + dt.timedelta(days=40)


@pytest.fixture(scope="module")
def console_stack(
    mongodb: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleStack]:
    with console_running(mongodb.port, tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def meeting(console_stack: ConsoleStack) -> dict[str, str]:
    """A session, a meeting 40 days ahead with one agenda item (by the Secretariat)."""
    sec = console_stack.token("sec-1", roles=("secretariat",))
    session = graphql(
        console_stack,
        "mutation($i: SessionCreateInput!) { sessionCreate(input: $i) { session { id } } }",
        {
            "i": {
                "kind": "PREPARATORY_MEETING",
                "name": "Console test meetings",
                "startDate": MEETING_START.isoformat(),
                "endDate": (MEETING_START + dt.timedelta(days=3)).isoformat(),
            }
        },
        sec,
    )["sessionCreate"]["session"]["id"]
    meeting_id = graphql(
        console_stack,
        "mutation($i: MeetingScheduleInput!) { meetingSchedule(input: $i) { meeting { id } } }",
        {
            "i": {
                "sessionId": session,
                "startDate": MEETING_START.isoformat(),
                "endDate": (MEETING_START + dt.timedelta(days=1)).isoformat(),
                "venue": "Geneva, CICG",
                "decidedBy": "President of CSP",
                "decidedOn": TODAY.isoformat(),
            }
        },
        sec,
    )["meetingSchedule"]["meeting"]["id"]
    item = graphql(
        console_stack,
        "mutation($i: AgendaItemAddInput!) { agendaItemAdd(input: $i) { agendaItem { id } } }",
        {"i": {"meetingId": meeting_id, "title": "Exchange of information on diversion"}},
        sec,
    )["agendaItemAdd"]["agendaItem"]["id"]
    return {"id": meeting_id, "item": item}


def pdf_of(size: int) -> bytes:
    """A PDF of about ``size`` bytes (one page, a long comment stream), varied content."""
    head = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    body = b"".join(b"%% line %08d of the briefing note\n" % n for n in range(size // 32))
    return head + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def test_a_delegate_sees_the_timeline_with_the_late_item_and_uploads_a_document(
    console_stack: ConsoleStack, browser: Any, meeting: dict[str, str], tmp_path: Any
) -> None:
    base = console_stack.url
    page = new_page(browser)
    sign_in(page, base, "fra-1", "delegate", "FRA")
    caller = page.get_by_test_id("caller")
    assert "FRA" in caller.inner_text() and "delegate" in caller.inner_text()
    assert "participant" in caller.inner_text()
    # Home: the upcoming meeting, its late invitation marked.
    assert "Console test meetings" in page.inner_text("main")
    assert page.locator(".timeline tr.late").count() >= 1
    shot(page, "home", docs=True)

    page.get_by_role("link", name="Meetings", exact=True).click()
    page.get_by_test_id("meetings").get_by_role("link").first.click()
    page.wait_for_url(f"**/meetings/{meeting['id']}")
    timeline = page.get_by_test_id("timeline")
    rows = timeline.locator("tbody tr")
    assert rows.count() >= 5
    invitation = timeline.locator("tr", has_text="Invitation")
    assert "late" in invitation.inner_text() and "9" in invitation.inner_text()

    # France announces a presentation involving Germany; the Secretariat puts it on the
    # agenda; France attaches its document to that item (rule 10).
    page.get_by_label("Title", exact=True).fill("Rifles re-exported without authorisation")
    page.get_by_label("Involved States (ISO3, comma-separated)").fill("DEU")
    page.get_by_role("button", name="Announce").click()
    assert "recorded" in page.get_by_test_id("flash-ok").inner_text()
    page.get_by_role("button", name="Notify the involved States").click()
    assert "notified" in page.get_by_test_id("flash-ok").inner_text()
    assert "notified in time" in page.get_by_test_id("presentation").inner_text()
    presentation = graphql(
        console_stack,
        "query($id: ID!) { meeting(id: $id) { presentations { edges { node { id } } } } }",
        {"id": meeting["id"]},
        console_stack.token("fra-1", "FRA"),
    )["meeting"]["presentations"]["edges"][0]["node"]["id"]
    graphql(
        console_stack,
        "mutation($i: PresentationRefInput!) { presentationSchedule(input: $i) "
        "{ agendaItem { id } } }",
        {"i": {"id": presentation}},
        console_stack.token("sec-1", roles=("secretariat",)),
    )
    page.reload()
    page.get_by_label("Agenda item").select_option(
        label=page.locator("#doc-item option", has_text="Rifles").inner_text()
    )
    # A normal-size PDF (well past the 256 kB a JSON body may carry): it goes up as a
    # multipart request, the file streamed from the console's spool to the gateway.
    document = tmp_path / "briefing-note.pdf"
    content = pdf_of(1_600_000)
    document.write_bytes(content)
    page.locator("#doc-file").set_input_files(str(document))
    page.get_by_role("button", name="Upload", exact=True).click()
    flash = page.locator(".flash").first
    flash.wait_for()
    assert flash.get_attribute("data-testid") == "flash-ok", flash.inner_text()
    link = page.get_by_test_id("document-link").filter(has_text="briefing-note.pdf")
    assert link.count() == 1
    shot(page, "meeting", docs=True)
    # The download goes through the console to the gateway's file route, with the session.
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == content

    # Dates in the browser's time zone (this context's: Europe/Paris), until the user
    # picks another one in the header; the choice is theirs at the next sign-in too.
    assert "Europe/Paris" in page.get_by_test_id("zone-in-use").inner_text()
    uploaded = page.get_by_test_id("document-time").first
    at = uploaded.get_attribute("datetime")
    assert uploaded.inner_text() == shown_in(at, "Europe/Paris") != shown_in(at, "Asia/Tokyo")
    page.get_by_label("Time zone").fill("Asia/Tokyo")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(f"**/meetings/{meeting['id']}")
    assert page.get_by_test_id("document-time").first.inner_text() == shown_in(at, "Asia/Tokyo")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, "fra-1", "delegate", "FRA")
    page.goto(f"{base}/meetings/{meeting['id']}")
    assert page.get_by_test_id("document-time").first.inner_text() == shown_in(at, "Asia/Tokyo")
    page.context.close()


def shown_in(at: str | None, zone: str) -> str:
    """A DateTime as an English page shows it in ``zone``."""
    from console import i18n

    assert at
    tokens = (i18n.locale_var.set("en"), i18n.zone_var.set(zone))
    try:
        return i18n.format_when(at)
    finally:
        i18n.locale_var.reset(tokens[0])
        i18n.zone_var.reset(tokens[1])


@pytest.fixture(scope="module")
def shared_case(console_stack: ConsoleStack, browser: Any) -> dict[str, str]:
    """France shares a case with Germany and the United Kingdom through the console."""
    base = console_stack.url
    page = new_page(browser)
    sign_in(page, base, "fra-2", "delegate", "FRA")
    page.goto(f"{base}/cases/new")
    page.locator("#c-title").fill("Carbines diverted through Malta zanzibar")
    page.locator("#c-summary").fill("Carbines left the licensed route in Valletta.")
    page.get_by_label("trafficking routes").check()
    page.get_by_label("Named States only").check()
    page.get_by_test_id("audience-states").fill("DEU, GBR")
    page.locator("#only-METHODS").fill("DEU")
    page.locator("#c-methods").fill("False end-user certificates.")
    page.get_by_role("button", name="Preview who will see what").click()
    preview = page.get_by_test_id("preview")
    text = preview.inner_text()
    assert "DEU" in text and "GBR" in text and "ITA" not in text, text
    gbr_row = preview.locator("tr", has_text="GBR")
    assert "methods" in gbr_row.locator("td").nth(2).inner_text()  # withheld from GBR
    shot(page, "case-preview", docs=True, focus=preview)
    page.get_by_label("Share it now").check()
    page.get_by_test_id("create-case").click()
    flash = page.locator(".flash, [data-testid=refusals]").first
    flash.wait_for()
    assert flash.get_attribute("data-testid") == "flash-ok", flash.inner_text()
    assert "shared" in flash.inner_text()
    case_id = page.url.rsplit("/", 1)[1]
    # an attachment, through the gateway's upload route
    page.locator("#att-file").set_input_files(
        files=[{"name": "route.txt", "mimeType": "text/plain", "buffer": b"Valletta, Tripoli\n"}]
    )
    page.get_by_role("button", name="Attach", exact=True).click()
    page.locator(".flash", has_text="route.txt").wait_for()  # the next page's, not this one's
    assert page.get_by_test_id("flash-ok").inner_text() == "Attached route.txt."
    assert page.get_by_role("link", name="route.txt").count() == 1
    page.context.close()
    return {"id": case_id, "title": "Carbines diverted through Malta zanzibar"}


def test_the_named_states_read_the_case_and_see_withheld_sections_as_withheld(
    console_stack: ConsoleStack, browser: Any, shared_case: dict[str, str]
) -> None:
    base = console_stack.url
    page = new_page(browser)
    sign_in(page, base, "gbr-1", "delegate", "GBR")
    page.goto(f"{base}/cases?words=zanzibar")
    page.get_by_role("link", name=shared_case["title"]).click()
    assert page.get_by_test_id("case-title").inner_text() == shared_case["title"]
    methods = page.locator("[data-section=METHODS]")
    assert methods.get_by_test_id("withheld").count() == 1
    assert "False end-user certificates" not in page.inner_text("main")
    assert "Carbines left the licensed route" in page.inner_text("main")
    shot(page, "case-withheld", docs=True)
    # asks before using it (rule 16)
    page.get_by_label("Ask to use this information for").select_option("INVESTIGATION")
    page.get_by_label("Justification").fill("A related investigation in Felixstowe.")
    page.get_by_role("button", name="Send the request").click()
    assert "sent" in page.get_by_test_id("flash-ok").inner_text()
    page.context.close()

    # France, the provider, is told on its home page, answers, and sees who read the case
    provider = new_page(browser)
    sign_in(provider, base, "fra-3", "delegate", "FRA")
    assert "GBR asks to use your case" in provider.get_by_test_id("waiting").inner_text()
    provider.get_by_role("link", name="answer").first.click()
    provider.get_by_label("Decision").select_option("AGREED")
    provider.get_by_role("button", name="Decide").click()
    assert "decision" in provider.get_by_test_id("flash-ok").inner_text()
    audit = provider.get_by_test_id("audit").inner_text()
    assert "GBR" in audit and "gbr-1" in audit
    provider.context.close()


def test_a_third_participant_finds_no_trace_of_the_case(
    console_stack: ConsoleStack, browser: Any, shared_case: dict[str, str]
) -> None:
    base = console_stack.url
    page = new_page(browser)
    sign_in(page, base, "ita-1", "delegate", "ITA")
    page.goto(f"{base}/cases")
    assert shared_case["title"] not in page.inner_text("main")
    assert page.get_by_test_id("case-count").inner_text().startswith("0")
    page.goto(f"{base}/cases?words=zanzibar")
    assert page.get_by_test_id("case-count").inner_text().startswith("0")
    assert "zanzibar" not in page.get_by_test_id("cases").inner_text().lower()
    response = page.goto(f"{base}/cases/{shared_case['id']}")
    assert response is not None and response.status == 404
    body = page.inner_text("main")
    assert "No case with this id is shared with you." in body and "rule 15" in body
    assert "Carbines" not in page.content()
    # exactly as for an id that does not exist
    unknown = page.goto(f"{base}/cases/Q2FzZTpkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY=")
    assert unknown is not None and unknown.status == 404
    assert "No case with this id is shared with you." in page.inner_text("main")
    page.context.close()


def test_a_non_party_is_refused_everywhere_with_the_reason(
    console_stack: ConsoleStack, browser: Any, meeting: dict[str, str], shared_case: dict[str, str]
) -> None:
    base = console_stack.url
    page = new_page(browser)
    sign_in(page, base, "usa-1", "delegate", "USA")
    assert "not a participant" in page.get_by_test_id("caller-refusal").inner_text()
    for path in (
        "/",
        "/directory",
        "/meetings",
        f"/meetings/{meeting['id']}",
        "/cases",
        f"/cases/{shared_case['id']}",
        "/directory/FRA",
    ):
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status < 500, path
        refusals = page.get_by_test_id("refusals")
        assert refusals.count() == 1, path
        assert "not a participant" in refusals.inner_text(), path
        assert "FORBIDDEN" in refusals.inner_text(), path
        assert "Carbines" not in page.content() and "Geneva, CICG" not in page.content(), path
    shot(page, "non-party", docs=True)
    page.context.close()


def test_a_withdrawn_state_loses_access_on_its_next_page(
    console_stack: ConsoleStack, browser: Any, meeting: dict[str, str]
) -> None:
    base = console_stack.url
    spain = new_page(browser)
    sign_in(spain, base, "esp-1", "delegate", "ESP")
    spain.goto(f"{base}/meetings/{meeting['id']}")
    assert spain.get_by_test_id("timeline").count() == 1

    secretariat = new_page(browser)
    sign_in(secretariat, base, "sec-1", "secretariat")
    secretariat.get_by_role("link", name="Secretariat", exact=True).click()
    form = secretariat.get_by_test_id("status-form")
    form.get_by_label("State (ISO3)").fill("ESP")
    form.get_by_label("New status").select_option("NON_PARTY")
    form.get_by_label("Withdrawal date").fill(TODAY.isoformat())
    form.get_by_label("Note").fill("Withdrawal notified to the depositary")
    form.get_by_role("button", name="Change the status").click()
    assert "ESP" in secretariat.get_by_test_id("flash-ok").inner_text()
    shot(secretariat, "secretariat", docs=True)

    # The gateway follows the status change from its event; the next page is refused.
    deadline = dt.datetime.now() + dt.timedelta(seconds=60)
    while True:
        spain.goto(f"{base}/meetings/{meeting['id']}")
        if spain.get_by_test_id("refusals").count():
            break
        assert dt.datetime.now() < deadline, "the withdrawn State still sees the meeting"
        spain.wait_for_timeout(250)
    assert spain.get_by_test_id("timeline").count() == 0
    assert "not a participant" in spain.get_by_test_id("refusals").inner_text()
    assert "Geneva, CICG" not in spain.content()
    spain.context.close()
    secretariat.context.close()
