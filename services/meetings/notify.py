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

from services.common.errors import DiefError, Unavailable
from services.common.mongo import run_sync
from services.common.notifications.directory import DirectoryUnavailable
from services.common.notifications.kinds import AUDIENCE, Audience
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
    token = _token(info)
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


def _token(info: Any) -> str:
    header = info.context.request.headers.get("authorization", "")
    return header.partition(" ")[2].strip()


async def caller_is_state_party(info: Any) -> bool:
    """Rule 8: whether the caller's State is a State Party now, as the contact directory
    says (if it cannot answer: as it last said; never asked: refused, try again)."""
    p = info.context.principal
    if p is None or not p.represents_state or not p.participant or p.state is None:
        return False  # the handler refuses such a caller in its own words
    svc = info.context.request.app.state.meetings
    try:
        found = await svc.directory.recipients(_token(info), Audience.MEETINGS, [p.state])
        return p.state in found.state_parties
    except DirectoryUnavailable:
        known = await run_sync(notices.known_state_party, p.state, Audience.MEETINGS.value)
        if known is None:
            raise Unavailable(
                f"The contact directory cannot say now whether {p.state} is a State Party "
                "(rule 8); nothing was recorded. Try again.",
                rule=8,
            ) from None
        return known


def secretariat_recipient(settings: Any) -> Recipient:
    address = settings.notice_secretariat_email or settings.smtp_sender
    return Recipient("SECRETARIAT", address, "SECRETARIAT")
