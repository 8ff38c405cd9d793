"""Pure rules of the contact directory (services/contacts/domain.py): no servers, no DB.

Rule numbers are those of the DIEF Terms of Reference.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.common.errors import Forbidden, ValidationFailed
from services.common.principal import Principal, Role
from services.contacts import domain
from services.contacts.domain import AttStatus, StatusDates

# --- callers -------------------------------------------------------------------------------


def caller(*roles: Role, state: str | None = None, participant: bool = False) -> Principal:
    return Principal(
        subject="someone", roles=frozenset(roles), state=state, participant=participant
    )


SECRETARIAT = caller(Role.SECRETARIAT)
CHAIR = caller(Role.CHAIR)
CHAIR_FROM_A_STATE = caller(Role.CHAIR, state="DEU", participant=True)
FRA_DELEGATE = caller(Role.DELEGATE, state="FRA", participant=True)
FRA_OFFICER = caller(Role.ENFORCEMENT_OFFICER, state="FRA", participant=True)
DEU_DELEGATE = caller(Role.DELEGATE, state="DEU", participant=True)
USA_DELEGATE = caller(Role.DELEGATE, state="USA", participant=False)
EXPERT = caller(Role.EXPERT)
EXPERT_FROM_A_STATE = caller(Role.EXPERT, state="FRA", participant=True)
SYSTEM = caller(Role.SYSTEM)
DELEGATE_WITHOUT_STATE = caller(Role.DELEGATE, participant=True)


def assert_forbidden(call, *args) -> Forbidden:
    with pytest.raises(Forbidden) as info:
        call(*args)
    assert info.value.code == "FORBIDDEN"
    assert info.value.extensions["code"] == "FORBIDDEN"
    return info.value


def assert_invalid(call, *args, field: str, **kwargs) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        call(*args, **kwargs)
    assert info.value.code == "VALIDATION"
    assert info.value.field == field
    assert info.value.extensions == {"code": "VALIDATION", "field": field}
    return info.value


# --- participation (rules 1 and 6) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "participates"),
    [(AttStatus.STATE_PARTY, True), (AttStatus.SIGNATORY, True), (AttStatus.NON_PARTY, False)],
)
def test_states_parties_and_signatories_participate_non_parties_do_not(
    status: AttStatus, participates: bool
) -> None:
    """Rules 1 and 6: States Parties and signatory States are the Forum's participants."""
    assert domain.is_participant(status) is participates


def test_every_att_status_has_a_participation_answer() -> None:
    """Rule 6: no status is left undecided."""
    assert {s for s in AttStatus if domain.is_participant(s)} == {
        AttStatus.STATE_PARTY,
        AttStatus.SIGNATORY,
    }


# --- status dates --------------------------------------------------------------------------

SIGNED = date(2013, 6, 3)
RATIFIED = date(2014, 4, 2)
IN_FORCE = date(2014, 12, 24)


@pytest.mark.parametrize(
    ("status", "dates"),
    [
        (
            AttStatus.STATE_PARTY,
            StatusDates(signature=SIGNED, ratification=RATIFIED, entry_into_force=IN_FORCE),
        ),
        (AttStatus.STATE_PARTY, StatusDates(ratification=RATIFIED)),  # accession
        (AttStatus.STATE_PARTY, StatusDates(signature=SIGNED, ratification=SIGNED)),
        (AttStatus.SIGNATORY, StatusDates(signature=SIGNED)),
        (AttStatus.NON_PARTY, StatusDates()),
        (AttStatus.NON_PARTY, StatusDates(signature=SIGNED, withdrawal=date(2019, 7, 18))),
    ],
)
def test_consistent_status_dates_are_accepted(status: AttStatus, dates: StatusDates) -> None:
    domain.check_status_dates(status, dates)


@pytest.mark.parametrize(
    ("status", "dates", "field"),
    [
        (AttStatus.STATE_PARTY, StatusDates(), "ratificationDate"),
        (AttStatus.STATE_PARTY, StatusDates(signature=SIGNED), "ratificationDate"),
        (AttStatus.SIGNATORY, StatusDates(), "signatureDate"),
        (AttStatus.SIGNATORY, StatusDates(ratification=RATIFIED), "signatureDate"),
        (
            AttStatus.STATE_PARTY,
            StatusDates(ratification=RATIFIED, withdrawal=date(2020, 1, 1)),
            "withdrawalDate",
        ),
        (
            AttStatus.SIGNATORY,
            StatusDates(signature=SIGNED, withdrawal=date(2020, 1, 1)),
            "withdrawalDate",
        ),
        (
            AttStatus.STATE_PARTY,
            StatusDates(signature=RATIFIED, ratification=SIGNED),
            "ratificationDate",
        ),
        (
            AttStatus.STATE_PARTY,
            StatusDates(ratification=RATIFIED, entry_into_force=RATIFIED - timedelta(days=1)),
            "entryIntoForceDate",
        ),
    ],
)
def test_each_inconsistent_status_date_is_refused_naming_its_field(
    status: AttStatus, dates: StatusDates, field: str
) -> None:
    assert_invalid(domain.check_status_dates, status, dates, field=field)


# --- freshness (rule 20) -------------------------------------------------------------------

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
DAYS = 120


def test_contact_verified_exactly_at_the_limit_is_not_stale() -> None:
    """Rule 20: staleness starts strictly after ``stale_after_days``."""
    assert domain.is_stale(NOW - timedelta(days=DAYS), NOW, DAYS) is False


def test_contact_verified_one_second_past_the_limit_is_stale() -> None:
    """Rule 20: contact details unverified for longer than the limit are stale."""
    assert domain.is_stale(NOW - timedelta(days=DAYS, seconds=1), NOW, DAYS) is True


def test_contact_never_verified_is_stale() -> None:
    """Rule 20: a contact nobody has verified is not known to be up to date."""
    assert domain.is_stale(None, NOW, DAYS) is True


def test_recently_verified_contact_is_fresh() -> None:
    assert domain.is_stale(NOW - timedelta(days=1), NOW, DAYS) is False
    assert domain.is_stale(NOW, NOW, DAYS) is False


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=1), -timedelta(seconds=1)])
def test_stale_before_agrees_with_is_stale(offset: timedelta) -> None:
    """Rule 20: the database cutoff (``last_verified_at < stale_before``) and ``is_stale``
    draw the same line."""
    cutoff = domain.stale_before(NOW, DAYS)
    assert cutoff == NOW - timedelta(days=DAYS)
    verified = cutoff + offset
    assert domain.is_stale(verified, NOW, DAYS) is (verified < cutoff)


# --- who may read the directory (rule 20) --------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "registry_participant"),
    [
        (SECRETARIAT, False),
        (CHAIR, False),
        (CHAIR_FROM_A_STATE, False),
        (FRA_DELEGATE, True),
        (FRA_OFFICER, True),
        (DEU_DELEGATE, True),
    ],
    ids=[
        "secretariat",
        "chair",
        "chair-with-state",
        "own-delegate",
        "own-officer",
        "other-participant-delegate",
    ],
)
def test_secretariat_chair_and_participants_representatives_read_the_directory(
    principal: Principal, registry_participant: bool
) -> None:
    """Rule 20: the directory is open to participants' representatives, the Chair and the
    Secretariat."""
    assert domain.may_read_directory(principal, registry_participant) is True
    domain.ensure_may_read_directory(principal, registry_participant)


def test_delegate_of_a_non_participant_cannot_read_the_directory() -> None:
    """Rules 6 and 20: a non-party State's delegate is refused, and told why."""
    assert domain.may_read_directory(USA_DELEGATE, False) is False
    refusal = assert_forbidden(domain.ensure_may_read_directory, USA_DELEGATE, False)
    assert "USA" in refusal.message


def test_registry_not_token_decides_participation_for_reading() -> None:
    """Rule 6: a token claiming participation does not help a State the registry lists as
    non-party."""
    claims_participant = caller(Role.DELEGATE, state="USA", participant=True)
    assert domain.may_read_directory(claims_participant, False) is False
    assert_forbidden(domain.ensure_may_read_directory, claims_participant, False)


@pytest.mark.parametrize(
    "principal",
    [EXPERT, EXPERT_FROM_A_STATE, SYSTEM, DELEGATE_WITHOUT_STATE],
    ids=["expert", "expert-with-state", "system", "delegate-without-state"],
)
@pytest.mark.parametrize("registry_participant", [True, False])
def test_experts_systems_and_stateless_delegates_cannot_read_the_directory(
    principal: Principal, registry_participant: bool
) -> None:
    """Rule 20: only participants' representatives, the Chair and the Secretariat read it."""
    assert domain.may_read_directory(principal, registry_participant) is False
    assert_forbidden(domain.ensure_may_read_directory, principal, registry_participant)


# --- who may manage a State's contacts (rule 20) -------------------------------------------


@pytest.mark.parametrize("participant", [True, False])
def test_secretariat_manages_any_states_contacts(participant: bool) -> None:
    """Rule 20: the Secretariat curates every State's contacts."""
    domain.ensure_may_manage(SECRETARIAT, "FRA", participant)
    domain.ensure_may_manage(SECRETARIAT, "USA", participant)


@pytest.mark.parametrize(
    "principal", [FRA_DELEGATE, FRA_OFFICER], ids=["delegate", "enforcement-officer"]
)
def test_participant_state_keeps_its_own_contacts(principal: Principal) -> None:
    """Rule 20: a State keeps its own contacts."""
    domain.ensure_may_manage(principal, "FRA", True)


@pytest.mark.parametrize(
    ("principal", "state_code", "participant"),
    [
        (DEU_DELEGATE, "FRA", True),
        (FRA_OFFICER, "DEU", True),
        (USA_DELEGATE, "USA", False),
        (caller(Role.DELEGATE, state="USA", participant=True), "USA", False),
        (USA_DELEGATE, "FRA", True),
        (CHAIR, "FRA", True),
        (CHAIR_FROM_A_STATE, "DEU", True),
        (EXPERT, "FRA", True),
        (EXPERT_FROM_A_STATE, "FRA", True),
        (SYSTEM, "FRA", True),
        (DELEGATE_WITHOUT_STATE, "FRA", True),
    ],
    ids=[
        "delegate-of-another-state",
        "officer-of-another-state",
        "non-participant-own-state",
        "non-participant-claiming-participation",
        "non-participant-other-state",
        "chair",
        "chair-with-state",
        "expert",
        "expert-with-state",
        "system",
        "delegate-without-state",
    ],
)
def test_everyone_else_is_refused_managing_a_states_contacts(
    principal: Principal, state_code: str, participant: bool
) -> None:
    """Rules 6 and 20: only the State's own participant representatives or the Secretariat
    change its authorities and contacts."""
    refusal = assert_forbidden(domain.ensure_may_manage, principal, state_code, participant)
    assert state_code in refusal.message


# --- who may change a State's ATT status ---------------------------------------------------


def test_secretariat_changes_att_status() -> None:
    """Rule 6: the Secretariat records who is a participant."""
    domain.ensure_may_change_status(SECRETARIAT)


@pytest.mark.parametrize(
    "principal",
    [
        CHAIR,
        CHAIR_FROM_A_STATE,
        FRA_DELEGATE,
        FRA_OFFICER,
        DEU_DELEGATE,
        USA_DELEGATE,
        EXPERT,
        SYSTEM,
    ],
    ids=[
        "chair",
        "chair-with-state",
        "own-delegate",
        "own-officer",
        "other-delegate",
        "non-participant-delegate",
        "expert",
        "system",
    ],
)
def test_nobody_but_the_secretariat_changes_att_status(principal: Principal) -> None:
    """Rule 6: a State cannot make itself a participant, nor can anyone else but the
    Secretariat."""
    assert_forbidden(domain.ensure_may_change_status, principal)


# --- validators ----------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "code"), [("FRA", "FRA"), ("fra", "FRA"), (" deu ", "DEU")])
def test_state_code_is_normalised_to_upper_case_alpha_3(raw: str, code: str) -> None:
    assert domain.state_code(raw) == code


@pytest.mark.parametrize("raw", ["", "FR", "FRAN", "XYZ", "F1A", "ÉTA", "250", "FR A"])
def test_state_code_not_iso_3166_alpha_3_is_refused(raw: str) -> None:
    assert_invalid(domain.state_code, raw, field="stateCode")


def test_state_code_refusal_names_the_given_field() -> None:
    assert_invalid(domain.state_code, "XYZ", "code", field="code")


def test_country_name_of_a_known_code() -> None:
    assert domain.country_name("FRA") == "France"
    with pytest.raises(ValidationFailed):
        domain.country_name("XYZ")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("npc@douane.gouv.fr", "npc@douane.gouv.fr"), ("  NPC@Douane.Gouv.FR ", "npc@douane.gouv.fr")],
)
def test_email_is_normalised(raw: str, normalised: str) -> None:
    assert domain.email(raw, "functionalEmail") == normalised


@pytest.mark.parametrize(
    "raw",
    ["", "no-at-sign", "a@b", "a@localhost", "a b@example.org", "a@@example.org", "@example.org"],
)
def test_invalid_email_is_refused_naming_its_field(raw: str) -> None:
    assert_invalid(domain.email, raw, "functionalEmail", field="functionalEmail")


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+33 1 23 45 67 89", "+33123456789"),
        ("+33123456789", "+33123456789"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+49 (30) 123456789", "+4930123456789"),
        ("+1-202-555-0143", "+12025550143"),
    ],
)
def test_phone_is_stored_in_e164(raw: str, e164: str) -> None:
    assert domain.phone(raw, "phone") == e164


@pytest.mark.parametrize("raw", ["01 23 45 67 89", "0123456789", "(202) 555-0143"])
def test_national_only_phone_number_is_refused(raw: str) -> None:
    """Contacts are reached across borders: the country code is required."""
    refusal = assert_invalid(domain.phone, raw, "mobile", field="mobile")
    assert "international" in refusal.message


@pytest.mark.parametrize(
    "raw", ["", "+", "+12", "+999 123", "+33 1", "not a number", "+33 1 23 45 67 89 00 00"]
)
def test_invalid_phone_number_is_refused(raw: str) -> None:
    assert_invalid(domain.phone, raw, "emergencyPhone", field="emergencyPhone")


def test_languages_keep_the_order_the_state_gave() -> None:
    """A State's order is its preference: French first stays French first."""
    result = domain.languages(["fr", "en", "pt", "es", "de", "ar"])
    assert result == ["fr", "en", "pt", "es", "de", "ar"]


def test_languages_are_lower_cased_and_deduplicated() -> None:
    assert domain.languages(["EN", "en", " fr ", "Fr", "de", "DE"]) == ["en", "fr", "de"]


def test_no_languages_is_an_empty_list() -> None:
    assert domain.languages([]) == []


@pytest.mark.parametrize("values", [["xx"], ["eng"], ["en", "e1"], ["en-GB"], [""]])
def test_unknown_language_is_refused(values: list[str]) -> None:
    assert_invalid(domain.languages, values, field="languages")


def test_too_many_languages_are_refused() -> None:
    codes = ["ar", "zh", "en", "fr", "ru", "es", "de", "it", "pt", "nl", "sv", "fi", "da"]
    assert len(codes) == domain.MAX_LANGUAGES + 1
    assert_invalid(domain.languages, codes, field="languages")
    assert len(domain.languages(codes[:-1])) == domain.MAX_LANGUAGES


def test_single_language_refusal_names_the_given_field() -> None:
    assert_invalid(domain.language, "xx", "language", field="language")


@pytest.mark.parametrize("name", ["Europe/Paris", "America/New_York", "UTC", "Asia/Kolkata"])
def test_iana_time_zone_is_accepted(name: str) -> None:
    assert domain.time_zone(name) == name
    assert domain.time_zone(f"  {name} ") == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Mars/Olympus",
        "europe/paris",
        "+02:00",
        "CEST",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/",
    ],
)
def test_unknown_time_zone_is_refused(name: str) -> None:
    assert_invalid(domain.time_zone, name, field="timeZone")


def test_host_specific_localtime_alias_is_refused() -> None:
    # Refused whether or not this host's zoneinfo has a 'localtime' entry.
    assert_invalid(domain.time_zone, "localtime", field="timeZone")


@pytest.mark.parametrize(
    ("raw", "fingerprint"),
    [
        ("abcd " * 10, "ABCD" * 10),
        ("0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567", "0123456789ABCDEF" * 2 + "01234567"),
        ("f" * 64, "F" * 64),
    ],
)
def test_pgp_fingerprint_is_compacted_and_upper_cased(raw: str, fingerprint: str) -> None:
    assert domain.pgp_fingerprint(raw) == fingerprint


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "A" * 39,
        "A" * 41,
        "A" * 50,
        "A" * 63,
        "A" * 65,
        "G" * 40,
        "0x" + "A" * 40,
        "A" * 20 + ":" + "A" * 20,
    ],
)
def test_malformed_pgp_fingerprint_is_refused(raw: str) -> None:
    assert_invalid(domain.pgp_fingerprint, raw, field="pgpFingerprint")


def test_text_is_stripped() -> None:
    assert domain.text("  Zoë Dupont \n", "name") == "Zoë Dupont"


def test_text_keeps_inner_newlines_for_multi_line_values() -> None:
    assert domain.text("1 rue X\nParis", "address", max_length=domain.MAX_TEXT) == "1 rue X\nParis"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t "])
def test_required_text_must_not_be_empty(raw: str) -> None:
    assert_invalid(domain.text, raw, "name", field="name")


def test_optional_text_may_be_empty() -> None:
    assert domain.text("  ", "title", required=False) == ""


def test_text_at_the_length_limit_is_accepted_one_more_is_refused() -> None:
    assert domain.text("x" * domain.MAX_NAME, "name") == "x" * domain.MAX_NAME
    assert_invalid(domain.text, "x" * (domain.MAX_NAME + 1), "name", field="name")
    assert_invalid(domain.text, "x" * 11, "note", max_length=10, required=False, field="note")


@pytest.mark.parametrize(
    "raw",
    ["a\x00b", "a\rb", "a\r\nb", "a\tb", "a\x1bb", "a\x7fb", "a\u200bb", "a\u2028b", "a\x85b"],
)
def test_text_with_control_characters_is_refused(raw: str) -> None:
    refusal = assert_invalid(domain.text, raw, "name", field="name")
    assert "control" in refusal.message


def test_contact_roles_are_deduplicated_in_declaration_order() -> None:
    roles = domain.ContactRole
    assert domain.contact_roles(
        [roles.ALTERNATE, roles.NATIONAL_POINT_OF_CONTACT, roles.ALTERNATE]
    ) == [roles.NATIONAL_POINT_OF_CONTACT, roles.ALTERNATE]
