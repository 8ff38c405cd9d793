"""The published tree, without any server: DNs, entries, the participants-only rule and the
plan that turns one tree into another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from bson import ObjectId

from services.contacts.documents import Authority, Contact, State
from services.contacts.domain import AttStatus, AuthorityKind, ContactRole
from services.contacts.ldap_tree import (
    Add,
    Delete,
    DirectoryLayout,
    Entry,
    Modify,
    Scope,
    affected_state,
    attribute_changes,
    authority_entry,
    contact_entry,
    desired_tree,
    dn_key,
    full_scope,
    generalized_time,
    ldap_mail,
    participants_group,
    plan,
    postal_address,
    state_scope,
)

BASE = "dc=dief,dc=test"
LAYOUT = DirectoryLayout(BASE)


def state(code: str, status: AttStatus = AttStatus.STATE_PARTY, name: str = "") -> State:
    return State(code=code, name=name or f"State {code}", status=status)


def authority(code: str, name: str = "Customs", **fields: object) -> Authority:
    return Authority(
        id=ObjectId(), state_code=code, kind=AuthorityKind.CUSTOMS, name=name, **fields
    )


def contact(of: Authority, name: str = "Jean Dupont", **fields: object) -> Contact:
    fields.setdefault("functional_email", f"{ObjectId()}@douane.example")
    return Contact(
        id=ObjectId(),
        authority_id=of.pk,
        state_code=of.state_code,
        authority_kind=of.kind,
        name=name,
        **fields,
    )


# --- DNs ---------------------------------------------------------------------------------


def test_dns_nest_contacts_under_their_authority_under_their_state() -> None:
    customs = authority("FRA")
    person = contact(customs)
    assert LAYOUT.states_dn == "ou=states,dc=dief,dc=test"
    assert LAYOUT.state_dn("FRA") == "ou=FRA,ou=states,dc=dief,dc=test"
    assert LAYOUT.authority_dn("FRA", customs.pk) == f"uid={customs.pk},ou=FRA,ou=states,{BASE}"
    assert (
        LAYOUT.contact_dn("FRA", customs.pk, person.pk)
        == f"uid={person.pk},uid={customs.pk},ou=FRA,ou=states,{BASE}"
    )
    assert LAYOUT.account_dn("FRA") == f"cn=FRA,ou=accounts,{BASE}"
    assert LAYOUT.participants_dn == f"cn=participants,ou=groups,{BASE}"
    assert LAYOUT.publisher_dn == f"cn=publisher,ou=services,{BASE}"


def test_rdn_values_are_escaped() -> None:
    odd = DirectoryLayout("o=A\\, B,c=FR")
    assert odd.state_dn("A+B") == "ou=A\\+B,ou=states,o=A\\, B,c=FR"
    assert (
        odd.authority_dn("FRA", 'x,y="z"') == 'uid=x\\,y\\=\\"z\\",ou=FRA,ou=states,o=A\\, B,c=FR'
    )


def test_dn_keys_ignore_case_spacing_and_escaping_style() -> None:
    assert dn_key("OU=fra, ou=States,DC=Dief,dc=test") == dn_key(LAYOUT.state_dn("FRA"))
    assert dn_key("cn=a\\2Cb,dc=x") == dn_key("cn=a\\,b,dc=x")
    assert dn_key("cn=\\c3\\a9t\\c3\\a9,dc=x") == dn_key("cn=été,dc=x")
    assert dn_key(LAYOUT.state_dn("FRA")) != dn_key(LAYOUT.state_dn("DEU"))


# --- entries -----------------------------------------------------------------------------


def test_a_contact_is_an_inetorgperson_with_the_directory_fields() -> None:
    customs = authority("FRA", name="Direction générale des douanes")
    verified = datetime(2026, 3, 1, 9, 30, 5, tzinfo=timezone(timedelta(hours=1)))
    person = contact(
        customs,
        name="Jean Dupont",
        title="Chef de bureau",
        functional_email="enquetes@douane.example",
        personal_email="jean.dupont@douane.example",
        phone="+33123456789",
        mobile="+33612345678",
        emergency_phone="+33800000000",
        languages=["fr", "en", "de"],
        time_zone="Europe/Paris",
        pgp_fingerprint="0123456789ABCDEF0123456789ABCDEF01234567",
        roles=[ContactRole.NATIONAL_POINT_OF_CONTACT, ContactRole.DIEF_ENFORCEMENT_CONTACT],
        last_verified_at=verified,
    )
    entry = contact_entry(LAYOUT, person, customs)
    assert entry.dn == LAYOUT.contact_dn("FRA", customs.pk, person.pk)
    assert dict(entry.attributes) == {
        "objectClass": ("inetOrgPerson", "diefContact"),
        "uid": (str(person.pk),),
        "cn": ("Jean Dupont",),
        "sn": ("Jean Dupont",),
        "displayName": ("Jean Dupont",),
        "title": ("Chef de bureau",),
        "ou": ("Direction générale des douanes",),
        "mail": ("enquetes@douane.example", "jean.dupont@douane.example"),
        "telephoneNumber": ("+33123456789",),
        "mobile": ("+33612345678",),
        "diefEmergencyPhone": ("+33800000000",),
        "preferredLanguage": ("fr",),
        "diefLanguage": ("fr", "en", "de"),
        "diefTimeZone": ("Europe/Paris",),
        "diefPgpFingerprint": ("0123456789ABCDEF0123456789ABCDEF01234567",),
        "diefRole": ("NATIONAL_POINT_OF_CONTACT", "DIEF_ENFORCEMENT_CONTACT"),
        "diefAuthorityKind": ("CUSTOMS",),
        "diefLastVerified": ("20260301083005Z",),
    }


def test_a_sparse_contact_has_no_empty_attributes_and_no_guessed_given_name() -> None:
    customs = authority("FRA")
    entry = contact_entry(LAYOUT, contact(customs, name="Nguyen Van An", title=""), customs)
    assert set(entry.attributes) == {
        "objectClass",
        "uid",
        "cn",
        "sn",
        "displayName",
        "ou",
        "mail",
        "diefAuthorityKind",
    }
    assert entry.attributes["sn"] == ("Nguyen Van An",)


def test_an_authority_is_an_organizational_unit_named_by_its_id() -> None:
    customs = authority(
        "FRA",
        name="Douane",
        email="douane@douane.example",
        phone="+33123456789",
        address="11 rue des Deux Communes\n\n93100 Montreuil $ \\ France",
        languages=["fr", "en"],
        time_zone="Europe/Paris",
    )
    entry = authority_entry(LAYOUT, customs)
    assert entry.dn == LAYOUT.authority_dn("FRA", customs.pk)
    assert dict(entry.attributes) == {
        "objectClass": ("organizationalUnit", "uidObject", "diefAuthority"),
        "uid": (str(customs.pk),),
        "ou": ("Douane",),
        "diefAuthorityKind": ("CUSTOMS",),
        "mail": ("douane@douane.example",),
        "telephoneNumber": ("+33123456789",),
        "postalAddress": ("11 rue des Deux Communes$93100 Montreuil \\24 \\5C France",),
        "preferredLanguage": ("fr",),
        "diefLanguage": ("fr", "en"),
        "diefTimeZone": ("Europe/Paris",),
    }


def test_values_in_ldap_syntax() -> None:
    assert generalized_time(datetime(2026, 1, 2, 3, 4, 5)) == "20260102030405Z"  # naive: UTC
    assert generalized_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "20260102030405Z"
    assert generalized_time(None) is None
    assert postal_address(None) is None
    assert postal_address(" \n ") is None
    assert ldap_mail("a.b@douane.example") == "a.b@douane.example"
    assert ldap_mail("enquetes@douâne.example") == "enquetes@xn--doune-5qa.example"
    assert ldap_mail("josé@douane.example") is None  # IA5String cannot hold it
    assert ldap_mail(None) is None


# --- what is published -------------------------------------------------------------------


def test_only_participant_states_and_current_contacts_are_published() -> None:
    fra, sgp, usa = (
        state("FRA", AttStatus.STATE_PARTY, "France"),
        state("SGP", AttStatus.SIGNATORY, "Singapore"),
        state("USA", AttStatus.NON_PARTY, "United States"),
    )
    fra_customs, usa_customs = authority("FRA"), authority("USA")
    current, archived = contact(fra_customs), contact(fra_customs, archived_at=datetime.now(UTC))
    usa_person = contact(usa_customs)
    entries = desired_tree(
        LAYOUT, [fra, sgp, usa], [fra_customs, usa_customs], [current, archived, usa_person]
    )
    dns = [e.dn for e in entries]
    assert dns == [
        LAYOUT.states_dn,
        LAYOUT.participants_dn,
        LAYOUT.state_dn("FRA"),
        LAYOUT.state_dn("SGP"),
        LAYOUT.authority_dn("FRA", fra_customs.pk),
        LAYOUT.contact_dn("FRA", fra_customs.pk, current.pk),
    ]
    group = entries[1]
    assert group.attributes["member"] == (LAYOUT.account_dn("FRA"), LAYOUT.account_dn("SGP"))
    france = entries[2]
    assert dict(france.attributes) == {
        "objectClass": ("organizationalUnit",),
        "ou": ("FRA",),
        "description": ("France",),
    }


def test_a_contact_whose_authority_is_not_published_is_left_out() -> None:
    fra_customs = authority("FRA")
    stray = contact(fra_customs)
    entries = desired_tree(LAYOUT, [state("FRA")], [], [stray])
    assert [e.dn for e in entries] == [
        LAYOUT.states_dn,
        LAYOUT.participants_dn,
        LAYOUT.state_dn("FRA"),
    ]


def test_the_participants_group_is_never_empty() -> None:
    group = participants_group(LAYOUT, [])
    assert group.attributes["member"] == (LAYOUT.participants_dn,)
    assert participants_group(LAYOUT, ["SGP", "FRA", "FRA"]).attributes["member"] == (
        LAYOUT.account_dn("FRA"),
        LAYOUT.account_dn("SGP"),
    )


# --- scopes and events -------------------------------------------------------------------


def test_a_state_scope_holds_its_subtree_the_container_and_the_group() -> None:
    scope = state_scope(LAYOUT, "FRA")
    inside = [
        LAYOUT.state_dn("FRA"),
        LAYOUT.authority_dn("FRA", "a1"),
        LAYOUT.contact_dn("FRA", "a1", "c1"),
        LAYOUT.states_dn,
        LAYOUT.participants_dn,
    ]
    outside = [
        LAYOUT.state_dn("DEU"),
        LAYOUT.authority_dn("DEU", "a1"),
        LAYOUT.account_dn("FRA"),
        BASE,
        f"ou=FRANCE,ou=states,{BASE}",
    ]
    assert all(scope.contains(dn_key(dn)) for dn in inside)
    assert not any(scope.contains(dn_key(dn)) for dn in outside)
    full = full_scope(LAYOUT)
    assert all(full.contains(dn_key(dn)) for dn in inside)
    assert full.contains(dn_key(LAYOUT.state_dn("DEU")))
    assert not full.contains(dn_key(LAYOUT.account_dn("FRA")))


@pytest.mark.parametrize(
    ("event_type", "data", "expected"),
    [
        ("dief.contacts.contact.changed", {"stateCode": "FRA", "action": "UPDATED"}, "FRA"),
        ("dief.contacts.authority.changed", {"stateCode": "DEU"}, "DEU"),
        ("dief.contacts.state.status_changed", {"stateCode": "USA", "participant": False}, "USA"),
        ("dief.contacts.contact.changed", {}, None),
        ("dief.contacts.contact.changed", {"stateCode": "fr,a"}, None),
        ("dief.contacts.contact.changed", {"stateCode": ["FRA"]}, None),
        ("dief.meetings.meeting.scheduled", {"stateCode": "FRA"}, None),
    ],
)
def test_the_state_an_event_touches(
    event_type: str, data: dict[str, object], expected: str | None
) -> None:
    assert affected_state(event_type, data) == expected


# --- plans -------------------------------------------------------------------------------


def entry(dn: str, **attributes: tuple[str, ...]) -> Entry:
    return Entry(dn, attributes)


STATES = entry(LAYOUT.states_dn, objectClass=("organizationalUnit",), ou=("states",))
FRA = entry(LAYOUT.state_dn("FRA"), objectClass=("organizationalUnit",), ou=("FRA",))
AUTH = entry(
    LAYOUT.authority_dn("FRA", "a1"),
    objectClass=("organizationalUnit", "uidObject", "diefAuthority"),
    uid=("a1",),
    ou=("Customs",),
    diefAuthorityKind=("CUSTOMS",),
)
PERSON = entry(
    LAYOUT.contact_dn("FRA", "a1", "c1"),
    objectClass=("inetOrgPerson", "diefContact"),
    uid=("c1",),
    cn=("Jean",),
    sn=("Jean",),
    mail=("a@x.example", "b@x.example"),
)
SCOPE = Scope(subtrees=(LAYOUT.states_dn,))


def test_a_tree_that_matches_needs_nothing() -> None:
    tree = [STATES, FRA, AUTH, PERSON]
    assert plan(tree, list(reversed(tree)), SCOPE) == []


def test_an_empty_tree_is_built_parents_first() -> None:
    assert plan([PERSON, AUTH, FRA, STATES], [], SCOPE) == [
        Add(STATES.dn, STATES.attributes),
        Add(FRA.dn, FRA.attributes),
        Add(AUTH.dn, AUTH.attributes),
        Add(PERSON.dn, PERSON.attributes),
    ]


def test_entries_that_should_not_be_there_are_deleted_children_first() -> None:
    deu = entry(LAYOUT.state_dn("DEU"), objectClass=("organizationalUnit",), ou=("DEU",))
    deu_auth = entry(LAYOUT.authority_dn("DEU", "a9"), objectClass=("organizationalUnit",))
    assert plan([STATES, FRA], [STATES, FRA, deu, deu_auth, AUTH, PERSON], SCOPE) == [
        Delete(PERSON.dn),
        Delete(deu_auth.dn),
        Delete(AUTH.dn),
        Delete(deu.dn),
    ]


def test_changed_values_are_replaced_and_unwanted_attributes_removed() -> None:
    drifted = entry(
        PERSON.dn,
        objectClass=("diefContact", "inetOrgPerson"),
        uid=("c1",),
        CN=("Jean",),  # attribute names are compared without case
        sn=("Jean Dupont",),
        mail=("b@x.example", "a@x.example"),  # the order of values does not matter
        description=("added by hand",),
    )
    assert attribute_changes(PERSON, drifted) == {"sn": ("Jean",), "description": ()}
    assert plan([PERSON], [drifted], SCOPE) == [
        Modify(PERSON.dn, {"description": (), "sn": ("Jean",)})
    ]


def test_an_entry_of_another_class_is_rebuilt_with_its_subtree() -> None:
    wrong = entry(AUTH.dn, objectClass=("organizationalRole",), cn=("Customs",))
    assert plan([FRA, AUTH, PERSON], [FRA, wrong, PERSON], SCOPE) == [
        Delete(PERSON.dn),
        Delete(wrong.dn),
        Add(AUTH.dn, AUTH.attributes),
        Add(PERSON.dn, PERSON.attributes),
    ]


def test_nothing_outside_the_scope_is_touched() -> None:
    deu = entry(LAYOUT.state_dn("DEU"), objectClass=("organizationalUnit",), ou=("DEU",))
    account = entry(LAYOUT.account_dn("FRA"), objectClass=("organizationalRole",))
    scope = state_scope(LAYOUT, "FRA")
    assert plan([STATES, FRA], [STATES, deu, account], scope) == [Add(FRA.dn, FRA.attributes)]


def test_an_actual_dn_spelled_differently_is_the_same_entry() -> None:
    spelled = entry("OU=fra,ou=STATES,dc=dief,dc=test", objectClass=("organizationalUnit",))
    assert plan([FRA], [spelled], SCOPE) == [Modify(spelled.dn, {"ou": ("FRA",)})]
