"""How fast a national LDAP directory is imported: ``.venv/bin/python bench/ldap_sync.py [N]``.

Starts a private slapd and MongoDB-wire server, loads N entries (10,000 by default) into
slapd, and prints:

- the full import: entries per second (target: at least 2,000);
- after changing 10 entries, the incremental sync: how long it took and how many entries it
  read (target: under 1 s, reading the changed entries rather than all N).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ldap3 import MODIFY_REPLACE, Connection, Server

from services.common import mongo
from services.contacts.documents import ALIAS, Authority, Contact, State
from services.contacts.domain import AttStatus, AuthorityKind
from services.contacts.ldap_import import run_sync
from services.contacts.ldap_sources import LdapSyncSource
from services.dev.servers import mongodb_server, mongodb_uri
from services.dev.slapd import slapd_binary, slapd_server

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
            os.environ["BENCH_LDAP_PASSWORD"] = "secret"
            LdapSyncSource(
                state_code="FRA",
                url=f"ldap://127.0.0.1:{server.port}",
                bind_dn=ADMIN,
                secret_ref="env:BENCH_LDAP_PASSWORD",
                base_dn=PEOPLE,
                authority_id=customs.pk,
            ).save()

            started = time.perf_counter()
            full = run_sync("FRA", full=True, dry_run=False, started_by="bench", trigger="BENCH")
            full_seconds = time.perf_counter() - started
            assert full.status == "SUCCEEDED", full.error
            assert Contact.objects(source="LDAP").count() == count

            conn = Connection(
                Server(f"ldap://127.0.0.1:{server.port}"), ADMIN, "secret", auto_bind=True
            )
            for n in range(0, count, max(1, count // CHANGED))[:CHANGED]:
                conn.modify(f"uid=agent{n},{PEOPLE}", {"title": [(MODIFY_REPLACE, ["Chef"])]})
            conn.unbind()

            started = time.perf_counter()
            incremental = run_sync(
                "FRA", full=False, dry_run=False, started_by="bench", trigger="BENCH"
            )
            incremental_seconds = time.perf_counter() - started
            assert incremental.status == "SUCCEEDED", incremental.error

            rate = count / full_seconds
            print(f"entries in the source:        {count}")
            print(
                f"full import:                  {full_seconds:.2f} s, {rate:,.0f} entries/s "
                f"({rate / 2000:.1f}x the 2,000 entries/s target)"
            )
            print(
                f"  of which: LDAP paged read {full.read_seconds:.2f} s "
                f"({count / full.read_seconds:,.0f} entries/s), mapping and checks "
                f"{full.plan_seconds:.2f} s ({count / full.plan_seconds:,.0f} entries/s), "
                f"MongoDB transaction {full.apply_seconds:.2f} s "
                f"({count / full.apply_seconds:,.0f} contacts/s, each with its history "
                "record and outbox event)"
            )
            print(
                f"incremental after {CHANGED} changes: {incremental_seconds:.3f} s, "
                f"{incremental.read} entries read, {incremental.changed} changed "
                f"({incremental_seconds / 1.0:.2f} of the 1 s budget; "
                f"read {incremental.read / count:.2%} of the directory)"
            )
        finally:
            db.stop()
            server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
