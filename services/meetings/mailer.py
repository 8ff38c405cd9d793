"""The meetings service's notices go through the shared queue
(``services.common.notifications``): this module names its delivery collection and
sends what is due. What each notice says is in ``notices``."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from services.common.notifications.queue import SmtpSettings
from services.common.notifications.queue import deliver_due as _deliver_due
from services.meetings.documents import Delivery

__all__ = ["SmtpSettings", "deliver_due"]


def deliver_due(smtp: SmtpSettings, now: datetime, meeting_id: ObjectId | None = None) -> int:
    """Send every pending delivery whose time has come; returns how many were sent."""
    only = {} if meeting_id is None else {"meeting_id": meeting_id}
    return _deliver_due(Delivery, smtp, now, **only)
