"""The console's pure parts: who will see what of a case, dates in the user's zone and
language, what the rules allow a caller, and the reasons given for a gateway's refusal."""

from __future__ import annotations

import pytest

from console import i18n
from console.allowances import allowances, policy_reason
from console.audience import Audience, preview, unknown_states

PARTICIPANTS = ["DEU", "ESP", "FRA", "GBR", "ITA"]


def test_named_states_see_the_case_and_a_stricter_section_only_where_named() -> None:
    rows = preview(
        "FRA",
        Audience("NAMED_STATES", frozenset({"DEU", "GBR"})),
        {"ACTORS": Audience("NAMED_STATES", frozenset({"DEU"}))},
        PARTICIPANTS,
    )
    by_state = {r.who: r for r in rows}
    assert set(by_state) == {"DEU", "GBR"}  # ITA and ESP: no trace; FRA reads all anyway
    assert "ACTORS" in by_state["DEU"].sees and by_state["DEU"].withheld == ()
    assert by_state["GBR"].withheld == ("ACTORS",)


def test_the_secretariat_reads_only_where_included() -> None:
    rows = preview("FRA", Audience("ALL_PARTICIPANTS"), {}, PARTICIPANTS)
    assert "SECRETARIAT" not in {r.who for r in rows} and len(rows) == 4
    rows = preview(
        "FRA",
        Audience("ALL_PARTICIPANTS", include_secretariat=True),
        {"ROUTES": Audience("NAMED_STATES", frozenset({"DEU"}), include_secretariat=False)},
        PARTICIPANTS,
    )
    secretariat = next(r for r in rows if r.who == "SECRETARIAT")
    assert secretariat.withheld == ("ROUTES",)


def test_named_states_that_are_not_participants_are_pointed_out() -> None:
    case = Audience("NAMED_STATES", frozenset({"DEU", "USA"}))
    assert unknown_states(case, {}, PARTICIPANTS) == ["USA"]
    assert [r.who for r in preview("FRA", case, {}, PARTICIPANTS)] == ["DEU"]


@pytest.mark.parametrize(
    ("locale", "zone", "expected"),
    [
        ("en", "UTC", "Jun 1, 2027, 10:30:00\u202fPM"),
        ("fr", "Europe/Paris", "2 juin 2027, 00:30:00"),
        ("es", "America/Mexico_City", "1 jun 2027, 16:30:00"),
    ],
)
def test_times_are_shown_in_the_users_zone_and_language(
    locale: str, zone: str, expected: str
) -> None:
    tokens = (i18n.locale_var.set(locale), i18n.zone_var.set(zone))
    try:
        assert i18n.format_when("2027-06-01T22:30:00Z") == expected
        assert i18n.format_when(None) == "" and i18n.format_when("garbage") == "garbage"
    finally:
        i18n.locale_var.reset(tokens[0])
        i18n.zone_var.reset(tokens[1])


def test_the_browsers_language_is_taken_when_it_is_a_working_language() -> None:
    assert i18n.negotiate("de-DE,fr;q=0.8,es;q=0.9") == "es"
    assert i18n.negotiate("de, ru") == "en"
    assert i18n.negotiate("fr;q=abc, es;q=0.1") == "es"
    assert i18n.negotiate(None) == "en"


def test_every_interface_text_is_translated_into_french_and_spanish() -> None:
    from babel.messages.pofile import read_po

    for locale in ("fr", "es"):
        with (i18n.TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
            catalog = read_po(f)
        forms = catalog.num_plurals
        missing = [
            m.id
            for m in catalog
            if m.id
            and (
                not m.string
                if isinstance(m.string, str)
                else len(m.string) < forms or not all(m.string)
            )
        ]
        assert not missing, (locale, missing[:10])
        assert not [m.id for m in catalog if m.id and m.fuzzy], locale


def test_a_non_participant_hears_why_and_a_participant_what_they_may_do() -> None:
    assert allowances(("delegate",), "USA", False)[0][1] == 6
    allowed = allowances(("delegate",), "FRA", True)
    assert {rule for _, rule in allowed} >= {12, 15, 16, 20}
    assert allowances(("secretariat",), None, None)[0][1] == 20


def test_a_policy_refusal_is_explained_in_the_rules_words() -> None:
    reason = policy_reason(
        "You may not see Query.cases (participant or secretariat).", ("delegate",)
    )
    assert reason is not None and "not a participant" in reason
    expert = policy_reason("You may not see Query.states (directory_reader).", ("expert",))
    assert expert is not None and "rule 20" in expert
    assert policy_reason("No case with this id is shared with you.", ("delegate",)) is None


def test_every_text_of_the_sources_is_in_the_catalogues() -> None:
    """A text added to a page or a module without its translation fails here (run
    ``make console-messages`` and translate the new entries)."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    root = i18n.TRANSLATIONS.parent
    found = {
        message[0] if isinstance(message, tuple) else message
        for _, _, message, _, _ in extract_from_dir(
            str(root),
            method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
            options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        )
    }
    assert len(found) > 300
    for locale in ("fr", "es"):
        with (i18n.TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
            known = {m.id[0] if isinstance(m.id, tuple) else m.id for m in read_po(f)}
        assert not sorted(found - known), (locale, sorted(found - known)[:10])


def test_an_actor_or_item_is_added_or_removed_and_a_stale_removal_changes_nothing() -> None:
    from console.pages.cases import edited_list

    actors = [{"role": "BROKER", "name": "A", "kind": "COMPANY", "country": None}]
    field, added = edited_list(
        actors, "actor_add", {"role": "CARRIER", "name": "B", "kind": "PERSON", "country": "mlt"}
    ) or ("", [])
    assert field == "actors" and [a["name"] for a in added] == ["A", "B"]
    assert added[1]["country"] == "MLT" and actors == actors[:1]  # the original kept
    assert edited_list(actors, "actor_remove", {"index": "0", "match": "A"}) == ("actors", [])
    for index in ("1", "-1", "x", "", "99999999999999999999"):
        assert edited_list(actors, "actor_remove", {"index": index, "match": "A"}) is None
    # the list changed since the page was drawn: index 0 is someone else now
    assert edited_list(actors, "actor_remove", {"index": "0", "match": "B"}) is None
    field, items = edited_list(
        [], "item_add", {"kind": "AMMUNITION_MUNITIONS", "quantity": "12", "markings": "a, b;c"}
    ) or ("", [])
    assert (
        field == "items" and items[0]["quantity"] == 12 and items[0]["markings"] == ["a", "b", "c"]
    )
    # a quantity that is not a count is left for the API to see as missing, not a crash
    for bad in ("-3", "1e9", "12345678901", "abc"):
        assert edited_list([], "item_add", {"kind": "WARSHIPS", "quantity": bad}) == (
            "items",
            [{"kind": "WARSHIPS", "description": None, "quantity": None, "markings": []}],
        )


def test_the_ldap_source_form_keeps_the_stored_password_when_left_empty() -> None:
    from console.pages.directory import ldap_source_input

    form = {
        "url": "ldaps://ldap.example",
        "base_dn": "dc=example",
        "authority": "QXV0aG9yaXR5OjE=",
        "mapping": "functional_email=mail\nphone=\nnot a line\n=orphan",
        "verify": "on",
    }
    given = ldap_source_input(lambda name: form.get(name, ""), "FRA")
    assert given["bindPassword"] is None and given["bindDn"] is None
    assert given["verifyCertificates"] is True and given["enabled"] is False
    assert given["mapping"] == [
        {"field": "functional_email", "attribute": "mail"},
        {"field": "phone", "attribute": None},
    ]
    assert given["filter"] == "(objectClass=inetOrgPerson)" and given["stateCode"] == "FRA"
