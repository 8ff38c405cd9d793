"""The directory's side of the notices: a State chooses who of its contacts is told, a
contact registers an OpenPGP key, and the recipients by role (never every contact)."""

from __future__ import annotations

from typing import Any

from services.common.principal import Principal, Role
from services.contacts import handlers
from services.contacts.domain import AuthorityKind, ContactRole
from tests.conftest import GraphQLClient, TokenFactory, error_codes
from tests.pgp_support import Keys
from tests.test_contacts_api import PARTIES

pytest_plugins = ["tests.pgp_support"]

SEC = Principal("sec", frozenset({Role.SECRETARIAT}))
RECIPIENTS = """query($a: NoticeAudience!, $s: [String!]) {
  noticeRecipients(audience: $a, stateCodes: $s) { stateCode participant stateParty roles
    recipients { email role publicKeyFingerprint } } }"""
ROLES = """mutation($i: StateNoticeRolesSetInput!) { stateNoticeRolesSet(input: $i) {
  stateCode roles recipients { email role } } }"""
KEY = """mutation($i: ContactKeyInput!) { contactKeyRegister(input: $i) { contact {
  pgpFingerprint publicKeyFingerprint publicKey } } }"""


def _seed() -> dict[str, Any]:
    handlers.seed_states(PARTIES)
    authority = handlers.create_authority(
        SEC, "FRA", {"kind": AuthorityKind.POLICE, "name": "Police nationale"}
    )
    made = {}
    for address, roles in (
        ("npc@fra.example.org", [ContactRole.NATIONAL_POINT_OF_CONTACT]),
        ("enf@fra.example.org", [ContactRole.DIEF_ENFORCEMENT_CONTACT]),
        ("alt@fra.example.org", [ContactRole.ALTERNATE]),
        ("staff@fra.example.org", []),
    ):
        made[address] = handlers.create_contact(
            SEC, authority.pk, {"name": address, "functional_email": address, "roles": roles}
        )
    return made


def _emails(result: dict[str, Any], state: str) -> list[str]:
    assert "errors" not in result, result
    [found] = [s for s in result["data"]["noticeRecipients"] if s["stateCode"] == state]
    return [r["email"] for r in found["recipients"]]


async def test_recipients_by_role_and_a_state_chooses_its_own(
    gql: GraphQLClient, token: TokenFactory, contacts_app: Any
) -> None:
    _seed()
    fra = token(state="FRA")
    meetings = await gql(RECIPIENTS, {"a": "MEETINGS"}, fra)
    assert _emails(meetings, "FRA") == ["npc@fra.example.org"]
    assert _emails(meetings, "ISR") == []  # a participant with nobody: listed, empty
    assert {s["stateCode"] for s in meetings["data"]["noticeRecipients"]} == {"FRA", "DEU", "ISR"}
    parties = {s["stateCode"]: s["stateParty"] for s in meetings["data"]["noticeRecipients"]}
    assert parties == {"FRA": True, "DEU": True, "ISR": False}  # rule 8: ISR only signed
    info = await gql(RECIPIENTS, {"a": "INFORMATION", "s": ["FRA"]}, fra)
    assert _emails(info, "FRA") == ["enf@fra.example.org", "npc@fra.example.org"]
    i = {"stateCode": "FRA", "audience": "MEETINGS", "roles": ["DIEF_ENFORCEMENT_CONTACT"]}
    set_ = await gql(ROLES, {"i": i}, fra)
    assert set_["data"]["stateNoticeRolesSet"]["recipients"] == [
        {"email": "enf@fra.example.org", "role": "DIEF_ENFORCEMENT_CONTACT"}
    ]
    assert _emails(await gql(RECIPIENTS, {"a": "MEETINGS"}, fra), "FRA") == ["enf@fra.example.org"]
    # Another State, the Secretariat and nonsense are refused; nothing changes.
    assert error_codes(await gql(ROLES, {"i": i}, token(state="DEU"))) == ["FORBIDDEN"]
    sec = token(sub="sec", roles=("secretariat",), participant=False)
    assert error_codes(await gql(ROLES, {"i": i}, sec)) == ["FORBIDDEN"]
    assert error_codes(await gql(ROLES, {"i": {**i, "roles": []}}, fra)) == ["VALIDATION"]
    bad = await gql(RECIPIENTS, {"a": "MEETINGS", "s": ["fr'a"]}, fra)
    assert error_codes(bad) == ["VALIDATION"]
    outsider = await gql(RECIPIENTS, {"a": "MEETINGS"}, token(state="USA", participant=False))
    assert error_codes(outsider) == ["FORBIDDEN"]


async def test_alternates_are_told_when_nobody_holds_the_roles(
    gql: GraphQLClient, token: TokenFactory, contacts_app: Any
) -> None:
    made = _seed()
    handlers.archive_contact(SEC, made["npc@fra.example.org"].pk)
    found = await gql(RECIPIENTS, {"a": "MEETINGS", "s": ["FRA"]}, token(state="FRA"))
    assert _emails(found, "FRA") == ["alt@fra.example.org"]


async def test_a_contact_registers_a_checked_key_its_fingerprint_read_from_it(
    gql: GraphQLClient, token: TokenFactory, contacts_app: Any, pgp_keys: Keys
) -> None:
    made = _seed()
    from services.common.ids import to_global_id

    cid = to_global_id("Contact", made["npc@fra.example.org"].pk)
    fra = token(state="FRA")
    done = await gql(KEY, {"i": {"id": cid, "publicKey": pgp_keys.contact.public}}, fra)
    assert "errors" not in done, done
    contact = done["data"]["contactKeyRegister"]["contact"]
    assert contact["publicKeyFingerprint"] == contact["pgpFingerprint"]
    assert contact["publicKeyFingerprint"] == pgp_keys.contact.fingerprint
    assert contact["publicKey"].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    found = await gql(RECIPIENTS, {"a": "MEETINGS", "s": ["FRA"]}, fra)
    [npc] = found["data"]["noticeRecipients"][0]["recipients"]
    assert npc["publicKeyFingerprint"] == pgp_keys.contact.fingerprint
    for bad in ("nonsense", pgp_keys.contact.secret, pgp_keys.sign_only.public):
        refused = await gql(KEY, {"i": {"id": cid, "publicKey": bad}}, fra)
        assert error_codes(refused) == ["VALIDATION"]
    other = await gql(
        KEY, {"i": {"id": cid, "publicKey": pgp_keys.contact.public}}, token(state="DEU")
    )
    assert error_codes(other) == ["FORBIDDEN"]
    removed = await gql(KEY, {"i": {"id": cid, "publicKey": None}}, fra)
    assert removed["data"]["contactKeyRegister"]["contact"]["publicKey"] is None
