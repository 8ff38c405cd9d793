"""vCard 4.0 export (services/contacts/vcard.py, RFC 6350) from unsaved documents: no DB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from bson import ObjectId

from services.contacts import vcard
from services.contacts.documents import Authority, Contact
from services.contacts.domain import AuthorityKind, ContactRole

FINGERPRINT = "0123456789ABCDEF0123456789ABCDEF01234567"


def authority(**fields: Any) -> Authority:
    doc = Authority(
        **{
            "state_code": "FRA",
            "kind": AuthorityKind.CUSTOMS,
            "name": "Direction générale des douanes",
            **fields,
        }
    )
    doc.pk = ObjectId()
    return doc


def contact(auth: Authority | None = None, **fields: Any) -> Contact:
    doc = Contact(
        **{
            "authority_id": auth.pk if auth else ObjectId(),
            "state_code": "FRA",
            "authority_kind": AuthorityKind.CUSTOMS,
            "name": "Zoë Dupont",
            "functional_email": "npc@douane.gouv.fr",
            **fields,
        }
    )
    doc.pk = ObjectId()
    return doc


def full_contact(auth: Authority) -> Contact:
    return contact(
        auth,
        title="Head of unit",
        personal_email="zoe.dupont@douane.gouv.fr",
        phone="+33123456789",
        mobile="+33612345678",
        emergency_phone="+33123456780",
        languages=["fr", "en", "de"],
        time_zone="Europe/Paris",
        pgp_fingerprint=FINGERPRINT,
        roles=[ContactRole.NATIONAL_POINT_OF_CONTACT, ContactRole.ALTERNATE],
        updated_at=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    )


def physical_lines(card: str) -> list[str]:
    assert card.endswith("\r\n")
    return card[:-2].split("\r\n")


def unfold(card: str) -> str:
    """RFC 6350 3.2: a CRLF followed by one space or tab is removed."""
    return card.replace("\r\n ", "").replace("\r\n\t", "")


def content_lines(card: str) -> list[str]:
    return physical_lines(unfold(card))


def unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars)
            out.append("\n" if nxt in "nN" else nxt)
        else:
            out.append(ch)
    return "".join(out)


def prop(card: str, name: str) -> list[str]:
    """The values of every content line whose name (before ';' or ':') is ``name``."""
    values = []
    for line in content_lines(card):
        head, _, value = line.partition(":")
        if head.split(";")[0] == name:
            values.append(value)
    return values


# --- structure -----------------------------------------------------------------------------


def test_every_line_ends_with_crlf_and_no_bare_lf_or_cr() -> None:
    card = vcard.contact_card(full_contact(authority()), authority())
    assert card.endswith("\r\n")
    assert "\n" not in card.replace("\r\n", "")
    assert "\r" not in card.replace("\r\n", "")


def test_card_begins_with_version_4_and_has_fn_and_end() -> None:
    auth = authority()
    c = contact(auth)
    lines = content_lines(vcard.contact_card(c, auth))
    assert lines[0] == "BEGIN:VCARD"
    assert lines[1] == "VERSION:4.0"  # RFC 6350 6.7.9: immediately after BEGIN
    assert lines[-1] == "END:VCARD"
    assert f"UID:urn:dief:contact:{c.pk}" in lines
    assert "FN:Zoë Dupont" in lines
    assert "KIND:individual" in lines
    assert "ORG:Direction générale des douanes" in lines


def test_minimal_contact_has_only_what_is_known() -> None:
    c = contact(updated_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    card = vcard.contact_card(c, None)
    assert content_lines(card) == [
        "BEGIN:VCARD",
        "VERSION:4.0",
        f"UID:urn:dief:contact:{c.pk}",
        "FN:Zoë Dupont",
        "KIND:individual",
        "EMAIL;TYPE=work;PREF=1:npc@douane.gouv.fr",
        "REV:20250102T030405Z",
        "END:VCARD",
    ]


def test_full_contact_properties() -> None:
    auth = authority()
    card = vcard.contact_card(full_contact(auth), auth)
    assert prop(card, "TITLE") == ["Head of unit"]
    assert content_lines(card).count("EMAIL;TYPE=work;PREF=1:npc@douane.gouv.fr") == 1
    assert "EMAIL;TYPE=work:zoe.dupont@douane.gouv.fr" in content_lines(card)
    assert [line for line in content_lines(card) if line.startswith("LANG")] == [
        "LANG;PREF=1:fr",
        "LANG;PREF=2:en",
        "LANG;PREF=3:de",
    ]
    assert "TZ;VALUE=text:Europe/Paris" in content_lines(card)
    assert prop(card, "CATEGORIES") == ["NATIONAL_POINT_OF_CONTACT,ALTERNATE"]
    assert prop(card, "REV") == ["20240506T070809Z"]


def test_tel_uses_tel_uris_with_e164_numbers() -> None:
    """RFC 6350 6.4.1 with RFC 3966 tel: URIs; numbers are stored in E.164."""
    card = vcard.contact_card(full_contact(authority()), None)
    tels = [line for line in content_lines(card) if line.startswith("TEL")]
    assert tels == [
        'TEL;VALUE=uri;TYPE="voice":tel:+33123456789',
        'TEL;VALUE=uri;TYPE="cell":tel:+33612345678',
        'TEL;VALUE=uri;TYPE="voice,x-emergency":tel:+33123456780',
    ]
    for value in prop(card, "TEL"):
        assert value.startswith("tel:+")
        assert value[len("tel:+") :].isdigit()


def test_pgp_key_line_carries_the_fingerprint_as_openpgp4fpr() -> None:
    card = vcard.contact_card(contact(pgp_fingerprint=FINGERPRINT), None)
    keys = [line for line in content_lines(card) if line.startswith("KEY")]
    assert keys == [f"KEY;VALUE=text:openpgp4fpr:{FINGERPRINT.lower()}"]


def test_no_pgp_key_line_without_a_fingerprint() -> None:
    assert prop(vcard.contact_card(contact(), None), "KEY") == []


def test_state_cards_concatenates_one_card_per_contact_with_its_authority() -> None:
    customs, police = authority(name="Douane"), authority(name="Police nationale")
    people = [contact(customs, name="A"), contact(police, name="B"), contact(name="C")]
    text = vcard.state_cards(people, {customs.pk: customs, police.pk: police})
    lines = content_lines(text)
    assert lines.count("BEGIN:VCARD") == lines.count("END:VCARD") == 3
    assert prop(text, "FN") == ["A", "B", "C"]
    assert prop(text, "ORG") == ["Douane", "Police nationale"]  # C's authority is unknown


def test_state_cards_of_no_contacts_is_empty() -> None:
    assert vcard.state_cards([], {}) == ""


# --- escaping (RFC 6350 3.4) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a,b", "a\\,b"),
        ("a;b", "a\\;b"),
        ("a\\b", "a\\\\b"),
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\nb"),
        ("\\,", "\\\\\\,"),
        ("plain: text", "plain: text"),
        ("", ""),
    ],
)
def test_text_values_escape_backslash_comma_semicolon_and_newline(raw: str, escaped: str) -> None:
    assert vcard.escape(raw) == escaped


@pytest.mark.parametrize("raw", ['Dupont, Zoë; "Z"\\n\nJr.', "\\\\;;,,\n\n", "a\\,b"])
def test_escaping_is_reversible(raw: str) -> None:
    assert unescape(vcard.escape(raw)) == raw


def test_names_are_escaped_in_fn_org_title_and_tz() -> None:
    auth = authority(name="Douane; DGDDI, Paris\\Nord")
    c = contact(auth, name="Dupont, Zoë\nJr\\", title="Chef; adjoint", time_zone="A,B")
    card = vcard.contact_card(c, auth)
    assert prop(card, "FN") == ["Dupont\\, Zoë\\nJr\\\\"]
    assert prop(card, "ORG") == ["Douane\\; DGDDI\\, Paris\\\\Nord"]
    assert prop(card, "TITLE") == ["Chef\\; adjoint"]
    assert prop(card, "TZ") == ["A\\,B"]
    assert unescape(prop(card, "FN")[0]) == c.name


# --- folding (RFC 6350 3.2) ----------------------------------------------------------------


def octets(line: str) -> int:
    return len(line.encode("utf-8"))


@pytest.mark.parametrize(
    "line",
    [
        "FN:" + "x" * 72,  # exactly 75 octets: not folded
        "FN:" + "x" * 73,  # 76 octets
        "FN:" + "x" * 500,
        "FN:" + "é" * 80,  # 2-octet characters
        "FN:" + "中文" * 60,  # 3-octet characters
        "FN:" + "🙂" * 40,  # 4-octet characters
        "FN:" + "ab€🙂" * 30,  # a mix, so boundaries fall everywhere
        "FN:x" + "é" * 36,  # 2-octet character straddling octet 75
        "",
    ],
)
def test_folded_lines_are_at_most_75_octets_and_unfold_to_the_original(line: str) -> None:
    folded = vcard.fold(line)
    parts = folded.split("\r\n")
    for i, part in enumerate(parts):
        assert octets(part) <= 75, part
        if i:
            assert part.startswith(" ") and len(part) > 1
    assert unfold(folded) == line
    if octets(line) <= 75:
        assert folded == line


def test_folding_never_splits_a_multi_byte_character() -> None:
    line = "FN:" + "x" + "🙂" * 50
    raw = vcard.fold(line).encode("utf-8")
    for physical in raw.split(b"\r\n"):
        physical.decode("utf-8")  # would raise on a split character
    # And the lines are filled as far as whole characters allow.
    first = raw.split(b"\r\n")[0]
    assert 72 <= len(first) <= 75


def test_long_contact_card_lines_are_folded_and_unfold_to_the_content() -> None:
    auth = authority(name="Service " + "très long, " * 20)
    c = contact(auth, name="Zoë " + "Ünïcödé; " * 30)
    card = vcard.contact_card(c, auth)
    for line in physical_lines(card):
        assert octets(line) <= 75
    assert len(physical_lines(card)) > len(content_lines(card))
    assert unescape(prop(card, "FN")[0]) == c.name
    assert unescape(prop(card, "ORG")[0]) == auth.name


def test_rev_is_in_utc_whatever_the_offset_of_updated_at() -> None:
    paris = timezone(timedelta(hours=2))
    c = contact(updated_at=datetime(2024, 5, 6, 7, 8, 9, tzinfo=paris))
    assert prop(vcard.contact_card(c, None), "REV") == ["20240506T050809Z"]


def test_lone_carriage_return_is_escaped() -> None:
    assert "\r" not in vcard.escape("a\rb")
