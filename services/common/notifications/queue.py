"""Issuing a notice (its feed entry and one pending delivery per recipient) and sending
what is due over SMTP: every delivery recorded, a failure retried with back-off and,
after the last attempt, reported FAILED, never silently dropped.

smtplib and gpg are synchronous: callers run ``deliver_due`` in a worker thread.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from bson import ObjectId

from services.common.notifications import pgp
from services.common.notifications.documents import NoticeDelivery, NoticeEntry
from services.common.notifications.kinds import NoticeKind
from services.common.notifications.recipients import Recipient, Resolution

log = logging.getLogger("dief.notifications")

ENCRYPTED_NOTE = "This message is encrypted to your registered OpenPGP key."


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    sender: str
    starttls: bool = False
    timeout_seconds: float = 10.0
    max_attempts: int = 5
    retry_seconds: float = 60.0
    signer: pgp.SigningKey | None = None


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    content: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Notice:
    """What is said. ``body`` follows rule 14 for anyone it is addressed to: never
    agenda content, and for a confidential item only that there is something to see and
    the ``link``; ``private_body`` (the details) goes only to recipients with a key."""

    kind: NoticeKind
    subject: str
    body: str
    topic: str | None = None
    link: str | None = None
    private_body: str | None = None
    attachments: tuple[Attachment, ...] = ()


def entry_and_deliveries(
    notice: Notice,
    resolution: Resolution,
    now: datetime,
    entry_cls: type[NoticeEntry],
    delivery_cls: type[NoticeDelivery],
    *,
    states: Iterable[str] = (),
    secretariat: bool = False,
    key: str | None = None,
    **extra: Any,
) -> tuple[NoticeEntry, list[NoticeDelivery]]:
    """The documents to write in the caller's unit of work (with the change told of)."""
    entry = entry_cls(
        pk=ObjectId(),
        kind=notice.kind.value,
        topic=notice.topic,
        key=key,
        subject=notice.subject,
        body=notice.body,
        link=notice.link,
        states=sorted(set(states) | {r.state for r in resolution.recipients}),
        secretariat=secretariat,
        unreachable=list(resolution.unreachable),
        recipient_count=len(resolution.recipients),
        issued_at=now,
        read_by=[],
    )
    deliveries = [
        _delivery(delivery_cls, notice, r, now, str(entry.pk), extra)
        for r in _unique(resolution.recipients)
    ]
    return entry, deliveries


def _unique(recipients: Iterable[Recipient]) -> list[Recipient]:
    seen: dict[tuple[str, str], Recipient] = {}
    for r in recipients:
        seen.setdefault((r.state, r.email.strip().lower()), r)
    return [seen[k] for k in sorted(seen)]


def _delivery(
    cls: type[NoticeDelivery],
    notice: Notice,
    r: Recipient,
    now: datetime,
    notice_id: str,
    extra: Mapping[str, Any],
) -> NoticeDelivery:
    return cls(
        pk=ObjectId(),
        kind=notice.kind.value,
        topic=notice.topic,
        notice_id=notice_id,
        state=r.state,
        email=r.email.strip().lower(),
        role=r.role,
        subject=notice.subject,
        body=notice.body,
        private_body=notice.private_body,
        attachments=[
            {
                "filename": a.filename,
                "maintype": a.maintype,
                "subtype": a.subtype,
                "content": a.content,
                "params": dict(a.params),
            }
            for a in notice.attachments
        ],
        public_key=r.public_key,
        fingerprint=r.fingerprint,
        status="PENDING",
        next_attempt_at=now,
        created_at=now,
        **extra,
    )


def message(delivery: NoticeDelivery, smtp: SmtpSettings, now: datetime) -> EmailMessage:
    """The email as it goes out: encrypted (with the details) when the recipient has a key."""
    msg = EmailMessage()
    msg["Subject"] = delivery.subject or "Diversion Information Exchange Forum"
    msg["From"] = smtp.sender
    msg["To"] = delivery.email
    msg["Date"] = format_datetime(delivery.created_at or now)
    msg["Message-ID"] = make_msgid(domain="dief")
    msg["X-DIEF-Notice"] = delivery.kind
    text = delivery.body or ""
    if delivery.public_key:
        if delivery.private_body:
            text = f"{text}\n\n{delivery.private_body}"
        text = f"{text}\n\n{ENCRYPTED_NOTE}"
    msg.set_content(text)
    for a in delivery.attachments or []:
        msg.add_attachment(
            a["content"],
            subtype=a["subtype"],
            filename=a["filename"],
            params=a.get("params") or {},
        )
    if delivery.public_key:
        return pgp.encrypt(msg, delivery.public_key, smtp.signer)
    return msg


def _failed(delivery: NoticeDelivery, error: str, now: datetime, smtp: SmtpSettings) -> None:
    delivery.attempts += 1
    delivery.last_error = error[:500]
    facts = {"kind": delivery.kind, "topic": delivery.topic, "attempts": delivery.attempts}
    if delivery.attempts >= smtp.max_attempts:
        delivery.status = "FAILED"
        delivery.next_attempt_at = None
        log.error("notice could not be delivered", extra={**facts, "error": delivery.last_error})
    else:
        delay = smtp.retry_seconds * 2 ** (delivery.attempts - 1)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        log.warning("notice delivery failed; will retry", extra=facts)
    delivery.save()


def deliver_due(
    delivery_cls: type[NoticeDelivery], smtp: SmtpSettings, now: datetime, **only: Any
) -> int:
    """Send every pending delivery whose time has come (``only``: filters, e.g. a
    topic); returns how many were sent."""
    if not smtp.host:
        return 0  # no mail server configured: deliveries stay PENDING, visible as such
    due = list(delivery_cls.objects(status="PENDING", next_attempt_at__lte=now, **only))
    if not due:
        return 0
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
            try:
                msg = message(delivery, smtp, now)
            except pgp.PgpError as exc:
                _failed(delivery, str(exc), now, smtp)
                continue
            try:
                server.send_message(msg, from_addr=smtp.sender, to_addrs=[delivery.email])
            except (smtplib.SMTPException, OSError) as exc:
                _failed(delivery, str(exc), now, smtp)
                if isinstance(exc, smtplib.SMTPServerDisconnected):
                    break
                continue
            delivery.attempts += 1
            delivery.status = "SENT"
            delivery.encrypted = bool(delivery.public_key)
            delivery.sent_at = now
            delivery.last_error = None
            delivery.next_attempt_at = None
            delivery.save()
            sent += 1
    return sent
