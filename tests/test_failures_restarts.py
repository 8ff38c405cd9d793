"""What a process that died leaves behind, and what two at once must not break: an LDAP
sync run left RUNNING, the participant register under concurrent changes, and two
services writing the dev JWKS on one DIEF_HOME at once."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common import mongo
from services.common.keys import ensure_dev_key, write_jwks
from services.common.messaging import prune_processed
from services.common.outbox import prune_sent
from services.common.participants import ParticipantRegister, StatusChange
from services.common.settings import Settings
from services.contacts.ldap_interrupted import mark_interrupted_runs, process_owner
from services.contacts.ldap_sources import LdapSyncRun
from services.meetings.documents import ParticipantState


@pytest.fixture
def databases(settings: Settings, clean_databases: None) -> Iterator[None]:
    mongo.connect("contacts", settings.mongodb_uri, settings.contacts_db)
    mongo.connect("meetings", settings.mongodb_uri, settings.meetings_db)
    yield


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def _run(code: str, owner: str | None, started_at: datetime) -> LdapSyncRun:
    run = LdapSyncRun(
        state_code=code,
        started_by="schedule",
        trigger="SCHEDULE",
        full=True,
        dry_run=False,
        started_at=started_at,
        status="RUNNING",
        owner=owner,
    )
    run.save()
    return run


def test_runs_whose_process_died_are_marked_interrupted_at_start_up(databases: None) -> None:
    now = datetime.now(UTC)
    host = socket.gethostname()
    died = _run("FRA", f"{host}:{_dead_pid()}", now - timedelta(minutes=1))
    restarted = _run("DEU", process_owner(), now - timedelta(minutes=1))  # same pid again
    alive = _run("ITA", f"{host}:{os.getppid()}", now - timedelta(minutes=1))
    elsewhere_old = _run("ESP", "other-host:12", now - timedelta(hours=2))
    elsewhere_now = _run("PRT", "other-host:13", now - timedelta(minutes=5))
    unknown_old = _run("AUT", None, now - timedelta(hours=2))
    assert mark_interrupted_runs(now) == 4
    status = {r.state_code: (r.status, r.error_kind) for r in LdapSyncRun.objects()}
    for run in (died, restarted, elsewhere_old, unknown_old):
        assert status[run.state_code] == ("FAILED", "INTERRUPTED")
    for run in (alive, elsewhere_now):
        assert status[run.state_code] == ("RUNNING", None)
    assert mark_interrupted_runs(now) == 0


def test_the_participant_register_never_stores_an_older_change_over_a_newer(
    databases: None,
) -> None:
    register = ParticipantRegister(ParticipantState, durable="test-register")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    changes = [
        StatusChange("FRA", i % 2 == 0, start + timedelta(hours=i), i + 1) for i in range(24)
    ]
    changes.reverse()  # the newest first: every later write is older
    threads = [threading.Thread(target=register.record, args=(c,)) for c in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = ParticipantState.objects(code="FRA").first()
    assert stored is not None
    assert stored.sequence == changes[0].sequence
    assert stored.changed_at.replace(tzinfo=UTC) == changes[0].changed_at
    assert stored.participant is changes[0].participant
    register.record(changes[5])  # a redelivery of an older one changes nothing
    assert register.known("FRA") is changes[0].participant


def test_two_writers_of_one_jwks_never_collide(tmp_path: Path) -> None:
    key = ensure_dev_key(tmp_path)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(40):
                write_jwks(tmp_path / "jwks.json", [key])
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write) for _ in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    assert json.loads((tmp_path / "jwks.json").read_text())["keys"][0]["kid"] == key.kid
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_sent_events_and_handled_records_are_pruned_pending_ones_kept(databases: None) -> None:
    db = mongo.database("contacts")
    now = datetime.now(UTC)
    db["outbox"].insert_many(
        [
            {"_id": "sent-long-ago", "sent_at": now - timedelta(days=10), "created_at": now},
            {"_id": "sent-just-now", "sent_at": now, "created_at": now},
            {"_id": "pending-long", "sent_at": None, "created_at": now - timedelta(days=30)},
        ]
    )
    db["processed_events"].insert_many(
        [{"_id": "c:old", "at": now - timedelta(days=400)}, {"_id": "c:new", "at": now}]
    )
    assert prune_sent("contacts", keep_days=7) == 1
    assert prune_processed("contacts", keep_days=365) == 1
    assert sorted(d["_id"] for d in db["outbox"].find()) == ["pending-long", "sent-just-now"]
    assert [d["_id"] for d in db["processed_events"].find()] == ["c:new"]
