"""Running the LDAP syncs on a schedule, and the contacts service's LDAP background work.

Every ``ldap_sync_interval_minutes`` the contacts service syncs each enabled source: an
incremental run, or a full one when the last applied full run is older than
``ldap_sync_full_every_hours`` (full runs are the ones that see deletions). Several
replicas may run the schedule: a run that finds another one RUNNING for the same State
leaves it alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.common import mongo
from services.common.settings import Settings
from services.common.tasks import raise_if_cancelled
from services.contacts.documents import utcnow
from services.contacts.ldap_sources import LdapSyncRun, LdapSyncSource

if TYPE_CHECKING:
    from services.common.runtime import ServiceRuntime

log = logging.getLogger("dief.ldap.schedule")

STARTED_BY = "schedule"
RUNNING_FOR_AT_MOST = timedelta(hours=1)


def full_run_due(last_full: datetime | None, now: datetime, full_every: timedelta) -> bool:
    return last_full is None or now - last_full >= full_every


def due_runs(now: datetime, full_every: timedelta) -> list[tuple[str, bool]]:
    """(State, full) for every enabled source not being synced right now."""
    due = []
    for code in LdapSyncSource.objects(enabled=True).order_by("state_code").scalar("state_code"):
        busy = LdapSyncRun.objects(
            state_code=code, status="RUNNING", started_at__gte=now - RUNNING_FOR_AT_MOST
        ).count()
        if busy:
            continue
        last_full = (
            LdapSyncRun.objects(state_code=code, status="SUCCEEDED", dry_run=False, full=True)
            .order_by("-started_at")
            .only("started_at")
            .first()
        )
        due.append((code, full_run_due(last_full and last_full.started_at, now, full_every)))
    return due


def run_due(settings: Settings, now: datetime | None = None) -> list[LdapSyncRun]:
    """One round of the schedule: sync every source that is due."""
    from services.contacts.ldap_import import run_sync

    runs = []
    for code, full in due_runs(
        now or utcnow(), timedelta(hours=settings.ldap_sync_full_every_hours)
    ):
        try:
            runs.append(
                run_sync(
                    code,
                    settings=settings,
                    full=full,
                    dry_run=False,
                    started_by=STARTED_BY,
                    trigger="SCHEDULE",
                    page_size=settings.ldap_sync_page_size,
                    timeout_seconds=settings.ldap_sync_timeout_seconds,
                )
            )
        except Exception:  # recorded in the run; the other States still get theirs
            log.exception("scheduled LDAP sync failed", extra={"state": code})
    return runs


@dataclass
class SyncSchedule:
    """A background task of the contacts service (``ServiceRuntime.consumers``)."""

    settings: Settings
    sleep: Callable[[float], Any] = asyncio.sleep

    async def run(self) -> None:
        interval = 60.0 * (self.settings.ldap_sync_interval_minutes or 0)
        while True:
            raise_if_cancelled()
            try:
                await mongo.run_sync(run_due, self.settings)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("LDAP sync schedule round failed")
            await self.sleep(interval)


def background_work(settings: Settings) -> list[Callable[[ServiceRuntime], Any]]:
    """What the contacts service runs in the background for LDAP, as settings ask."""
    work: list[Callable[[ServiceRuntime], Any]] = []
    if settings.ldap_sync_interval_minutes:
        work.append(lambda runtime: SyncSchedule(runtime.settings))
    if settings.ldap_publish_url:
        from services.contacts.ldap_publish import publisher_consumer

        work.append(publisher_consumer)
    return work
