"""The notices' mail settings from the service settings."""

from __future__ import annotations

from services.common.notifications.pgp import SigningKey
from services.common.notifications.queue import SmtpSettings
from services.common.secrets import resolve_secret
from services.common.settings import Settings


def smtp_settings(settings: Settings) -> SmtpSettings:
    signer = None
    if settings.notice_signing_key:
        passphrase = settings.notice_signing_passphrase
        signer = SigningKey(
            resolve_secret(settings.notice_signing_key),
            resolve_secret(passphrase) if passphrase else None,
        )
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender,
        starttls=settings.smtp_starttls,
        timeout_seconds=settings.smtp_timeout_seconds,
        max_attempts=settings.smtp_max_attempts,
        retry_seconds=settings.smtp_retry_seconds,
        signer=signer,
    )
