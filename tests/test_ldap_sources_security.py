"""Attacks on LDAP sync sources by a State's own delegate: reading the server's secrets or
another State's, reaching internal hosts, and smuggling control characters."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from services.common.ids import to_global_id
from services.common.sealed import KeyRing, SealingUnavailable, new_key
from services.common.settings import Settings
from services.contacts.documents import Authority, State
from services.contacts.domain import AttStatus, AuthorityKind
from services.contacts.ldap_hosts import HostRefused, Target, check_allowed, pinned_address
from services.contacts.ldap_sources import LdapSyncSource, password_context
from tests.conftest import GraphQLClient, TokenFactory, error_codes

SOURCE_SET = """mutation($input: LdapSyncSourceInput!) {
  ldapSyncSourceSet(input: $input) { source { stateCode url hasBindPassword } }
}"""
RUN = """mutation($input: LdapSyncRunInput!) {
  ldapSyncRun(input: $input) { run { status errorKind error } }
}"""
PASSWORD = "fra-directory-password"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """As in production: only the operator's host patterns, no internal addresses."""
    return settings.model_copy(
        update={"ldap_sync_allowed_hosts": {"FRA": ["localhost", "*.douane.example"]}}
    )


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """An internal service on loopback: it must never be connected to."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def no_connection_reached(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return True
    return False


@pytest.fixture
async def fra(contacts_app: Any, token: TokenFactory) -> tuple[str, dict[str, Any]]:
    State(code="FRA", name="France", status=AttStatus.STATE_PARTY).save()
    State(code="DEU", name="Germany", status=AttStatus.STATE_PARTY).save()
    customs = Authority(state_code="FRA", kind=AuthorityKind.CUSTOMS, name="Douane").save()
    given = {
        "stateCode": "FRA",
        "url": "ldap://localhost:389",
        "bindDn": "cn=reader,dc=fra,dc=example",
        "bindPassword": PASSWORD,
        "baseDn": "dc=fra,dc=example",
        "authorityId": to_global_id("Authority", customs.pk),
    }
    return token(sub="marie", state="FRA"), given


@pytest.mark.parametrize(
    "smuggled",
    [{"secretRef": "env:MONGODB_URI"}, {"secretRef": "file:/etc/shadow"}, {"caFile": "/etc/hosts"}],
)
async def test_a_source_cannot_name_a_variable_or_a_file(
    fra: tuple[str, dict[str, Any]], gql: GraphQLClient, smuggled: dict[str, str]
) -> None:
    delegate, given = fra
    refused = await gql(SOURCE_SET, {"input": dict(given, **smuggled)}, delegate)
    assert refused.get("errors") and refused.get("data") is None
    assert LdapSyncSource.objects.count() == 0


async def test_the_password_is_sealed_never_returned_and_bound_to_host_and_bind_dn(
    fra: tuple[str, dict[str, Any]], gql: GraphQLClient, settings: Settings
) -> None:
    delegate, given = fra
    saved = await gql(SOURCE_SET, {"input": given}, delegate)
    assert saved["data"]["ldapSyncSourceSet"]["source"]["hasBindPassword"] is True, saved
    stored = MongoClient(settings.mongodb_uri)[settings.contacts_db]["ldap_sources"].find_one()
    assert PASSWORD not in str(stored)
    # A stolen session points the source at another host to receive the stored password:
    moved = dict(given, url="ldap://evil.douane.example")
    del moved["bindPassword"]
    refused = await gql(SOURCE_SET, {"input": moved}, delegate)
    assert error_codes(refused) == ["VALIDATION"]
    assert refused["errors"][0]["extensions"]["field"] == "bindPassword"
    other_dn = dict(given, bindDn="cn=admin,dc=fra,dc=example")
    del other_dn["bindPassword"]
    assert error_codes(await gql(SOURCE_SET, {"input": other_dn}, delegate)) == ["VALIDATION"]
    same = dict(given)
    del same["bindPassword"]
    kept = await gql(SOURCE_SET, {"input": same}, delegate)
    assert kept["data"]["ldapSyncSourceSet"]["source"]["hasBindPassword"] is True


def test_a_sealed_password_opens_only_for_its_state_host_and_bind_dn() -> None:
    ring = KeyRing.from_text([new_key()])
    dn = "cn=reader,dc=fra,dc=example"
    sealed = ring.seal(PASSWORD, password_context("FRA", "ldap://ldap.douane.example", dn))
    assert ring.open(sealed, password_context("FRA", "ldaps://ldap.douane.example:636", dn))
    for context in (
        password_context("DEU", "ldap://ldap.douane.example", dn),
        password_context("FRA", "ldap://evil.example", dn),
        password_context("FRA", "ldap://ldap.douane.example", "cn=admin,dc=fra,dc=example"),
    ):
        with pytest.raises(SealingUnavailable):
            ring.open(sealed, context)
    with pytest.raises(SealingUnavailable):
        KeyRing.from_text([new_key()]).open(sealed, password_context("FRA", "ldap://x", dn))
    old_key = new_key()
    before = KeyRing.from_text([old_key]).seal(PASSWORD, "c")
    rotated = KeyRing.from_text([new_key(), old_key])
    assert rotated.open(before, "c") == PASSWORD, "the old key still opens after rotation"
    assert rotated.seal("x", "c") != rotated.seal("x", "c"), "a fresh nonce every time"


async def test_hosts_are_the_operators_choice(
    fra: tuple[str, dict[str, Any]], gql: GraphQLClient
) -> None:
    delegate, given = fra
    for url in ("ldap://127.0.0.1:27017", "ldap://169.254.169.254", "ldap://ldap.attacker.example"):
        refused = await gql(SOURCE_SET, {"input": dict(given, url=url)}, delegate)
        assert error_codes(refused) == ["VALIDATION"], url
        assert refused["errors"][0]["extensions"]["field"] == "url"
    unverified = dict(given, verifyCertificates=False)
    assert error_codes(await gql(SOURCE_SET, {"input": unverified}, delegate)) == ["VALIDATION"]
    assert LdapSyncSource.objects.count() == 0


async def test_an_allowed_name_that_resolves_to_loopback_is_never_connected_to(
    fra: tuple[str, dict[str, Any]],
    gql: GraphQLClient,
    listener: socket.socket,
) -> None:
    delegate, given = fra
    port = listener.getsockname()[1]
    saved = await gql(SOURCE_SET, {"input": dict(given, url=f"ldap://localhost:{port}")}, delegate)
    assert "errors" not in saved, saved
    result = await gql(RUN, {"input": {"stateCode": "FRA", "full": True}}, delegate)
    run = result["data"]["ldapSyncRun"]["run"]
    assert (run["status"], run["errorKind"]) == ("FAILED", "HOST")
    assert "internal address" in run["error"] and "request id" in run["error"]
    assert "127.0.0.1" not in run["error"] and str(port) not in run["error"]
    assert no_connection_reached(listener)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"filter": "(cn=" + "x" * 3000 + ")"}, "filter"),
        ({"filter": "(cn=a\x00)"}, "filter"),
        ({"baseDn": "dc=fra,\ndc=example"}, "baseDn"),
        ({"bindDn": "cn=reader\x1b[2J,dc=fra"}, "bindDn"),
        ({"url": "ldap://localhost\r\n:389"}, "url"),
        ({"bindPassword": "x" * 300}, "bindPassword"),
        (
            {"caCertificates": "-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----"},
            "caCertificates",
        ),
    ],
)
async def test_free_text_settings_have_limits_and_no_control_characters(
    fra: tuple[str, dict[str, Any]], gql: GraphQLClient, change: dict[str, str], field: str
) -> None:
    delegate, given = fra
    refused = await gql(SOURCE_SET, {"input": dict(given, **change)}, delegate)
    assert error_codes(refused) == ["VALIDATION"], refused
    assert refused["errors"][0]["extensions"]["field"] == field


def test_the_run_connects_only_to_checked_addresses(settings: Settings) -> None:
    private = settings.model_copy(update={"ldap_sync_allowed_hosts": {"FRA": ["10.0.0.0/8"]}})
    assert pinned_address("FRA", Target("ldap", "10.1.2.3", 389), private) == "10.1.2.3"
    with pytest.raises(HostRefused):
        pinned_address("DEU", Target("ldap", "10.1.2.3", 389), private)
    wildcard = settings.model_copy(update={"ldap_sync_allowed_hosts": {"*": ["*"]}})
    for host in ("127.0.0.1", "localhost", "169.254.169.254", "10.1.2.3", "0.0.0.0", "::1"):
        with pytest.raises(HostRefused):
            pinned_address("FRA", Target("ldap", host, 389), wildcard)
    with pytest.raises(HostRefused):
        check_allowed("FRA", "ldap.douane.example.attacker.net", settings)
    check_allowed("FRA", "ldap.douane.example", settings)


def test_production_refuses_the_dev_allowance() -> None:
    with pytest.raises(ValueError, match="dev only"):
        Settings(env="prod", principal_jwks="/x", ldap_sync_allow_internal_hosts=True)
