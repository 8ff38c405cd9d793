"""Publishing the DIEF directory into an OpenLDAP server configured by deploy/openldap:
full reconcile, drift repair, incremental updates from contact events, and the ACLs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import mongoengine
import pytest
from ldap3 import HASHED_SALTED_SHA, MODIFY_REPLACE, SUBTREE, Connection, Server
from ldap3.core.exceptions import LDAPException
from ldap3.utils.hashed import hashed

from services.common import mongo
from services.common.messaging import NatsLink
from services.common.settings import Settings
from services.contacts import handlers
from services.contacts.documents import ALIAS, Authority, Contact, State
from services.contacts.domain import AttStatus, AuthorityKind
from services.contacts.ldap_publish import (
    COALESCE,
    BatchPublisher,
    EmptyRegistry,
    PublishConfig,
    PublishNotConfigured,
    make_consumer,
    publish_full,
)
from services.contacts.ldap_tree import DirectoryLayout
from services.contacts.ldap_writer import LdapTarget
from services.dev.servers import ServerProcess
from services.dev.slapd import dief_directory_server
from tests.conftest import GraphQLClient, TokenFactory

BASE_DN = "dc=dief,dc=test"
ROOT_DN = f"cn=admin,{BASE_DN}"
LAYOUT = DirectoryLayout(BASE_DN)
PASSWORDS = {"FRA": "fra-secret", "USA": "usa-secret"}


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """slapd exactly as deploy/openldap configures it, with two States' bind accounts."""
    server = dief_directory_server(tmp_path_factory.mktemp("dief-directory")).start()
    conn = bind(server, ROOT_DN, "secret")
    for code, password in PASSWORDS.items():
        conn.add(
            LAYOUT.account_dn(code),
            ["organizationalRole", "simpleSecurityObject"],
            {"userPassword": hashed(HASHED_SALTED_SHA, password)},
        )
    conn.unbind()
    yield server
    server.stop()


def bind(server: ServerProcess, dn: str, password: str) -> Connection:
    return Connection(
        Server(f"ldap://127.0.0.1:{server.port}"),
        dn,
        password,
        auto_bind=True,
        raise_exceptions=True,
    )


def config(server: ServerProcess) -> PublishConfig:
    return PublishConfig(
        LdapTarget(
            url=f"ldap://127.0.0.1:{server.port}",
            bind_dn=LAYOUT.publisher_dn,
            password="publisher-secret",
        ),
        LAYOUT,
    )


def tree(conn: Connection, base: str = LAYOUT.states_dn) -> dict[str, dict[str, Any]]:
    """Every entry the connection may read under ``base``: DN -> attributes."""
    try:
        conn.search(base, "(objectClass=*)", SUBTREE, attributes=["*"])
    except LDAPException:
        return {}
    return {e.entry_dn: e.entry_attributes_as_dict for e in conn.entries}


@pytest.fixture
def registry(settings: Settings, clean_databases: None) -> Iterator[dict[str, Any]]:
    mongo.connect(ALIAS, settings.mongodb_uri, settings.contacts_db)
    State(code="FRA", name="France", status=AttStatus.STATE_PARTY).save()
    State(code="SGP", name="Singapore", status=AttStatus.SIGNATORY).save()
    State(code="USA", name="United States", status=AttStatus.NON_PARTY).save()
    fra = Authority(state_code="FRA", kind=AuthorityKind.CUSTOMS, name="Douane").save()
    usa = Authority(state_code="USA", kind=AuthorityKind.CUSTOMS, name="CBP").save()
    people = {
        "jean": Contact(
            authority_id=fra.pk,
            state_code="FRA",
            authority_kind=fra.kind,
            name="Jean Dupont",
            functional_email="enquetes@douane.example",
            phone="+33123456789",
        ).save(),
        "sam": Contact(
            authority_id=usa.pk,
            state_code="USA",
            authority_kind=usa.kind,
            name="Sam Smith",
            functional_email="sam@cbp.example",
        ).save(),
    }
    yield {"fra": fra, "usa": usa, **people}
    mongoengine.disconnect(ALIAS)


def test_a_full_publish_builds_the_tree_of_the_participants_only(
    directory: ServerProcess, registry: dict[str, Any]
) -> None:
    report = publish_full(config(directory))
    # ou=states, ou=FRA, ou=SGP, the authority and Jean; the bootstrap made the group
    assert (report.added, report.modified, report.deleted) == (5, 1, 0)
    published = tree(bind(directory, ROOT_DN, "secret"))
    jean = LAYOUT.contact_dn("FRA", registry["fra"].pk, registry["jean"].pk)
    assert set(published) == {
        LAYOUT.states_dn,
        LAYOUT.state_dn("FRA"),
        LAYOUT.state_dn("SGP"),
        LAYOUT.authority_dn("FRA", registry["fra"].pk),
        jean,
    }
    assert published[jean]["mail"] == ["enquetes@douane.example"]
    assert published[jean]["telephoneNumber"] == ["+33123456789"]
    assert set(published[jean]["objectClass"]) >= {"inetOrgPerson", "diefContact"}
    assert publish_full(config(directory)).changed is False, "a second run has nothing to do"


def test_a_full_publish_repairs_drift(directory: ServerProcess, registry: dict[str, Any]) -> None:
    publish_full(config(directory))
    root = bind(directory, ROOT_DN, "secret")
    jean = LAYOUT.contact_dn("FRA", registry["fra"].pk, registry["jean"].pk)
    stray = f"uid=stray,{LAYOUT.authority_dn('FRA', registry['fra'].pk)}"
    root.modify(jean, {"telephoneNumber": [(MODIFY_REPLACE, ["+33999999999"])]})
    root.add(stray, ["inetOrgPerson"], {"cn": "Stray", "sn": "Stray"})
    registry["jean"].update(set__title="Chef de bureau")
    report = publish_full(config(directory))
    assert (report.added, report.modified, report.deleted) == (0, 1, 1)
    published = tree(root)
    assert stray not in published
    assert published[jean]["telephoneNumber"] == ["+33123456789"]
    assert published[jean]["title"] == ["Chef de bureau"]


def test_an_empty_registry_never_empties_the_directory(
    directory: ServerProcess, registry: dict[str, Any]
) -> None:
    publish_full(config(directory))
    State.objects.delete()
    with pytest.raises(EmptyRegistry):
        publish_full(config(directory))
    assert LAYOUT.state_dn("FRA") in tree(bind(directory, ROOT_DN, "secret"))


def test_participants_read_the_tree_and_nobody_else_reads_anything(
    directory: ServerProcess, registry: dict[str, Any]
) -> None:
    publish_full(config(directory))
    fra = bind(directory, LAYOUT.account_dn("FRA"), PASSWORDS["FRA"])
    assert LAYOUT.state_dn("SGP") in tree(fra), "a participant reads every State's part"
    assert any("Jean Dupont" in str(a.get("cn")) for a in tree(fra).values())
    assert tree(fra, LAYOUT.accounts_dn) == {}, "and nothing outside the directory"
    with pytest.raises(LDAPException):
        fra.modify(LAYOUT.state_dn("FRA"), {"description": [(MODIFY_REPLACE, ["x"])]})

    usa = bind(directory, LAYOUT.account_dn("USA"), PASSWORDS["USA"])
    assert tree(usa) == {}, "a non-participant reads nothing"
    assert tree(usa, BASE_DN) == {}
    anonymous = Connection(Server(f"ldap://127.0.0.1:{directory.port}"), auto_bind=True)
    assert tree(anonymous) == {}
    with pytest.raises(LDAPException):
        bind(directory, LAYOUT.account_dn("FRA"), "wrong")

    # The USA ratifies: its account joins the participants group at the next publish.
    registry_state = State.objects(code="USA").first()
    registry_state.update(set__status=AttStatus.STATE_PARTY)
    publish_full(config(directory))
    usa = bind(directory, LAYOUT.account_dn("USA"), PASSWORDS["USA"])
    assert LAYOUT.state_dn("USA") in tree(usa)
    assert tree(usa, LAYOUT.participants_dn) == {}, "who takes part is not theirs to read"


async def test_contact_events_update_the_tree_through_a_durable_consumer(
    directory: ServerProcess,
    settings: Settings,
    contacts_app: Any,
    gql: GraphQLClient,
    token: TokenFactory,
) -> None:
    fra, cfg, link = await _published_police(directory, settings, "test-ldap-publisher")
    consumer = asyncio.ensure_future(make_consumer(link.js, cfg, stream=settings.stream_name).run())
    try:
        created = await _create_contact(gql, token, fra, "Claire Martin", "claire@police.example")
        contact = Contact.objects(functional_email="claire@police.example").first()
        dn = LAYOUT.contact_dn("FRA", fra.pk, contact.pk)
        root = bind(directory, ROOT_DN, "secret")
        assert await _eventually(lambda: dn in tree(root)), "the new contact is published"
        await gql(
            """mutation($input: ContactRefInput!) {
              contactArchive(input: $input) { contact { id } } }""",
            {"input": {"id": created["data"]["contactCreate"]["contact"]["id"]}},
            token(sub="marie", state="FRA"),
        )
        assert await _eventually(lambda: dn not in tree(root)), "the archived one removed"
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await link.close()


async def test_a_burst_of_contact_events_is_published_by_publishing_the_state_once(
    directory: ServerProcess,
    settings: Settings,
    contacts_app: Any,
    gql: GraphQLClient,
    token: TokenFactory,
) -> None:
    """An import's worth of events waiting in the stream: the consumer publishes the State
    whole and knows the events up to where the stream then ended are in the tree."""
    fra, cfg, link = await _published_police(directory, settings, "test-ldap-burst")
    before = (await link.js.stream_info(settings.stream_name)).state.last_seq
    count = 2 * COALESCE  # however a fetch splits them, one batch holds COALESCE of them
    for n in range(count):
        await _create_contact(gql, token, fra, f"Agent {n}", f"agent{n}@police.example")

    async def relayed() -> int:
        return (await link.js.stream_info(settings.stream_name)).state.last_seq - before

    for _ in range(150):
        if await relayed() >= count:
            break
        await asyncio.sleep(0.1)
    assert await relayed() >= count, "the relay published every event"
    last = (await link.js.stream_info(settings.stream_name)).state.last_seq

    consumer = make_consumer(link.js, cfg, stream=settings.stream_name)
    publisher = consumer.batch_handler
    assert isinstance(publisher, BatchPublisher)
    running = asyncio.ensure_future(consumer.run())
    try:
        root = bind(directory, ROOT_DN, "secret")
        dns = {LAYOUT.contact_dn("FRA", fra.pk, c.pk) for c in Contact.objects(authority_id=fra.pk)}
        assert len(dns) == count
        assert await _eventually(lambda: dns <= set(tree(root))), "every contact published"
        assert await _eventually(lambda: publisher.covered.get("FRA", 0) >= last)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await link.close()


async def _published_police(
    directory: ServerProcess, settings: Settings, client_name: str
) -> tuple[Authority, PublishConfig, NatsLink]:
    """FRA, a participant with a police authority, published; a NATS link for a consumer."""
    handlers.seed_states({"FRA": (AttStatus.STATE_PARTY, _ratified())})
    fra = Authority(state_code="FRA", kind=AuthorityKind.POLICE, name="Police").save()
    cfg = config(directory)
    await mongo.run_sync(publish_full, cfg)
    link = NatsLink(settings.nats_url, client_name, settings.stream_name, 1, 1)
    await link.run()
    assert link.js is not None
    return fra, cfg, link


async def _create_contact(
    gql: GraphQLClient, token: TokenFactory, authority: Authority, name: str, email: str
) -> dict[str, Any]:
    created = await gql(
        """mutation($input: ContactCreateInput!) {
          contactCreate(input: $input) { contact { id } } }""",
        {
            "input": {
                "authorityId": _global("Authority", authority.pk),
                "name": name,
                "functionalEmail": email,
            }
        },
        token(sub="marie", state="FRA"),
    )
    assert "errors" not in created, created
    return created


def _ratified() -> Any:
    from datetime import date

    from services.contacts.domain import StatusDates

    return StatusDates(signature=date(2013, 6, 3), ratification=date(2014, 4, 2))


def _global(kind: str, oid: Any) -> str:
    from services.common.ids import to_global_id

    return to_global_id(kind, oid)


async def _eventually(check: Any, seconds: float = 15.0) -> bool:
    for _ in range(int(seconds * 10)):
        if await asyncio.to_thread(check):
            return True
        await asyncio.sleep(0.1)
    return False


def test_publish_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIEF_TEST_PUBLISHER", "publisher-secret")
    good = {
        "ldap_publish_url": "ldaps://directory.dief.example",
        "ldap_publish_base_dn": BASE_DN,
        "ldap_publish_secret_ref": "env:DIEF_TEST_PUBLISHER",
    }
    config = PublishConfig.from_settings(Settings(**good))
    assert config.target.bind_dn == LAYOUT.publisher_dn
    assert config.target.password == "publisher-secret"
    assert "publisher-secret" not in repr(config)
    for change, words in (
        ({"ldap_publish_url": None}, "URL is not set"),
        ({"ldap_publish_url": "http://x"}, "must be ldap://"),
        ({"ldap_publish_base_dn": "not a dn"}, "BASE_DN"),
        ({"ldap_publish_secret_ref": "env:DIEF_TEST_UNSET"}, "is not set"),
        ({"env": "prod", "principal_jwks": "k.json", "ldap_publish_url": "ldap://x"}, "TLS"),
    ):
        with pytest.raises(PublishNotConfigured, match=words):
            PublishConfig.from_settings(Settings(**{**good, **change}))


def test_dief_ldap_publish_full_reconciles_once(
    directory: ServerProcess,
    registry: dict[str, Any],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from services.cli import main
    from services.common.settings import get_settings

    for name, value in {
        "DIEF_MONGODB_URI": settings.mongodb_uri,
        "DIEF_CONTACTS_DB": settings.contacts_db,
        "DIEF_LDAP_PUBLISH_URL": f"ldap://127.0.0.1:{directory.port}",
        "DIEF_LDAP_PUBLISH_BASE_DN": BASE_DN,
        "DIEF_LDAP_PUBLISH_SECRET_REF": "env:DIEF_TEST_PUBLISHER",
        "DIEF_TEST_PUBLISHER": "publisher-secret",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        root = bind(directory, ROOT_DN, "secret")
        jean = LAYOUT.contact_dn("FRA", registry["fra"].pk, registry["jean"].pk)
        assert jean not in tree(root), "each test's registry has new ids"
        assert main(["ldap", "publish", "--full"]) == 0
        assert "all participant States:" in capsys.readouterr().out
        assert jean in tree(root)
        assert main(["ldap", "publish", "--state", "FRA"]) == 0
        assert "FRA: 0 added, 0 modified, 0 deleted" in capsys.readouterr().out
        monkeypatch.setenv("DIEF_LDAP_PUBLISH_SECRET_REF", "env:DIEF_TEST_UNSET")
        get_settings.cache_clear()
        assert main(["ldap", "publish", "--full"]) == 2
        assert "DIEF_LDAP_PUBLISH_SECRET_REF" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
