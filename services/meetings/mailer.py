"""Sending the invitation by email (SMTP), one message per address, with an iCalendar
attachment; every delivery is recorded, a failure retried with back-off and, after the
last attempt, reported as FAILED (rule 9: never silently dropped).

smtplib is synchronous: the scheduler and the resolvers run this in a worker thread.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from bson import ObjectId

from services.common.ids import to_global_id
from services.meetings.calendar import calendar, invitation_entry
from services.meetings.documents import Delivery, Meeting

log = logging.getLogger("dief.meetings.mailer")


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    sender: str
    starttls: bool = False
    timeout_seconds: float = 10.0
    max_attempts: int = 5
    retry_seconds: float = 60.0


def invitation_message(meeting: Meeting, to: str, sender: str) -> EmailMessage:
    """Rule 9: date, venue and the call for presentations; never agenda content."""
    inv = meeting.invitation
    first, last = inv.start_date.isoformat(), inv.end_date.isoformat()
    msg = EmailMessage()
    msg["Subject"] = f"Invitation: Diversion Information Exchange Forum, {first}"
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = format_datetime(inv.issued_at)
    msg["Message-ID"] = make_msgid(domain="dief")
    dates = first if first == last else f"{first} to {last}"
    body = [
        "The Diversion Information Exchange Forum will meet",
        f"  Date:  {dates}",
        f"  Venue: {inv.venue}",
        "",
        "Call for presentations:",
        inv.call_for_presentations,
        "",
        "The meeting, its agenda and its documents are confidential to the participants.",
    ]
    if inv.late_reason:
        body[3:3] = ["", f"This invitation is issued late: {inv.late_reason}"]
    msg.set_content("\n".join(body))
    ics = calendar(
        [
            invitation_entry(
                to_global_id("Meeting", meeting.pk), inv.start_date, inv.end_date, inv.venue
            )
        ],
        inv.issued_at,
        method="PUBLISH",
    )
    msg.add_attachment(
        ics,
        maintype="text",
        subtype="calendar",
        filename="invitation.ics",
        params={"method": "PUBLISH"},
    )
    return msg


def _failed(delivery: Delivery, error: str, now: datetime, smtp: SmtpSettings) -> None:
    delivery.attempts += 1
    delivery.last_error = error[:500]
    if delivery.attempts >= smtp.max_attempts:
        delivery.status = "FAILED"
        delivery.next_attempt_at = None
        log.error(
            "invitation could not be delivered",
            extra={
                "meeting": str(delivery.meeting_id),
                "attempts": delivery.attempts,
                "error": delivery.last_error,
            },
        )
    else:
        delay = smtp.retry_seconds * 2 ** (delivery.attempts - 1)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        log.warning(
            "invitation delivery failed; will retry",
            extra={
                "meeting": str(delivery.meeting_id),
                "attempts": delivery.attempts,
                "error": delivery.last_error,
            },
        )
    delivery.save()


def deliver_due(smtp: SmtpSettings, now: datetime, meeting_id: ObjectId | None = None) -> int:
    """Send every pending delivery whose time has come; returns how many were sent."""
    if not smtp.host:
        return 0  # no mail server configured: deliveries stay PENDING, visible as such
    query = Delivery.objects(status="PENDING", next_attempt_at__lte=now)
    if meeting_id is not None:
        query = query.filter(meeting_id=meeting_id)
    due = list(query)
    if not due:
        return 0
    meetings = {m.pk: m for m in Meeting.objects(pk__in={d.meeting_id for d in due})}
    sent = 0
    try:
        server = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
    except OSError as exc:
        for delivery in due:
            _failed(delivery, f"cannot reach the mail server: {exc}", now, smtp)
        return 0
    with server:
        if smtp.starttls:
            server.starttls()
        for delivery in due:
            meeting = meetings.get(delivery.meeting_id)
            if meeting is None or meeting.invitation is None:
                continue
            try:
                server.send_message(
                    invitation_message(meeting, delivery.email, smtp.sender),
                    from_addr=smtp.sender,
                    to_addrs=[delivery.email],
                )
            except (smtplib.SMTPException, OSError) as exc:
                _failed(delivery, str(exc), now, smtp)
                if isinstance(exc, smtplib.SMTPServerDisconnected):
                    break
                continue
            delivery.attempts += 1
            delivery.status = "SENT"
            delivery.sent_at = now
            delivery.last_error = None
            delivery.next_attempt_at = None
            delivery.save()
            sent += 1
    return sent
