"""What the meetings resolvers need besides the database: the clock, the contact
directory, the mail settings and the scheduler (one object per app, on ``app.state``)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.notifications.queue import SmtpSettings
from services.common.notifications.setup import smtp_settings
from services.common.settings import Settings
from services.meetings.directory import ContactsDirectory
from services.meetings.scheduler import Clock, Scheduler


@dataclass
class MeetingsServices:
    settings: Settings
    clock: Clock
    directory: ContactsDirectory
    smtp: SmtpSettings
    scheduler: Scheduler


__all__ = ["MeetingsServices", "smtp_settings"]
