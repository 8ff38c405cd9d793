"""Rule 20: the directory of enforcement authorities and contacts, over GraphQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient

from services.common.settings import Settings
from services.contacts import handlers
from tests.conftest import GraphQLClient, TokenFactory, error_codes
from tests.test_contacts_api import PARTIES

AUTHORITY_CREATE = """mutation($input: AuthorityCreateInput!) {
  authorityCreate(input: $input) { authority { id stateCode kind name phone languages } }
}"""
CONTACT_CREATE = """mutation($input: ContactCreateInput!) {
  contactCreate(input: $input) {
    contact { id name functionalEmail phone emergencyPhone languages roles stale
              lastVerifiedAt verifiedBy authority { name } }
  }
}"""
CONTACT_UPDATE = """mutation($input: ContactUpdateInput!) {
  contactUpdate(input: $input) { contact { id title phone } }
}"""
CONTACTS = """query($filter: ContactFilter, $first: Int) {
  contacts(filter: $filter, first: $first) { totalCount edges { node { name stateCode } } }
}"""


@pytest.fixture
def registry(contacts_app: Any) -> None:
    handlers.seed_states(PARTIES)


@pytest.fixture
async def customs(gql: GraphQLClient, token: TokenFactory, registry: None) -> dict[str, Any]:
    result = await gql(
        AUTHORITY_CREATE,
        {
            "input": {
                "stateCode": "FRA",
                "kind": "CUSTOMS",
                "name": "Direction générale des douanes",
                "phone": "+33 1 57 53 40 00",
                "languages": ["fr", "en"],
                "timeZone": "Europe/Paris",
            }
        },
        token(sub="marie", state="FRA"),
    )
    assert "errors" not in result, result
    return result["data"]["authorityCreate"]["authority"]


def contact_input(authority_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "authorityId": authority_id,
        "name": "Jean Dupont",
        "functionalEmail": "dief@douane.finances.gouv.fr",
        "phone": "+33 1 23 45 67 89",
        "emergencyPhone": "+33 6 12 34 56 78",
        "languages": ["en", "fr", "de"],
        "roles": ["DIEF_ENFORCEMENT_CONTACT"],
        **overrides,
    }


async def test_a_delegate_keeps_their_own_states_contacts(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    """Rule 20: a State exchanges up-to-date contact details of its enforcement authorities."""
    assert customs["phone"] == "+33157534000"
    assert customs["languages"] == ["fr", "en"]  # the order the State gave: French first
    result = await gql(
        CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(sub="marie", state="FRA")
    )
    assert "errors" not in result, result
    contact = result["data"]["contactCreate"]["contact"]
    assert contact["phone"] == "+33123456789"
    assert contact["languages"] == ["en", "fr", "de"]
    assert contact["stale"] is False and contact["verifiedBy"] == "marie"
    assert contact["authority"]["name"] == "Direction générale des douanes"
    # another participant reads it
    seen = await gql(CONTACTS, {"filter": {"stateCode": "FRA"}}, token(state="DEU"))
    assert seen["data"]["contacts"]["totalCount"] == 1


async def test_a_delegate_cannot_touch_another_states_contacts(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    """Rule 20: a State acts for itself only."""
    result = await gql(
        CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(sub="hans", state="DEU")
    )
    assert error_codes(result) == ["FORBIDDEN"]
    created = await gql(CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(state="FRA"))
    cid = created["data"]["contactCreate"]["contact"]["id"]
    for mutation in (
        'contactUpdate(input: {id: $id, title: "x"}) { contact { id } }',
        "contactVerify(input: {id: $id}) { contact { id } }",
        "contactArchive(input: {id: $id}) { contact { id } }",
    ):
        refused = await gql(f"mutation($id: ID!) {{ {mutation} }}", {"id": cid}, token(state="DEU"))
        assert error_codes(refused) == ["FORBIDDEN"], mutation
    refused = await gql(
        AUTHORITY_CREATE,
        {"input": {"stateCode": "FRA", "kind": "POLICE", "name": "x"}},
        token(state="DEU"),
    )
    assert error_codes(refused) == ["FORBIDDEN"]


async def test_the_secretariat_curates_every_state(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    result = await gql(
        CONTACT_CREATE,
        {"input": contact_input(customs["id"])},
        token(sub="sec", roles=("secretariat",), participant=False),
    )
    assert "errors" not in result, result


async def test_a_non_participant_cannot_keep_contacts(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    result = await gql(
        AUTHORITY_CREATE,
        {"input": {"stateCode": "USA", "kind": "CUSTOMS", "name": "CBP"}},
        token(state="USA", participant=False),
    )
    assert error_codes(result) == ["FORBIDDEN"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("functionalEmail", "not-an-email"),
        ("phone", "01 23 45 67 89"),
        ("emergencyPhone", "+33 12"),
        ("languages", ["xx"]),
        ("timeZone", "Mars/Olympus"),
        ("pgpFingerprint", "abc"),
        ("name", "x" * 201),
        ("name", "   "),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_written(
    gql: GraphQLClient,
    token: TokenFactory,
    customs: dict[str, Any],
    settings: Settings,
    field: str,
    value: Any,
) -> None:
    result = await gql(
        CONTACT_CREATE,
        {"input": contact_input(customs["id"], **{field: value})},
        token(state="FRA"),
    )
    assert error_codes(result) == ["VALIDATION"]
    assert result["errors"][0]["extensions"]["field"] == field
    db = MongoClient(settings.mongodb_uri)[settings.contacts_db]
    assert db.contacts.count_documents({}) == 0
    assert db.outbox.count_documents({"subject": "dief.contacts.contact.changed"}) == 0


@pytest.mark.parametrize("bad_id", ["nonsense", "Q29udGFjdDp4", "QXV0aG9yaXR5OjE="])
async def test_malformed_ids_are_validation_errors(
    gql: GraphQLClient, token: TokenFactory, registry: None, bad_id: str
) -> None:
    result = await gql(
        "query($id: ID!) { contact(id: $id) { name } }", {"id": bad_id}, token(state="FRA")
    )
    assert error_codes(result) == ["VALIDATION"]


async def test_unknown_state_code_is_refused(
    gql: GraphQLClient, token: TokenFactory, registry: None
) -> None:
    result = await gql(
        AUTHORITY_CREATE,
        {"input": {"stateCode": "ZZZ", "kind": "POLICE", "name": "x"}},
        token(roles=("secretariat",)),
    )
    assert error_codes(result) == ["VALIDATION"]
    assert result["errors"][0]["extensions"]["field"] == "stateCode"


async def test_same_email_twice_at_one_authority_is_a_conflict(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    first = await gql(CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(state="FRA"))
    assert "errors" not in first
    second = await gql(
        CONTACT_CREATE,
        {
            "input": contact_input(
                customs["id"], name="Other", functionalEmail="DIEF@douane.finances.gouv.fr"
            )
        },
        token(state="FRA"),
    )
    assert error_codes(second) == ["CONFLICT"]
    assert second["errors"][0]["extensions"]["field"] == "functionalEmail"


async def test_every_change_is_kept_in_the_history(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    created = await gql(
        CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(sub="marie", state="FRA")
    )
    cid = created["data"]["contactCreate"]["contact"]["id"]
    await gql(
        CONTACT_UPDATE,
        {"input": {"id": cid, "title": "Head of unit"}},
        token(sub="paul", state="FRA"),
    )
    history = await gql(
        "query($id: ID!) { contactHistory(id: $id) "
        "{ action actor actorState changes { field before after } } }",
        {"id": cid},
        token(sub="sec", roles=("secretariat",)),
    )
    records = history["data"]["contactHistory"]
    assert [(r["action"], r["actor"], r["actorState"]) for r in records] == [
        ("CREATED", "marie", "FRA"),
        ("UPDATED", "paul", "FRA"),
    ]
    assert {
        "field": "functionalEmail",
        "before": None,
        "after": "dief@douane.finances.gouv.fr",
    } in records[0]["changes"]
    assert records[1]["changes"] == [{"field": "title", "before": None, "after": "Head of unit"}]
    # another State may not read the history of France's contacts
    refused = await gql(
        "query($id: ID!) { contactHistory(id: $id) { action } }", {"id": cid}, token(state="DEU")
    )
    assert error_codes(refused) == ["FORBIDDEN"]


async def test_stale_contacts_are_flagged_and_verification_refreshes_them(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any], settings: Settings
) -> None:
    """Rule 20: up-to-date details; a contact unverified for 120 days is stale."""
    created = await gql(CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(state="FRA"))
    cid = created["data"]["contactCreate"]["contact"]["id"]
    db = MongoClient(settings.mongodb_uri)[settings.contacts_db]
    old = datetime.now(UTC) - timedelta(days=121)
    db.contacts.update_many({}, {"$set": {"last_verified_at": old}})

    stale = (
        "query($s: String) { staleContacts(stateCode: $s) "
        "{ totalCount edges { node { id stale } } } }"
    )
    own = await gql(stale, {}, token(state="FRA"))
    assert own["data"]["staleContacts"]["totalCount"] == 1
    assert own["data"]["staleContacts"]["edges"][0]["node"]["stale"] is True
    everyone = await gql(stale, {}, token(roles=("secretariat",)))
    assert everyone["data"]["staleContacts"]["totalCount"] == 1
    other = await gql(stale, {"s": "FRA"}, token(state="DEU"))
    assert error_codes(other) == ["FORBIDDEN"]
    filtered = await gql(CONTACTS, {"filter": {"stale": True}}, token(state="DEU"))
    assert filtered["data"]["contacts"]["totalCount"] == 1

    verified = await gql(
        "mutation($id: ID!) { contactVerify(input: {id: $id}) { contact { stale verifiedBy } } }",
        {"id": cid},
        token(sub="marie", state="FRA"),
    )
    assert verified["data"]["contactVerify"]["contact"] == {"stale": False, "verifiedBy": "marie"}
    after = await gql(stale, {}, token(state="FRA"))
    assert after["data"]["staleContacts"]["totalCount"] == 0


async def test_contacts_filters(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    await gql(CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(state="FRA"))
    await gql(
        CONTACT_CREATE,
        {
            "input": contact_input(
                customs["id"],
                name="Anne Martin",
                functionalEmail="anne@douane.gouv.fr",
                languages=["es"],
                roles=["NATIONAL_POINT_OF_CONTACT"],
            )
        },
        token(state="FRA"),
    )

    async def names(flt: dict[str, Any]) -> list[str]:
        result = await gql(CONTACTS, {"filter": flt}, token(state="DEU"))
        assert "errors" not in result, result
        return [e["node"]["name"] for e in result["data"]["contacts"]["edges"]]

    assert await names({}) == ["Anne Martin", "Jean Dupont"]
    assert await names({"nameContains": "dupo"}) == ["Jean Dupont"]
    assert await names({"nameContains": ".*"}) == []  # a pattern is searched as text
    assert await names({"role": "NATIONAL_POINT_OF_CONTACT"}) == ["Anne Martin"]
    assert await names({"language": "fr"}) == ["Jean Dupont"]
    assert await names({"authorityKind": "POLICE"}) == []
    assert await names({"stateCode": "DEU"}) == []


async def test_archived_contacts_leave_lists_but_stay_in_history(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    created = await gql(CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(state="FRA"))
    cid = created["data"]["contactCreate"]["contact"]["id"]
    archived = await gql(
        "mutation($id: ID!) { contactArchive(input: {id: $id}) { contact { archivedAt } } }",
        {"id": cid},
        token(state="FRA"),
    )
    assert archived["data"]["contactArchive"]["contact"]["archivedAt"]
    listed = await gql(CONTACTS, {}, token(state="FRA"))
    assert listed["data"]["contacts"]["totalCount"] == 0
    included = await gql(CONTACTS, {"filter": {"includeArchived": True}}, token(state="FRA"))
    assert included["data"]["contacts"]["totalCount"] == 1
    change = await gql(CONTACT_UPDATE, {"input": {"id": cid, "title": "x"}}, token(state="FRA"))
    assert error_codes(change) == ["CONFLICT"]


async def test_authority_update_and_listing(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    updated = await gql(
        "mutation($id: ID!) { authorityUpdate(input: {id: $id, kind: BORDER_GUARD, "
        'email: "Ops@Douane.gouv.fr"}) { authority { kind email } } }',
        {"id": customs["id"]},
        token(state="FRA"),
    )
    assert updated["data"]["authorityUpdate"]["authority"] == {
        "kind": "BORDER_GUARD",
        "email": "ops@douane.gouv.fr",
    }
    listed = await gql(
        '{ authorities(stateCode: "FRA", kind: BORDER_GUARD) { name } '
        'state(code: "FRA") { authorities { kind } } }',
        token=token(state="DEU"),
    )
    assert listed["data"]["authorities"] == [{"name": "Direction générale des douanes"}]
    assert listed["data"]["state"]["authorities"] == [{"kind": "BORDER_GUARD"}]


async def test_vcard_export_follows_the_api_rules(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any], contacts_http: Any
) -> None:
    await gql(
        CONTACT_CREATE,
        {"input": contact_input(customs["id"], name="Dupont, Jean", languages=["fr", "en"])},
        token(state="FRA"),
    )
    ok = await contacts_http.get(
        "/contacts/FRA.vcf", headers={"Authorization": f"Bearer {token(state='DEU')}"}
    )
    assert ok.status_code == 200
    assert "LANG;PREF=1:fr\r\nLANG;PREF=2:en" in ok.text  # the State's order, kept
    assert ok.headers["content-type"].startswith("text/vcard")
    assert "BEGIN:VCARD\r\nVERSION:4.0\r\n" in ok.text
    assert "FN:Dupont\\, Jean\r\n" in ok.text
    assert 'TEL;VALUE=uri;TYPE="voice":tel:+33123456789' in ok.text
    refused = await contacts_http.get(
        "/contacts/FRA.vcf",
        headers={"Authorization": f"Bearer {token(state='USA', participant=False)}"},
    )
    assert refused.status_code == 403
    anonymous = await contacts_http.get("/contacts/FRA.vcf")
    assert anonymous.status_code == 401
    unknown = await contacts_http.get(
        "/contacts/QQQ.vcf", headers={"Authorization": f"Bearer {token(state='DEU')}"}
    )
    assert unknown.status_code == 400


ALL_READS = [
    '{ state(code: "FRA") { name } }',
    "{ states { totalCount } }",
    '{ authorities(stateCode: "FRA") { name } }',
    "{ contacts { totalCount } }",
    "query($id: ID!) { contact(id: $id) { name } }",
    "query($id: ID!) { contactHistory(id: $id) { action } }",
    "{ staleContacts { totalCount } }",
]
REGISTRY_READS = ALL_READS[:2]


@pytest.mark.parametrize("query", ALL_READS)
@pytest.mark.parametrize("caller", ["anonymous", "non-party", "expert", "system"])
async def test_every_read_refuses_callers_outside_the_forum(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any], query: str, caller: str
) -> None:
    created = await gql(CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(state="FRA"))
    cid = created["data"]["contactCreate"]["contact"]["id"]
    tokens = {
        "anonymous": None,
        "non-party": token(state="USA", participant=False),
        "expert": token(roles=("expert",)),
        "system": token(roles=("system",)),
    }
    result = await gql(query, {"id": cid} if "$id" in query else {}, tokens[caller])
    if caller == "system" and query in REGISTRY_READS:
        # ATT statuses are public: the gateway loads who takes part as a system caller.
        assert "errors" not in result, result
        return
    expected = "UNAUTHENTICATED" if caller == "anonymous" else "FORBIDDEN"
    assert error_codes(result) == [expected]
    # root fields are nullable: the refused one is null, with its error at its path
    assert list(result["data"].values()) == [None]
    assert [e["path"] for e in result["errors"]] == [list(result["data"])]


async def test_a_participant_reads_one_contact_by_id(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    created = await gql(CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(state="FRA"))
    cid = created["data"]["contactCreate"]["contact"]["id"]
    result = await gql(
        "query($id: ID!) { contact(id: $id) { id name authorityKind "
        "authority { state { code } } } }",
        {"id": cid},
        token(state="ISR"),
    )
    assert result["data"]["contact"] == {
        "id": cid,
        "name": "Jean Dupont",
        "authorityKind": "CUSTOMS",
        "authority": {"state": {"code": "FRA"}},
    }


async def test_another_state_cannot_change_an_authority(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    result = await gql(
        'mutation($id: ID!) { authorityUpdate(input: {id: $id, name: "x"}) '
        "{ authority { name } } }",
        {"id": customs["id"]},
        token(state="DEU"),
    )
    assert error_codes(result) == ["FORBIDDEN"]


async def test_concurrent_edits_do_not_overwrite_each_other(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any], settings: Settings
) -> None:
    """Two people load the same contact; the second save is a CONFLICT, not a lost update."""
    from services.common.errors import Conflict
    from services.common.unit_of_work import unit_of_work
    from services.contacts.documents import ALIAS, Contact

    created = await gql(CONTACT_CREATE, {"input": contact_input(customs["id"])}, token(state="FRA"))
    assert "errors" not in created
    first, second = Contact.objects.get(), Contact.objects.get()
    first.title = "Head of unit"
    with unit_of_work(ALIAS) as uow:
        uow.save(first)
    second.title = "Deputy"
    lost = handlers.event(
        "contacts",
        "contact",
        "changed",
        subject=created["data"]["contactCreate"]["contact"]["id"],
        contactId=created["data"]["contactCreate"]["contact"]["id"],
        authorityId=customs["id"],
        stateCode="FRA",
        action="UPDATED",
    )
    with pytest.raises(Conflict), unit_of_work(ALIAS) as uow:
        uow.record(lost)
        uow.save(second)
    db = MongoClient(settings.mongodb_uri)[settings.contacts_db]
    stored = db.contacts.find_one()
    assert stored["title"] == "Head of unit" and stored["version"] == 1
    assert db.outbox.find_one({"_id": lost.id}) is None


async def test_an_authority_has_the_same_change_history_as_a_contact(
    gql: GraphQLClient, token: TokenFactory, customs: dict[str, Any]
) -> None:
    await gql(
        'mutation($id: ID!) { authorityUpdate(input: {id: $id, name: "Douanes"}) '
        "{ authority { name } } }",
        {"id": customs["id"]},
        token(sub="paul", state="FRA"),
    )
    query = (
        "query($id: ID!) { authorityHistory(id: $id) "
        "{ action actor actorState changes { field before after } } }"
    )
    history = await gql(query, {"id": customs["id"]}, token(sub="marie", state="FRA"))
    records = history["data"]["authorityHistory"]
    assert [(r["action"], r["actor"]) for r in records][1:] == [("UPDATED", "paul")]
    assert records[0]["action"] == "CREATED"
    assert records[1]["changes"] == [
        {"field": "name", "before": "Direction générale des douanes", "after": "Douanes"}
    ]
    assert error_codes(await gql(query, {"id": customs["id"]}, token(state="DEU"))) == ["FORBIDDEN"]
