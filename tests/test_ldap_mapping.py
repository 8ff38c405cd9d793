"""National LDAP entries as DIEF contacts, and the plan of a sync run, without any server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from services.common.errors import ValidationFailed
from services.common.secrets import SecretUnavailable, resolve_secret
from services.contacts.documents import Authority, Contact
from services.contacts.domain import AuthorityKind
from services.contacts.ldap_import import new_contact_son, snapshot_son
from services.contacts.ldap_mapping import (
    DEFAULT_MAPPING,
    Rejected,
    SourceEntry,
    Synced,
    changed_since_filter,
    check_filter,
    checked_entries,
    contact_fields,
    forget_checked_values,
    mapping_with_overrides,
    plan_sync,
    requested_attributes,
    watermark,
)
from services.contacts.ldap_sources import check_password, check_url


def entry(uid: str, **attributes: Any) -> SourceEntry:
    values: dict[str, Any] = {
        "entryUUID": f"uuid-{uid}",
        "cn": f"Agent {uid}",
        "mail": f"{uid}@douane.example",
    }
    values.update(attributes)
    return SourceEntry(
        f"uid={uid},ou=people,dc=fra,dc=example",
        {k: v if isinstance(v, list) else [v] for k, v in values.items() if v is not None},
    )


MAPPING = mapping_with_overrides(None)


# --- mapping -----------------------------------------------------------------------------


def test_inetorgperson_attributes_become_contact_fields() -> None:
    fields = contact_fields(
        entry(
            "jd",
            mail=["Jean.Dupont@Douane.example", "jean@perso.example"],
            telephoneNumber="+33 1 23 45 67 89",
            MOBILE="+33612345678",  # attribute names match without case
            title="Inspecteur",
            ou="Enquêtes",
            preferredLanguage="fr-FR, en;q=0.8, de",
        ),
        MAPPING,
    )
    assert fields == {
        "name": "Agent jd",
        "functional_email": "jean.dupont@douane.example",
        "personal_email": "jean@perso.example",
        "phone": "+33123456789",
        "mobile": "+33612345678",
        "title": "Inspecteur",
        "department": "Enquêtes",
        "languages": ["fr", "en", "de"],  # the order of preferredLanguage
    }


def test_the_name_falls_back_to_given_name_and_surname() -> None:
    fields = contact_fields(entry("x", cn=None, givenName="Jeanne", sn="Martin"), MAPPING)
    assert fields["name"] == "Jeanne Martin"


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"mail": None}, "no mail"),
        ({"mail": "not-an-address"}, "mail"),
        ({"telephoneNumber": "01 23 45 67 89"}, "not an international phone number"),
        ({"mobile": "+33 12"}, "not a valid phone number"),
        ({"preferredLanguage": "klingon"}, "not an ISO 639-1"),
        ({"entryUUID": None}, "no entryUUID"),
        ({"cn": None, "sn": None}, "name must not be empty"),
    ],
)
def test_entries_the_directory_cannot_take_are_rejected_with_a_reason(
    attributes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(Rejected, match=reason):
        contact_fields(entry("x", **attributes), MAPPING)


def test_the_mapping_is_overridden_field_by_field() -> None:
    mapping = mapping_with_overrides({"name": "displayName", "title": None, "phone": ""})
    assert mapping["name"] == "displayName"
    assert mapping["title"] is None and mapping["phone"] is None
    assert mapping["functional_email"] == DEFAULT_MAPPING["functional_email"]
    assert "displayName" in requested_attributes(mapping)
    assert {"entryUUID", "entryCSN", "modifyTimestamp"} <= set(requested_attributes(mapping))
    for bad in ({"nickname": "cn"}, {"name": "c n"}, {"functional_email": None}):
        with pytest.raises(ValidationFailed):
            mapping_with_overrides(bad)


# --- filters, URLs, secrets --------------------------------------------------------------


def test_values_put_in_filters_are_escaped() -> None:
    base = "(objectClass=inetOrgPerson)"
    assert changed_since_filter(base, None, None) == base
    assert (
        changed_since_filter(base, "modifyTimestamp", "20260101000000Z")
        == "(&(objectClass=inetOrgPerson)(modifyTimestamp>=20260101000000Z))"
    )
    hostile = changed_since_filter(base, "modifyTimestamp", "*)(uid=*")
    assert hostile == "(&(objectClass=inetOrgPerson)(modifyTimestamp>=\\2a\\29\\28uid=\\2a))"
    csn = "20260101000000.000001Z#000000#000#000000"
    assert changed_since_filter(base, "entryCSN", csn) == (
        f"(&(objectClass=inetOrgPerson)(entryCSN>={csn})(!(entryCSN={csn})))"
    )


def test_source_settings_are_checked() -> None:
    assert check_filter(" (&(objectClass=person)(ou=x)) ") == "(&(objectClass=person)(ou=x))"
    for bad in ("objectClass=person", "(cn=a)(cn=b)", "(cn=x"):
        with pytest.raises(ValidationFailed):
            check_filter(bad)
    assert check_url("ldaps://ldap.douane.example:636", False)
    for url, start_tls in (("http://x", False), ("ldaps://x", True), ("ldap.example", False)):
        with pytest.raises(ValidationFailed):
            check_url(url, start_tls)
    for url in ("ldap://user@x", "ldap://x/o=y", "ldap://x?q", "ldap://x:99999"):
        with pytest.raises(ValidationFailed):
            check_url(url, False)
    assert check_password("hunter2") == "hunter2"
    with pytest.raises(ValidationFailed) as refused:
        check_password("hunter2\x00")
    assert "hunter2" not in refused.value.message


# --- plans -------------------------------------------------------------------------------


def synced(uid: str, archived: bool = False, **fields: Any) -> Synced:
    base = contact_fields(entry(uid), MAPPING)
    base.update(fields)
    return Synced(id=ObjectId(), key=f"uuid-{uid}", fields=base, archived=archived)


def test_a_plan_adds_changes_restores_and_archives() -> None:
    same, renamed, gone, back = (
        synced("same"),
        synced("renamed", name="Old Name"),
        synced("gone"),
        synced("back", archived=True),
    )
    plan = plan_sync(
        [entry("same"), entry("renamed"), entry("back"), entry("new")],
        [same, renamed, gone, back],
        MAPPING,
        full=True,
    )
    assert [e.key for e, _ in plan.added] == ["uuid-new"]
    assert [(s.key, sorted(d)) for s, _, d in plan.changed] == [
        ("uuid-renamed", ["name"]),
        ("uuid-back", []),
    ]
    assert [s.key for s in plan.archived] == ["uuid-gone"]
    assert plan.unchanged == 1
    assert sorted(d.action for d in plan.details) == ["ADDED", "ARCHIVED", "CHANGED", "RESTORED"]


def test_an_incremental_plan_never_archives() -> None:
    plan = plan_sync([entry("a")], [synced("a"), synced("b")], MAPPING, full=False)
    assert plan.archived == [] and plan.unchanged == 1


def test_a_rejected_entry_is_no_reason_to_archive_its_contact() -> None:
    plan = plan_sync([entry("a", mail=None)], [synced("a")], MAPPING, full=True)
    assert plan.archived == []
    assert [reason for _, reason in plan.rejected] == ["no mail: a contact needs an email address"]


def test_addresses_are_never_shared_within_an_authority() -> None:
    plan = plan_sync(
        [entry("a", mail="shared@douane.example"), entry("b", mail="shared@douane.example")],
        [],
        MAPPING,
        full=True,
        taken_emails={"hand@douane.example": ""},
    )
    assert [e.key for e, _ in plan.added] == ["uuid-a"]
    assert [r for _, r in plan.rejected] == [
        "shared@douane.example is already used by another entry at this authority"
    ]
    by_hand = plan_sync(
        [entry("c", mail="hand@douane.example")],
        [],
        MAPPING,
        full=True,
        taken_emails={"hand@douane.example": ""},
    )
    assert "a contact entered by hand" in by_hand.rejected[0][1]


def test_entries_are_checked_one_by_one_before_they_are_compared() -> None:
    entries = [entry("a"), entry("b", telephoneNumber="01 23"), entry("c")]
    checked = checked_entries(entries, MAPPING)
    assert [e.key for e, _ in checked] == ["uuid-a", "uuid-b", "uuid-c"]
    assert isinstance(checked[1][1], Rejected)
    assert checked[0][1] == contact_fields(entries[0], MAPPING)
    given = plan_sync(entries, [synced("c")], MAPPING, full=True, checked=checked)
    made = plan_sync(entries, [synced("c")], MAPPING, full=True)
    assert given.details == made.details
    assert [e.key for e, _ in given.added] == ["uuid-a"] and given.unchanged == 1


def test_a_value_checked_before_gives_the_same_answer() -> None:
    same = {"telephoneNumber": "+33 1 23 45 67 89", "preferredLanguage": "fr-FR, en;q=0.8"}
    one = contact_fields(entry("a", **same), MAPPING)
    two = contact_fields(entry("b", **same), MAPPING)
    assert one["phone"] == two["phone"] == "+33123456789"
    assert one["languages"] == two["languages"] == ["fr", "en"]  # the directory's order
    two["languages"].append("de")  # each contact has its own list
    assert contact_fields(entry("c", **same), MAPPING)["languages"] == ["fr", "en"]
    forget_checked_values()
    assert contact_fields(entry("a", **same), MAPPING) == one
    for _ in range(2):  # a refusal is not remembered as an answer: it is refused again
        with pytest.raises(Rejected, match="not an international phone number"):
            contact_fields(entry("x", telephoneNumber="01 23 45 67 89"), MAPPING)
        with pytest.raises(Rejected, match="mail"):
            contact_fields(entry("x", mail="not-an-address"), MAPPING)


def test_the_watermark_prefers_entry_csn_and_falls_back_to_modify_timestamp() -> None:
    csn_a, csn_b = "20260101000000.000001Z#000000#000#000000", "20260102000000.000001Z#0#0#0"
    with_csn = [
        entry("a", entryCSN=csn_a, modifyTimestamp="20260101000000Z"),
        entry("b", entryCSN=csn_b, modifyTimestamp="20260102000000Z"),
    ]
    assert watermark(with_csn, None, None) == ("entryCSN", csn_b)
    assert watermark([], "entryCSN", csn_a) == ("entryCSN", csn_a), "nothing read: unchanged"
    stamps = [entry("a", modifyTimestamp="20260103000000Z")]
    assert watermark(stamps, None, None) == ("modifyTimestamp", "20260103000000Z")
    assert watermark(stamps, "entryCSN", csn_a) == ("modifyTimestamp", "20260103000000Z")


# --- stored form -------------------------------------------------------------------------


def test_new_contacts_are_stored_as_mongoengine_would_store_them() -> None:
    authority = Authority(id=ObjectId(), state_code="FRA", kind=AuthorityKind.CUSTOMS, name="D")
    one = entry("jd", telephoneNumber="+33123456789", ou="Enquêtes", preferredLanguage="fr")
    fields = contact_fields(one, MAPPING)
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    son = new_contact_son(one, fields, authority, "FRA", now)
    expected = Contact(
        id=son["_id"],
        authority_id=authority.pk,
        state_code="FRA",
        authority_kind=AuthorityKind.CUSTOMS,
        source="LDAP",
        ldap_source="FRA",
        ldap_key="uuid-jd",
        ldap_dn=one.dn,
        last_verified_at=now,
        verified_by="ldap-sync:FRA",
        created_at=now,
        updated_at=now,
        version=1,
        **fields,
    )
    expected.validate()
    assert son == expected.to_mongo().to_dict()
    assert snapshot_son(son)["authority_id"] == str(authority.pk)


# --- secrets by reference ----------------------------------------------------------------


def test_secrets_are_read_from_the_environment_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIEF_TEST_SECRET", "s3cret")
    assert resolve_secret("env:DIEF_TEST_SECRET") == "s3cret"
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    assert resolve_secret(f"file:{secret_file}") == "from-file"
    (tmp_path / "empty").write_text("")
    monkeypatch.delenv("DIEF_TEST_MISSING", raising=False)
    for reference, words in (
        ("env:DIEF_TEST_MISSING", "is not set"),
        (f"file:{tmp_path / 'absent'}", "cannot read"),
        (f"file:{tmp_path / 'empty'}", "is empty"),
        ("s3cret", "env:VARIABLE or file:/path"),
        ("vault:x", "unknown secret scheme"),
    ):
        with pytest.raises(SecretUnavailable, match=words) as refused:
            resolve_secret(reference)
        assert "s3cret" not in str(refused.value), "a message never repeats a secret"
