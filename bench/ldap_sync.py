"""How fast a national LDAP directory is imported: ``.venv/bin/python bench/ldap_sync.py [N]``.

Starts a private slapd and MongoDB-wire server, loads N entries (10,000 by default) into
slapd, and prints:

- the full import: entries per second (target: at least 2,000);
- after changing 10 entries, the incremental sync: how long it took and how many entries it
  read (target: under 1 s, reading the changed entries rather than all N);
- after changing 10 more, a full run again (what a scheduled full run does: read all,
  compare all, write 10), in the worst case for it: no value known checked yet;
- each run's phases (read, mapping and checks, transaction) with their rates, and how many
  bare documents per second the MongoDB-wire server takes, the floor under the writes;
- how long the import takes to reach the published DIEF directory: the outbox relay
  publishing its events to JetStream and the LDAP publisher (the durable consumer of
  ``dief.contacts.>``) writing them into a slapd configured as deploy/openldap says, until
  the published tree holds every imported contact.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bson import ObjectId
from ldap3 import MODIFY_REPLACE, Connection, Server

from services.common import mongo
from services.common.messaging import connect_nats, ensure_stream
from services.common.outbox import OutboxRelay
from services.common.settings import Settings
from services.contacts.documents import ALIAS, Authority, Contact, State
from services.contacts.domain import AttStatus, AuthorityKind
from services.contacts.ldap_import import run_sync
from services.contacts.ldap_mapping import forget_checked_values
from services.contacts.ldap_publish import PublishConfig, make_consumer
from services.contacts.ldap_sources import LdapSyncRun, LdapSyncSource, seal_password
from services.contacts.ldap_tree import DirectoryLayout
from services.contacts.ldap_writer import LdapTarget
from services.dev.servers import mongodb_server, mongodb_uri, nats_server, nats_url
from services.dev.slapd import dief_directory_server, slapd_binary, slapd_server

SUFFIX = "dc=fra,dc=example"
ADMIN = f"cn=admin,{SUFFIX}"
PEOPLE = f"ou=people,{SUFFIX}"
CHANGED = 10


def ldif(count: int) -> str:
    parts = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Douane\ndc: fra\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
    ]
    for n in range(count):
        parts.append(
            f"dn: uid=agent{n},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: agent{n}\n"
            f"cn: Agent {n}\nsn: {n}\ngivenName: Agent\nmail: agent{n}@douane.example\n"
            f"telephoneNumber: +33 1 23 {n // 10000 % 100:02d} {n // 100 % 100:02d} "
            f"{n % 100:02d}\ntitle: Inspecteur\nou: Enquetes\npreferredLanguage: fr\n"
        )
    return "\n".join(parts)


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = slapd_server(root / "slapd", suffix=SUFFIX, root_dn=ADMIN)
        (root / "ldif").write_text(ldif(count))
        slapadd = str(Path(slapd_binary()).with_name("slapadd"))
        subprocess.run(
            [slapadd, "-q", "-f", str(root / "slapd" / "slapd.conf"), "-l", str(root / "ldif")],
            check=True,
            capture_output=True,
        )
        server.start()
        db = mongodb_server(root / "mongo", log_path=root / "mongo.log").start()
        try:
            mongo.connect(ALIAS, mongodb_uri(db.port), "bench_contacts")
            State(code="FRA", name="France", status=AttStatus.STATE_PARTY).save()
            customs = Authority(state_code="FRA", kind=AuthorityKind.CUSTOMS, name="Douane").save()
            Contact.ensure_indexes()
            settings = Settings(
                env="dev",
                home=root / "home",
                ldap_sync_allowed_hosts={"FRA": ["127.0.0.1"]},
                ldap_sync_allow_internal_hosts=True,
            )
            url = f"ldap://127.0.0.1:{server.port}"
            LdapSyncSource(
                state_code="FRA",
                url=url,
                bind_dn=ADMIN,
                bind_password_sealed=seal_password(settings, "FRA", url, ADMIN, "secret"),
                base_dn=PEOPLE,
                authority_id=customs.pk,
            ).save()

            started = time.perf_counter()
            full = run_sync(
                "FRA",
                settings=settings,
                full=True,
                dry_run=False,
                started_by="bench",
                trigger="BENCH",
            )
            full_seconds = time.perf_counter() - started
            assert full.status == "SUCCEEDED", full.error
            assert Contact.objects(source="LDAP").count() == count
            published_seconds, relayed_seconds = asyncio.run(publish_import(root, count))

            conn = Connection(
                Server(f"ldap://127.0.0.1:{server.port}"), ADMIN, "secret", auto_bind=True
            )
            for n in range(0, count, max(1, count // CHANGED))[:CHANGED]:
                conn.modify(f"uid=agent{n},{PEOPLE}", {"title": [(MODIFY_REPLACE, ["Chef"])]})
            conn.unbind()

            started = time.perf_counter()
            incremental = run_sync(
                "FRA",
                settings=settings,
                full=False,
                dry_run=False,
                started_by="bench",
                trigger="BENCH",
            )
            incremental_seconds = time.perf_counter() - started
            assert incremental.status == "SUCCEEDED", incremental.error

            conn = Connection(
                Server(f"ldap://127.0.0.1:{server.port}"), ADMIN, "secret", auto_bind=True
            )
            for n in range(1, count, max(1, count // CHANGED))[:CHANGED]:
                conn.modify(f"uid=agent{n},{PEOPLE}", {"title": [(MODIFY_REPLACE, ["Chef"])]})
            conn.unbind()
            forget_checked_values()  # as in a new process: no value is known checked
            started = time.perf_counter()
            again = run_sync(
                "FRA",
                settings=settings,
                full=True,
                dry_run=False,
                started_by="bench",
                trigger="BENCH",
            )
            again_seconds = time.perf_counter() - started
            assert again.status == "SUCCEEDED", again.error
            assert again.changed == CHANGED, again.changed

            floor = bare_inserts(count)

            rate = count / full_seconds
            print(f"entries in the source:        {count}")
            print(
                f"full import:                  {full_seconds:.2f} s, {rate:,.0f} entries/s "
                f"({rate / 2000:.1f}x the 2,000 entries/s target)"
            )
            phases(full, count)
            print(
                f"  the MongoDB-wire server alone takes {floor:,.0f} bare documents/s in one "
                f"transaction: {3 * count / floor:.2f} s for the {3 * count} documents the "
                "import writes (contact, history record, outbox entry), without their indexes"
            )
            print(
                f"incremental after {CHANGED} changes: {incremental_seconds:.3f} s, "
                f"{incremental.read} entries read, {incremental.changed} changed "
                f"({incremental_seconds / 1.0:.2f} of the 1 s budget; "
                f"read {incremental.read / count:.2%} of the directory)"
            )
            again_rate = count / again_seconds
            print(
                f"full run again after {CHANGED} changes: {again_seconds:.2f} s, "
                f"{again_rate:,.0f} entries/s ({again_rate / 2000:.1f}x the target), "
                f"{again.changed} changed, {again.unchanged} unchanged"
            )
            phases(again, count)
            print(
                f"the import in the published directory: {published_seconds:.1f} s until the "
                f"OpenLDAP tree held all {count} contacts (the outbox relay published their "
                f"{count} events in {relayed_seconds:.1f} s, {count / relayed_seconds:,.0f} "
                "events/s)"
            )
        finally:
            db.stop()
            server.stop()


async def publish_import(root: Path, count: int) -> tuple[float, float]:
    """Relay the import's events and publish them into a DIEF directory slapd; seconds until
    the tree holds ``count`` contacts, and until the relay had published every event."""
    layout = DirectoryLayout("dc=dief,dc=test")
    directory = dief_directory_server(root / "directory").start()
    nats = nats_server(root / "nats").start()
    nc = await connect_nats(nats_url(nats.port), "bench")
    try:
        js = nc.jetstream()
        await ensure_stream(js, "DIEF", 1)
        target = LdapTarget(
            f"ldap://127.0.0.1:{directory.port}", layout.publisher_dn, "publisher-secret"
        )
        consumer = make_consumer(js, PublishConfig(target, layout))
        relay = OutboxRelay(ALIAS, js)
        reader = Connection(
            Server(f"ldap://127.0.0.1:{directory.port}"),
            "cn=admin,dc=dief,dc=test",
            "secret",
            auto_bind=True,
        )
        started = time.perf_counter()
        consuming = asyncio.create_task(consumer.run())
        relayed = 0
        while relayed < count:
            relayed += await relay.publish_pending()
        relayed_seconds = time.perf_counter() - started
        while published(reader, layout) < count:
            await asyncio.sleep(0.5)
        published_seconds = time.perf_counter() - started
        consuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consuming
        reader.unbind()
        return published_seconds, relayed_seconds
    finally:
        await nc.close()
        nats.stop()
        directory.stop()


def published(reader: Connection, layout: DirectoryLayout) -> int:
    """How many contacts the published tree holds."""
    entries = reader.extend.standard.paged_search(
        layout.states_dn, "(objectClass=inetOrgPerson)", attributes=["1.1"], generator=False
    )
    return sum(1 for e in entries if e.get("type") == "searchResEntry")


def phases(run: LdapSyncRun, count: int) -> None:
    """One line per phase of ``run``, with its rate."""
    written = run.added + run.changed + run.archived
    for label, seconds, done, unit in (
        ("LDAP paged read", run.read_seconds, count, "entries/s"),
        ("mapping and checks", run.plan_seconds, count, "entries/s"),
        ("MongoDB transaction", run.apply_seconds, written, "contacts/s"),
    ):
        if seconds is None:
            continue
        rate = f"{done / seconds:,.0f} {unit}" if seconds else "-"
        print(f"  {label + ':':<22}{seconds:6.2f} s  {rate}")
    if written:
        print(f"  ({written} contacts written, each with its history record and outbox event)")


def bare_inserts(count: int) -> float:
    """Documents per second the server takes, in one transaction, with nothing to check:
    the floor under the import's write phase."""
    collection = mongo.database(ALIAS)["bench_bare"]
    docs = [{"_id": ObjectId(), "n": n} for n in range(count)]
    started = time.perf_counter()
    with mongo.client(ALIAS).start_session() as session:
        session.with_transaction(lambda s: collection.insert_many(docs, session=s))
    return count / (time.perf_counter() - started)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
