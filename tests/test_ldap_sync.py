"""Importing a national LDAP directory into the DIEF directory, against a real slapd."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mongoengine
import pytest
from ldap3 import MODIFY_REPLACE, Connection, Server
from pymongo import MongoClient

from services.common import mongo
from services.common.ids import to_global_id
from services.common.settings import Settings
from services.contacts import ldap_import
from services.contacts.documents import (
    ALIAS,
    Authority,
    ChangeRecord,
    Contact,
    State,
    utcnow,
)
from services.contacts.domain import AttStatus, AuthorityKind
from services.contacts.ldap_import import run_sync
from services.contacts.ldap_mapping import mapping_with_overrides, requested_attributes
from services.contacts.ldap_reader import SourceConnection, connect, read_entries
from services.contacts.ldap_schedule import full_run_due, run_due
from services.contacts.ldap_sources import LdapSyncRun, LdapSyncSource, seal_password
from services.dev.servers import ServerProcess, free_port
from services.dev.slapd import slapd_server, throwaway_certificates
from tests.conftest import GraphQLClient, TokenFactory, error_codes

SUFFIX = "dc=fra,dc=example"
ADMIN = f"cn=admin,{SUFFIX}"
READER = f"cn=reader,{SUFFIX}"
READER_PASSWORD = "reader-password"
_bases = itertools.count(1)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test directories listen on loopback: allowed here as the operator allows it in dev."""
    return settings.model_copy(
        update={
            "ldap_sync_allowed_hosts": {"FRA": ["127.0.0.1"]},
            "ldap_sync_allow_internal_hosts": True,
        }
    )


def admin(port: int) -> Connection:
    return Connection(
        Server(f"ldap://127.0.0.1:{port}"), ADMIN, "secret", auto_bind=True, raise_exceptions=True
    )


def populate_root(port: int) -> None:
    conn = admin(port)
    conn.add(SUFFIX, ["dcObject", "organization"], {"o": "Douane", "dc": "fra"})
    conn.add(
        READER, ["organizationalRole", "simpleSecurityObject"], {"userPassword": READER_PASSWORD}
    )
    conn.unbind()


@pytest.fixture(scope="module")
def source_ldap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("source-ldap")
    server = slapd_server(root, suffix=SUFFIX, root_dn=ADMIN).start()
    populate_root(server.port)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_ldap(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, Path, int]]:
    """A source offering StartTLS on its ldap:// port and TLS on an ldaps:// one."""
    root = tmp_path_factory.mktemp("source-ldap-tls")
    ca, cert, key = throwaway_certificates(root / "tls")
    ldaps_port = free_port()
    server = slapd_server(
        root, suffix=SUFFIX, root_dn=ADMIN, tls=(cert, key), ldaps_port=ldaps_port
    ).start()
    populate_root(server.port)
    yield server, ca, ldaps_port
    server.stop()


def person(uid: str, **attributes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "cn": f"Agent {uid}",
        "sn": uid,
        "mail": f"{uid}@douane.example",
        "telephoneNumber": "+33 1 23 45 67 89",
    }
    values.update(attributes)
    return {k: v for k, v in values.items() if v is not None}


class People:
    """A branch of the source directory of its own, for one test."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.base = f"ou=people{next(_bases)},{SUFFIX}"
        self.conn = admin(port)
        self.conn.add(self.base, ["organizationalUnit"])

    def dn(self, uid: str) -> str:
        return f"uid={uid},{self.base}"

    def add(self, uid: str, **attributes: Any) -> None:
        self.conn.add(self.dn(uid), ["inetOrgPerson"], person(uid, **attributes))

    def change(self, uid: str, **attributes: Any) -> None:
        self.conn.modify(self.dn(uid), {k: [(MODIFY_REPLACE, [v])] for k, v in attributes.items()})

    def delete(self, uid: str) -> None:
        self.conn.delete(self.dn(uid))


@pytest.fixture
def registry(settings: Settings, clean_databases: None) -> Iterator[Authority]:
    mongo.connect(ALIAS, settings.mongodb_uri, settings.contacts_db)
    State(code="FRA", name="France", status=AttStatus.STATE_PARTY).save()
    customs = Authority(state_code="FRA", kind=AuthorityKind.CUSTOMS, name="Douane").save()
    yield customs
    mongoengine.disconnect(ALIAS)


@pytest.fixture
def people(source_ldap: ServerProcess) -> People:
    return People(source_ldap.port)


@pytest.fixture
def source(registry: Authority, people: People, settings: Settings) -> LdapSyncSource:
    url = f"ldap://127.0.0.1:{people.port}"
    return LdapSyncSource(
        state_code="FRA",
        url=url,
        bind_dn=READER,
        bind_password_sealed=seal_password(settings, "FRA", url, READER, READER_PASSWORD),
        base_dn=people.base,
        authority_id=registry.pk,
    ).save()


_SETTINGS: list[Settings] = []


@pytest.fixture(autouse=True)
def _sync_settings(settings: Settings) -> Iterator[None]:
    _SETTINGS.append(settings)
    yield
    _SETTINGS.pop()


def sync(*, full: bool = False, dry_run: bool = False, page_size: int = 500) -> LdapSyncRun:
    return run_sync(
        "FRA",
        settings=_SETTINGS[-1],
        full=full,
        dry_run=dry_run,
        started_by="tester",
        trigger="CLI",
        page_size=page_size,
    )


def synced() -> dict[str, Contact]:
    return {c.ldap_dn.split(",")[0][4:]: c for c in Contact.objects(source="LDAP")}


def actions(run: LdapSyncRun) -> list[tuple[str, str]]:
    return sorted((d.action, (d.dn or d.key or "").split(",")[0]) for d in run.details)


# --- full, incremental, deletion ---------------------------------------------------------


def test_a_full_sync_reads_page_by_page_and_adds_every_entry(
    source: LdapSyncSource, people: People
) -> None:
    for n in range(7):
        people.add(f"agent{n}", title="Inspecteur", preferredLanguage="fr-FR, en;q=0.8")
    run = sync(full=True, page_size=3)
    assert (run.status, run.error) == ("SUCCEEDED", None)
    assert (run.read, run.pages, run.added, run.changed, run.archived) == (7, 3, 7, 0, 0)
    assert (run.started_by, run.trigger, run.full) == ("tester", "CLI", True)
    assert run.finished_at >= run.started_at
    contacts = synced()
    assert len(contacts) == 7
    one = contacts["agent3"]
    assert (one.name, one.functional_email, one.phone, one.title, one.languages) == (
        "Agent agent3",
        "agent3@douane.example",
        "+33123456789",
        "Inspecteur",
        ["fr", "en"],  # preferredLanguage order
    )
    assert (one.state_code, one.authority_kind, one.ldap_source) == ("FRA", "CUSTOMS", "FRA")
    assert one.last_verified_at is not None
    assert ChangeRecord.objects(entity="Contact", action="CREATED").count() == 7
    outbox = mongo.database(ALIAS)["outbox"]
    assert outbox.count_documents({"subject": "dief.contacts.contact.changed"}) == 7
    again = sync(full=True)
    assert (again.status, again.added, again.changed, again.unchanged) == ("SUCCEEDED", 0, 0, 7)


def test_an_incremental_sync_reads_only_what_changed(
    source: LdapSyncSource, people: People
) -> None:
    for n in range(5):
        people.add(f"agent{n}")
    first = sync()
    assert first.full and first.added == 5, "the first run of a source is a full one"
    people.change("agent2", title="Chef de bureau")
    people.add("agent9")
    run = sync()
    assert (run.status, run.full) == ("SUCCEEDED", False)
    assert run.since == first.watermark
    assert run.read == 2, "it reads the changed entries, not all of them"
    assert run.since_attribute == "entryCSN"
    assert (run.added, run.changed, run.archived) == (1, 1, 0)
    assert synced()["agent2"].title == "Chef de bureau"
    assert "agent9" in synced()


def test_an_entry_gone_from_the_source_archives_its_contact(
    source: LdapSyncSource, people: People
) -> None:
    for n in range(3):
        people.add(f"agent{n}")
    sync(full=True)
    people.delete("agent1")
    incremental = sync()
    assert incremental.archived == 0, "an incremental run cannot see deletions"
    run = sync(full=True)
    assert (run.status, run.archived) == ("SUCCEEDED", 1)
    gone = synced()["agent1"]
    assert gone.archived_at is not None
    assert Contact.objects(id=gone.pk).count() == 1, "archived, never deleted"
    people.add("agent1")  # a new entry: another entryUUID, the same address
    back = sync(full=True)
    assert back.status == "FAILED"
    assert "agent1@douane.example is already used" in back.details[0].reason


def test_many_changes_at_once_are_read_by_source_and_applied_alike(
    source: LdapSyncSource, people: People, registry: Authority, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_hand = Contact(
        authority_id=registry.pk,
        state_code="FRA",
        authority_kind=AuthorityKind.CUSTOMS,
        name="Saisi à la main",
        functional_email="main@douane.example",
    ).save()
    for n in range(4):
        people.add(f"agent{n}")
    sync(full=True)
    monkeypatch.setattr(ldap_import, "LOAD_BY_ID_MAX", 1)
    people.change("agent0", title="Chef")
    people.change("agent1", title="Cheffe")
    people.delete("agent3")
    run = sync(full=True)
    assert (run.status, run.changed, run.archived, run.unchanged) == ("SUCCEEDED", 2, 1, 1)
    contacts = synced()
    assert (contacts["agent0"].title, contacts["agent1"].title) == ("Chef", "Cheffe")
    assert contacts["agent0"].version == 2 and contacts["agent2"].version == 1
    assert contacts["agent3"].archived_at is not None
    assert ChangeRecord.objects(action="UPDATED").count() == 2
    assert ChangeRecord.objects(action="ARCHIVED").count() == 1
    outbox = mongo.database(ALIAS)["outbox"]
    assert outbox.count_documents({"subject": "dief.contacts.contact.changed"}) == 4 + 3
    kept = Contact.objects(id=by_hand.pk).first()
    assert (kept.title, kept.version) == (None, 0)


def test_contacts_entered_by_hand_are_never_touched(
    source: LdapSyncSource, people: People, registry: Authority
) -> None:
    by_hand = Contact(
        authority_id=registry.pk,
        state_code="FRA",
        authority_kind=AuthorityKind.CUSTOMS,
        name="Saisi à la main",
        functional_email="main@douane.example",
    ).save()
    people.add("agent0")
    assert sync(full=True).added == 1
    people.delete("agent0")
    assert sync(full=True).archived == 1
    kept = Contact.objects(id=by_hand.pk).first()
    assert (kept.archived_at, kept.name, kept.version) == (None, "Saisi à la main", 0)


def test_a_dry_run_returns_the_diff_and_writes_nothing_but_its_record(
    source: LdapSyncSource, people: People
) -> None:
    for n in range(3):
        people.add(f"agent{n}")
    sync(full=True)
    people.change("agent0", title="Directeur")
    people.delete("agent1")
    people.add("agent5")
    run = sync(full=True, dry_run=True)
    assert (run.status, run.dry_run) == ("SUCCEEDED", True)
    assert actions(run) == [
        ("ADDED", "uid=agent5"),
        ("ARCHIVED", synced()["agent1"].ldap_key),
        ("CHANGED", "uid=agent0"),
    ]
    assert [d.fields for d in run.details if d.action == "CHANGED"] == [["title"]]
    assert synced()["agent0"].title is None
    assert synced()["agent1"].archived_at is None
    assert "agent5" not in synced()
    assert sync().since == LdapSyncRun.objects(dry_run=False).order_by("started_at")[0].watermark


def test_the_mapping_can_be_overridden(source: LdapSyncSource, people: People) -> None:
    source.mapping = {"name": "displayName", "phone": "homePhone", "title": None}
    source.save()
    people.add("agent0", displayName="Jeanne Martin", homePhone="+33 6 12 34 56 78", title="X")
    run = sync(full=True)
    assert run.status == "SUCCEEDED", run.error
    one = synced()["agent0"]
    assert (one.name, one.phone, one.title) == ("Jeanne Martin", "+33612345678", None)


# --- bad input and faults: all or nothing ------------------------------------------------


def test_entries_without_mail_or_with_a_bad_phone_fail_the_run_with_reasons(
    source: LdapSyncSource, people: People
) -> None:
    people.add("good")
    people.add("nomail", mail=None)
    people.add("badphone", telephoneNumber="01 23 45")
    run = sync(full=True)
    assert (run.status, run.error_kind, run.rejected, run.added) == ("FAILED", "REJECTED", 2, 1)
    reasons = {d.dn.split(",")[0]: d.reason for d in run.details if d.action == "REJECTED"}
    assert "no mail" in reasons["uid=nomail"]
    assert "not an international phone number" in reasons["uid=badphone"]
    assert Contact.objects.count() == 0, "a failed run applies nothing, not even the good entry"


@pytest.mark.parametrize(
    ("change", "kind", "words"),
    [
        ({"url": f"ldap://127.0.0.1:{free_port()}"}, "UNREACHABLE", "cannot connect"),
        ({"password": "not-the-password"}, "CREDENTIALS", "refused the bind"),
        ({"bind_password_sealed": None}, "SECRET", "no usable bind password"),
        ({"base_dn": f"ou=nowhere,{SUFFIX}"}, "BASE_DN", "base DN was not found"),
    ],
)
def test_a_source_that_cannot_be_read_fails_the_run_and_archives_nothing(
    source: LdapSyncSource,
    people: People,
    settings: Settings,
    change: dict[str, str],
    kind: str,
    words: str,
) -> None:
    people.add("agent0")
    assert sync(full=True).added == 1
    for name, value in change.items():
        if name == "password":
            source.bind_password_sealed = seal_password(settings, "FRA", source.url, READER, value)
        else:
            setattr(source, name, value)
    source.save()
    run = sync(full=True)
    assert (run.status, run.error_kind) == ("FAILED", kind)
    assert words in run.error
    assert run.request_id and f"request id {run.request_id}" in run.error
    assert READER_PASSWORD not in run.error
    assert "127.0.0.1" not in run.error and str(source.url) not in run.error
    assert synced()["agent0"].archived_at is None
    assert LdapSyncRun.objects(status="RUNNING").count() == 0


def test_an_empty_answer_never_archives_everything(source: LdapSyncSource, people: People) -> None:
    people.add("agent0")
    sync(full=True)
    source.filter = "(objectClass=device)"  # matches nothing, as a bind without rights would
    source.save()
    run = sync(full=True)
    assert (run.status, run.error_kind) == ("FAILED", "EMPTY")
    assert synced()["agent0"].archived_at is None


@pytest.mark.parametrize("scheme", ["starttls", "ldaps"])
def test_tls_is_checked_against_the_configured_ca(
    registry: Authority,
    tls_ldap: tuple[ServerProcess, Path, int],
    settings: Settings,
    scheme: str,
) -> None:
    server, ca, ldaps_port = tls_ldap
    branch = People(server.port)
    branch.add("agent0")
    url = (
        f"ldap://127.0.0.1:{server.port}"
        if scheme == "starttls"
        else f"ldaps://127.0.0.1:{ldaps_port}"
    )
    source = LdapSyncSource(
        state_code="FRA",
        url=url,
        start_tls=scheme == "starttls",
        bind_dn=READER,
        bind_password_sealed=seal_password(settings, "FRA", url, READER, READER_PASSWORD),
        base_dn=branch.base,
        authority_id=registry.pk,
    ).save()
    refused = sync(full=True)
    assert (refused.status, refused.error_kind) == ("FAILED", "TLS"), refused.error
    assert READER_PASSWORD not in refused.error
    assert Contact.objects.count() == 0
    source.ca_certificates = ca.read_text()
    source.save()
    run = sync(full=True)
    assert (run.status, run.added) == ("SUCCEEDED", 1), run.error


def test_entries_are_read_as_ldap3_reads_them(people: People) -> None:
    people.add("ana", cn=["Ana López", "Ana"], ou="Enquêtes", mail=["ana@douane.example", "a@x.eu"])
    people.add("bo", title="Chef")
    conn = connect(SourceConnection(f"ldap://127.0.0.1:{people.port}", READER, READER_PASSWORD))
    wanted = requested_attributes(mapping_with_overrides(None))
    every = "(objectClass=inetOrgPerson)"
    found = read_entries(
        conn,
        base_dn=people.base,
        search_filter=every,
        scope="SUBTREE",
        attributes=wanted,
        page_size=1,
    )
    assert found.pages >= 2
    conn.search(people.base, every, attributes=wanted)
    entries = [r for r in conn.response or [] if r["type"] == "searchResEntry"]
    conn.unbind()
    assert {e.dn: dict(e.attributes) for e in found.entries} == {
        r["dn"]: {k: [v.decode() for v in vs] for k, vs in r["raw_attributes"].items() if vs}
        for r in entries
    }
    assert found.entries[0].values("cn") == ["Ana López", "Ana"]
    assert all(r["attributes"]["mail"] for r in entries), "afterwards ldap3 decodes as before"


def test_filter_values_are_escaped(source: LdapSyncSource, people: People) -> None:
    people.add("agent0")
    first = sync(full=True)
    run = LdapSyncRun.objects(id=first.pk).first()
    run.watermark = "*)(uid=*"  # what a hostile or broken server could have sent
    run.watermark_attribute = "modifyTimestamp"
    run.save()
    after = sync()
    assert after.since == "*)(uid=*"
    assert after.status == "SUCCEEDED", after.error
    assert after.read == 0, "the value is compared, never read as filter syntax"


# --- the schedule ------------------------------------------------------------------------


def test_the_schedule_runs_full_then_incremental_then_full_when_due(
    source: LdapSyncSource, people: People, settings: Settings
) -> None:
    people.add("agent0")
    start = utcnow()
    first = run_due(settings, start)
    assert [(r.trigger, r.started_by, r.full, r.status) for r in first] == [
        ("SCHEDULE", "schedule", True, "SUCCEEDED")
    ]
    assert [r.full for r in run_due(settings, start + timedelta(hours=1))] == [False]
    assert [r.full for r in run_due(settings, start + timedelta(hours=25))] == [True]
    source.enabled = False
    source.save()
    assert run_due(settings, start + timedelta(hours=50)) == []


def test_full_runs_are_due_once_the_last_one_is_old_enough() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    day = timedelta(hours=24)
    assert full_run_due(None, now, day)
    assert not full_run_due(now - timedelta(hours=23), now, day)
    assert full_run_due(now - day, now, day)


# --- over GraphQL: sources, runs, records ------------------------------------------------

SOURCE_SET = """mutation($input: LdapSyncSourceInput!) {
  ldapSyncSourceSet(input: $input) {
    source { stateCode url bindDn hasBindPassword baseDn filter mapping { field attribute } }
  }
}"""
RUN = """mutation($input: LdapSyncRunInput!) {
  ldapSyncRun(input: $input) {
    run { status errorKind error full dryRun trigger startedBy read added changed archived
          rejected details { action dn reason fields } }
  }
}"""
RUNS = """query($code: String!) {
  ldapSyncRuns(stateCode: $code) { status dryRun added startedBy }
}"""


@pytest.fixture
async def api_source(
    contacts_app: Any,
    gql: GraphQLClient,
    token: TokenFactory,
    people: People,
) -> dict[str, Any]:
    State(code="FRA", name="France", status=AttStatus.STATE_PARTY).save()
    State(code="DEU", name="Germany", status=AttStatus.STATE_PARTY).save()
    customs = Authority(state_code="FRA", kind=AuthorityKind.CUSTOMS, name="Douane").save()
    source_input = {
        "stateCode": "FRA",
        "url": f"ldap://127.0.0.1:{people.port}",
        "bindDn": READER,
        "bindPassword": READER_PASSWORD,
        "baseDn": people.base,
        "authorityId": to_global_id("Authority", customs.pk),
        "filter": "(&(objectClass=inetOrgPerson)(!(uid=external*)))",
        "mapping": [{"field": "title", "attribute": "description"}],
    }
    return source_input


async def test_a_state_keeps_its_source_and_the_password_is_never_stored(
    api_source: dict[str, Any], gql: GraphQLClient, token: TokenFactory, settings: Settings
) -> None:
    fra = token(sub="marie", state="FRA")
    for bad in ({"url": "http://example.org"}, {"baseDn": "not a dn"}, {"filter": "(cn=x"}):
        result = await gql(SOURCE_SET, {"input": dict(api_source, **bad)}, fra)
        assert error_codes(result) == ["VALIDATION"], bad
    other = await gql(SOURCE_SET, {"input": api_source}, token(sub="hans", state="DEU"))
    assert error_codes(other) == ["FORBIDDEN"]

    saved = await gql(SOURCE_SET, {"input": api_source}, fra)
    assert "errors" not in saved, saved
    source = saved["data"]["ldapSyncSourceSet"]["source"]
    assert source["hasBindPassword"] is True
    assert READER_PASSWORD not in str(saved)
    mapping = {m["field"]: m["attribute"] for m in source["mapping"]}
    assert (mapping["title"], mapping["functional_email"]) == ("description", "mail")
    stored = MongoClient(settings.mongodb_uri)[settings.contacts_db]
    assert READER_PASSWORD not in str(list(stored["ldap_sources"].find()))


async def test_runs_from_the_mutation_are_recorded_with_their_diff(
    api_source: dict[str, Any], gql: GraphQLClient, token: TokenFactory, people: People
) -> None:
    fra = token(sub="marie", state="FRA")
    assert "errors" not in await gql(SOURCE_SET, {"input": api_source}, fra)
    people.add("agent0", description="Inspectrice")
    people.add("external1")  # left out by the source's filter
    people.add("nomail", mail=None)
    dry = (await gql(RUN, {"input": {"stateCode": "FRA", "dryRun": True}}, fra))["data"]
    run = dry["ldapSyncRun"]["run"]
    assert (run["status"], run["errorKind"], run["dryRun"], run["trigger"]) == (
        "FAILED",
        "REJECTED",
        True,
        "API",
    )
    assert sorted((d["action"], d["dn"].split(",")[0]) for d in run["details"]) == [
        ("ADDED", "uid=agent0"),
        ("REJECTED", "uid=nomail"),
    ]
    people.delete("nomail")
    applied = await gql(RUN, {"input": {"stateCode": "FRA", "full": True}}, fra)
    run = applied["data"]["ldapSyncRun"]["run"]
    assert (run["status"], run["added"], run["startedBy"]) == ("SUCCEEDED", 1, "marie")
    assert Contact.objects(source="LDAP").first().title == "Inspectrice"
    runs = (await gql(RUNS, {"code": "FRA"}, fra))["data"]["ldapSyncRuns"]
    assert [(r["status"], r["dryRun"]) for r in runs] == [("SUCCEEDED", False), ("FAILED", True)]
    denied = await gql(RUN, {"input": {"stateCode": "FRA"}}, token(sub="hans", state="DEU"))
    assert error_codes(denied) == ["FORBIDDEN"]
    denied = await gql(RUNS, {"code": "FRA"}, token(sub="hans", state="DEU"))
    assert error_codes(denied) == ["FORBIDDEN"]
    missing = await gql(RUN, {"input": {"stateCode": "DEU"}}, token(sub="hans", state="DEU"))
    assert error_codes(missing) == ["NOT_FOUND"]


# --- from the command line ---------------------------------------------------------------


def test_dief_ldap_sync_prints_the_diff_and_says_how_it_went(
    source: LdapSyncSource,
    people: People,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from services.cli import main
    from services.common.settings import get_settings

    monkeypatch.setenv("DIEF_MONGODB_URI", settings.mongodb_uri)
    monkeypatch.setenv("DIEF_CONTACTS_DB", settings.contacts_db)
    monkeypatch.setenv("DIEF_HOME", str(settings.home))  # where the dev sealing key is
    monkeypatch.setenv("DIEF_LDAP_SYNC_ALLOWED_HOSTS", '{"FRA": ["127.0.0.1"]}')
    monkeypatch.setenv("DIEF_LDAP_SYNC_ALLOW_INTERNAL_HOSTS", "true")
    get_settings.cache_clear()
    try:
        people.add("agent0")
        assert main(["ldap", "sync", "fra", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "FRA: full dry run SUCCEEDED: 1 read, 1 added" in out
        assert f"ADDED    uid=agent0,{people.base}" in out
        assert Contact.objects.count() == 0
        assert main(["ldap", "sync", "FRA", "--full"]) == 0
        assert "1 added" in capsys.readouterr().out
        people.add("nomail", mail=None)
        assert main(["ldap", "sync", "FRA"]) == 1
        out = capsys.readouterr().out
        assert "incremental" in out and "FAILED" in out and "no mail" in out
        assert main(["ldap", "sync", "DEU"]) == 2
        assert "DEU has no LDAP sync source" in capsys.readouterr().err
        runs = LdapSyncRun.objects(state_code="FRA").order_by("started_at")
        assert {(r.trigger, r.started_by.startswith("cli:")) for r in runs} == {("CLI", True)}
    finally:
        get_settings.cache_clear()


def test_a_one_level_source_leaves_deeper_entries_out(
    source: LdapSyncSource, people: People
) -> None:
    people.add("agent0")
    people.conn.add(f"ou=retired,{people.base}", ["organizationalUnit"])
    people.conn.add(f"uid=old,ou=retired,{people.base}", ["inetOrgPerson"], person("old"))
    source.scope = "ONE_LEVEL"
    source.save()
    run = sync(full=True)
    assert (run.status, run.read, run.added) == ("SUCCEEDED", 1, 1)
    assert set(synced()) == {"agent0"}


def test_the_contacts_service_runs_the_schedule_and_the_publisher_only_when_set_up(
    settings: Settings,
) -> None:
    from services.contacts.ldap_schedule import SyncSchedule, background_work

    assert background_work(settings) == []
    scheduled = settings.model_copy(update={"ldap_sync_interval_minutes": 15})
    (make,) = background_work(scheduled)
    runtime = type("Runtime", (), {"settings": scheduled})()
    assert isinstance(make(runtime), SyncSchedule)
    publishing = settings.model_copy(update={"ldap_publish_url": "ldaps://directory.example"})
    assert len(background_work(publishing)) == 1


async def test_the_schedule_loop_syncs_then_waits_its_interval(
    source: LdapSyncSource, people: People, settings: Settings
) -> None:
    import asyncio

    from services.contacts.ldap_schedule import SyncSchedule

    people.add("agent0")
    waited: list[float] = []

    async def stop_after_one_round(seconds: float) -> None:
        waited.append(seconds)
        raise asyncio.CancelledError

    schedule = SyncSchedule(
        settings.model_copy(update={"ldap_sync_interval_minutes": 5}), sleep=stop_after_one_round
    )
    with pytest.raises(asyncio.CancelledError):
        await schedule.run()
    assert waited == [300.0]
    run = LdapSyncRun.objects(trigger="SCHEDULE").first()
    assert (run.status, run.full, run.added) == ("SUCCEEDED", True, 1)
