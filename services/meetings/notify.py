"""Telling people of a change made through the API: after the change is saved, the
recipients are asked of the directory with the caller's own token (for the notice's
audience and States), the notice is recorded (feed entry + deliveries) and what is due
is sent at once; what fails is retried by the scheduler.

Why after, not in the same transaction: the change must not wait on, or fail because
of, the directory. If the directory cannot answer, the recipients it last named for
those States (``KnownRecipients``) are used, so nobody is forgotten for that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.common.errors import DiefError
from services.common.mongo import run_sync
from services.common.notifications.kinds import AUDIENCE
from services.common.notifications.queue import Notice
from services.common.notifications.recipients import Recipient, Resolution
from services.common.unit_of_work import unit_of_work
from services.meetings import notices
from services.meetings.documents import ALIAS, Meeting, NoticeRecord
from services.meetings.mailer import deliver_due


def link_base(info: Any) -> str:
    return info.context.request.app.state.meetings.settings.notice_link_base


async def tell(
    info: Any,
    notice: Notice,
    meeting: Meeting,
    states: Sequence[str] | None = None,
    *,
    secretariat: bool = True,
) -> NoticeRecord:
    """``states``: the States the notice concerns (None: every participant State)."""
    svc = info.context.request.app.state.meetings
    audience = AUDIENCE[notice.kind]
    header = info.context.request.headers.get("authorization", "")
    token = header.partition(" ")[2].strip()
    wanted = sorted(set(states)) if states is not None else None
    try:
        if wanted == []:
            resolution = Resolution((), ())
        else:
            resolution = await svc.directory.recipients(token, audience, wanted)
        fresh = True
    except DiefError:
        resolution = await run_sync(notices.known, wanted, audience.value)
        fresh = False
    now = svc.clock()

    def write() -> NoticeRecord:
        if fresh:
            notices.learn(resolution, audience.value, resolution.unreachable, now)
        with unit_of_work(ALIAS) as uow:
            entry = notices.record(
                uow, notice, resolution, now, meeting=meeting, secretariat=secretariat
            )
        deliver_due(svc.smtp, now, meeting.pk)
        return entry

    return await run_sync(write)


def secretariat_recipient(settings: Any) -> Recipient:
    address = settings.notice_secretariat_email or settings.smtp_sender
    return Recipient("SECRETARIAT", address, "SECRETARIAT")
