"""The service's own clock-driven work: nobody has to run a cron by hand.

Each round (at start-up, then every few seconds) the scheduler lets time act on the rules
and catches up on whatever it missed while the service was down, since every step only
compares stored dates with now:
- closes silence procedures that are over and refers objections left unresolved 20 days
  before the meeting (rule 8);
- announces ``dief.meetings.deadline.approaching`` a few days before each pending item of
  a meeting's timeline, once per item and threshold;
- tells of what time did (silence ended, referral, reminders: ``notices_clock``);
- sends the notice emails that are due, and retries failed ones (rule 9).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from services.common.errors import Conflict
from services.common.events import event
from services.common.mongo import run_sync
from services.common.tasks import raise_if_cancelled, wait_for_event
from services.common.unit_of_work import unit_of_work
from services.meetings import handlers
from services.meetings.deadlines import utc_day
from services.meetings.documents import ALIAS, Meeting, ReminderSent
from services.meetings.domain import MeetingStatus
from services.meetings.mailer import SmtpSettings, deliver_due
from services.meetings.notices_clock import tell_of_time
from services.meetings.timeline import TimelineStatus

log = logging.getLogger("dief.meetings.scheduler")

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RoundReport:
    proposals_changed: int
    reminders: int
    emails_sent: int


def announce_deadlines(now: datetime, thresholds: Sequence[int]) -> int:
    """Announce each pending timeline item once it is within the smallest threshold it
    has reached (a service that was down announces once, not once per missed day)."""
    today = utc_day(now)
    sent = 0
    for meeting in Meeting.objects(status=MeetingStatus.SCHEDULED, start_date__gte=today):
        for item in handlers.timeline_of(meeting, now):
            if item.status is not TimelineStatus.PENDING:
                continue
            days_left = (item.due_on - today).days
            reached = [d for d in thresholds if 0 <= days_left <= d]
            if not reached:
                continue
            key = f"{meeting.pk}:{item.kind}:{item.due_on.isoformat()}:{min(reached)}"
            if ReminderSent.objects(pk=key).first() is not None:
                continue
            mid = handlers.gid("Meeting", meeting.pk)
            try:
                with unit_of_work(ALIAS) as uow:
                    uow.insert(ReminderSent(key=key, meeting_id=meeting.pk, sent_at=now))
                    uow.record(
                        event(
                            "meetings",
                            "deadline",
                            "approaching",
                            mid,
                            meetingId=mid,
                            item=item.kind.value,
                            dueOn=item.due_on.isoformat(),
                            daysLeft=days_left,
                        )
                    )
            except (DuplicateKeyError, Conflict):
                continue  # another replica announced it
            sent += 1
    return sent


class Scheduler:
    def __init__(
        self,
        clock: Clock,
        smtp: SmtpSettings,
        *,
        interval_seconds: float,
        reminder_days: Sequence[int],
        secretariat_email: str | None = None,
        notice_link: str = "",
    ) -> None:
        self.clock = clock
        self.smtp = smtp
        self.interval = interval_seconds
        self.reminder_days = tuple(reminder_days)
        self.secretariat_email = secretariat_email or smtp.sender
        self.notice_link = notice_link
        self.rounds = 0
        self._wake = asyncio.Event()

    def round(self, now: datetime) -> RoundReport:
        """One round of the schedule at ``now`` (synchronous: database and SMTP)."""
        proposals_changed = handlers.advance_expert_proposals(now)
        reminders = announce_deadlines(now, self.reminder_days)
        tell_of_time(now, self.secretariat_email, self.notice_link)
        return RoundReport(
            proposals_changed=proposals_changed,
            reminders=reminders,
            emails_sent=deliver_due(self.smtp, now),
        )

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            raise_if_cancelled()
            self._wake.clear()
            try:
                report = await run_sync(self.round, self.clock())
                if report.proposals_changed or report.reminders or report.emails_sent:
                    log.info("scheduled work done", extra=vars(report))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler round failed; next round retries")
            self.rounds += 1
            await wait_for_event(self._wake, self.interval)
