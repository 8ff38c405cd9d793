"""What the meetings resolvers need besides the database: the clock, the contact
directory, the mail settings and the scheduler (one object per app, on ``app.state``)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.settings import Settings
from services.meetings.directory import ContactsDirectory
from services.meetings.mailer import SmtpSettings
from services.meetings.scheduler import Clock, Scheduler


@dataclass
class MeetingsServices:
    settings: Settings
    clock: Clock
    directory: ContactsDirectory
    smtp: SmtpSettings
    scheduler: Scheduler


def smtp_settings(settings: Settings) -> SmtpSettings:
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender,
        starttls=settings.smtp_starttls,
        timeout_seconds=settings.smtp_timeout_seconds,
        max_attempts=settings.smtp_max_attempts,
        retry_seconds=settings.smtp_retry_seconds,
    )
