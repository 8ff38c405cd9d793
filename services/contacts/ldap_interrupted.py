"""LDAP sync runs whose process died: marked FAILED (``INTERRUPTED``) at start-up.

A run records its ``owner`` (host and process id). When the contacts service starts, a run
still RUNNING is over if its process is certainly gone: it ran on this host and its process
is no longer alive, or has this very process id (a container restarted: its one process
has the same id again); a run of another host, after ``RUNNING_FOR_AT_MOST``. The
scheduler then runs that State's sync again as usual.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime

from services.contacts.ldap_schedule import RUNNING_FOR_AT_MOST
from services.contacts.ldap_sources import LdapSyncRun

log = logging.getLogger("dief.contacts.ldap")

INTERRUPTED = "INTERRUPTED"


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _gone(owner: str | None, started_at: datetime, now: datetime) -> bool:
    host, _, pid = (owner or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return int(pid) == os.getpid() or not _alive(int(pid))
    started = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
    return now - started > RUNNING_FOR_AT_MOST


def mark_interrupted_runs(now: datetime | None = None) -> int:
    """Mark the runs whose process died FAILED; how many there were."""
    now = now or datetime.now(UTC)
    marked = 0
    for run in LdapSyncRun.objects(status="RUNNING").only("owner", "started_at", "state_code"):
        if not _gone(run.owner, run.started_at, now):
            continue
        updated = LdapSyncRun.objects(pk=run.pk, status="RUNNING").update_one(
            set__status="FAILED",
            set__error_kind=INTERRUPTED,
            set__error="the service stopped during the run; it will run again",
            set__finished_at=now,
        )
        if updated:
            marked += 1
            log.warning("ldap sync run interrupted", extra={"state": run.state_code})
    return marked
