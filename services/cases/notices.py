"""What the cases service tells people (rules 15 and 16), through the shared notices
(``services.common.notifications``): a disclosure concern raised and answered goes to the
two sides only; an operational-use request to the providing State, its decision to the
requesting State. The open copy says only that there is something to see and links to
it; the details go only encrypted. Each notice is kept in the cases service's own feed
(``myCaseNotifications``) and a background loop sends what is due and retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from mongoengine import ObjectIdField

from services.common.errors import DiefError
from services.common.ids import to_global_id
from services.common.mongo import run_sync
from services.common.notifications.directory import ContactsDirectory
from services.common.notifications.documents import NoticeDelivery, NoticeEntry
from services.common.notifications.kinds import AUDIENCE, NoticeKind
from services.common.notifications.queue import (
    Notice,
    SmtpSettings,
    deliver_due,
    entry_and_deliveries,
)
from services.common.notifications.recipients import Recipient, Resolution
from services.common.notifications.setup import smtp_settings
from services.common.settings import Settings
from services.common.tasks import raise_if_cancelled
from services.common.unit_of_work import unit_of_work

ALIAS = "cases"
log = logging.getLogger("dief.cases.notices")
SEE = "There is something for you to see in DIEF Exchange; sign in to read it:"


class CaseDelivery(NoticeDelivery):
    meta = {
        "db_alias": ALIAS,
        "collection": "notice_deliveries",
        "indexes": [("status", "next_attempt_at"), "notice_id"],
    }

    case_id = ObjectIdField()


class CaseNoticeRecord(NoticeEntry):
    meta = {
        "db_alias": ALIAS,
        "collection": "notices",
        "indexes": ["states", "issued_at"],
        "ordering": ["-issued_at"],
    }


@dataclass
class CaseNotices:
    settings: Settings
    directory: ContactsDirectory
    smtp: SmtpSettings

    async def run(self, interval: float) -> None:
        while True:
            raise_if_cancelled()
            try:
                await run_sync(deliver_due, CaseDelivery, self.smtp, _now())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sending the cases' notices failed; the next round retries")
            await asyncio.sleep(interval)


def _now() -> Any:
    from services.common.clock import utcnow

    return utcnow()


def build_notices(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> CaseNotices:
    return CaseNotices(
        settings,
        ContactsDirectory(settings.meetings_contacts_url, transport),
        smtp_settings(settings),
    )


def _notice(kind: NoticeKind, headline: str, topic: str, link: str, details: str) -> Notice:
    return Notice(
        kind,
        f"Diversion Information Exchange Forum: {headline.rstrip('.')}",
        f"{headline}\n\n{SEE}\n{link}",
        topic=topic,
        link=link,
        private_body=details,
    )


def concern_raised(concern: Any, link: str) -> Notice:
    raiser = concern.raised_by_state or "The Forum's organisers"
    return _notice(
        NoticeKind.DISCLOSURE_CONCERN_RAISED,
        "A suspected unauthorised disclosure was raised with your State (rule 15).",
        to_global_id("DisclosureConcern", concern.pk),
        link,
        f"Raised by: {raiser}\n{concern.description}",
    )


def concern_answered(concern: Any, link: str) -> Notice:
    return _notice(
        NoticeKind.DISCLOSURE_CONCERN_ANSWERED,
        f"{concern.respondent} answered the disclosure concern you raised (rule 15).",
        to_global_id("DisclosureConcern", concern.pk),
        link,
        f"Explanation: {concern.explanation}\nRemedial measures: {concern.remedial_measures}",
    )


def use_requested(request: Any, link: str) -> Notice:
    return _notice(
        NoticeKind.USE_REQUESTED,
        f"{request.requester_state} asks to use information your State provided (rule 16).",
        to_global_id("UseRequest", request.pk),
        link,
        f"Intended use: {request.use.value}\n{request.justification}",
    )


def use_decided(request: Any, link: str) -> Notice:
    return _notice(
        NoticeKind.USE_DECIDED,
        f"{request.provider} decided on your operational-use request (rule 16).",
        to_global_id("UseRequest", request.pk),
        link,
        f"Decision: {request.decision.value}\n{request.conditions or request.reason or ''}",
    )


async def tell(
    info: Any, notice: Notice, states: Sequence[str], *, secretariat: bool = False
) -> CaseNoticeRecord:
    """Record the notice for ``states`` (by the roles each chose) and send it at once."""
    svc: CaseNotices = info.context.request.app.state.case_notices
    header = info.context.request.headers.get("authorization", "")
    token = header.partition(" ")[2].strip()
    wanted = sorted(set(states))
    try:
        resolution = (
            await svc.directory.recipients(token, AUDIENCE[notice.kind], wanted)
            if wanted
            else Resolution((), ())
        )
    except DiefError:
        log.warning("the directory did not answer; the notice is kept for the feed only")
        resolution = Resolution((), tuple(wanted))
    if secretariat:
        address = svc.settings.notice_secretariat_email or svc.settings.smtp_sender
        mine = Recipient("SECRETARIAT", address, "SECRETARIAT")
        resolution = Resolution((*resolution.recipients, mine), resolution.unreachable)

    def write() -> CaseNoticeRecord:
        now = _now()
        entry, deliveries = entry_and_deliveries(
            notice,
            resolution,
            now,
            CaseNoticeRecord,
            CaseDelivery,
            states=wanted,
            secretariat=secretariat,
        )
        gid = to_global_id("CaseNotice", entry.pk)
        link = f"{notice.link.rstrip('/')}/{gid}" if notice.link else None
        if link:
            entry.link, entry.body = link, entry.body.replace(notice.link, link)
            for d in deliveries:
                d.body = (d.body or "").replace(notice.link, link)
        with unit_of_work(ALIAS) as uow:
            uow.insert(entry)
            for d in deliveries:
                uow.insert(d)
        deliver_due(CaseDelivery, svc.smtp, now, notice_id=str(entry.pk))
        return entry

    return await run_sync(write)


def link_base(info: Any) -> str:
    return info.context.request.app.state.case_notices.settings.notice_link_base


def ensure_indexes() -> None:
    for document in (CaseDelivery, CaseNoticeRecord):
        document.ensure_indexes()
