"""OpenPGP through GnuPG (``gpg`` from Debian, driven by python-gnupg): a contact's public
key checked before it is stored, and a notice encrypted to it as PGP/MIME (RFC 3156),
signed with the Secretariat's key when one is configured.

Each operation works in a keyring of its own in a temporary directory: nothing a
contact registers can reach another contact's notices, and the Secretariat's secret key
is imported only for the signature and removed with the directory afterwards.
"""

from __future__ import annotations

import email
import re
import subprocess
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.policy import SMTP, default
from pathlib import Path

import gnupg

from services.common.errors import ValidationFailed

MAX_KEY_CHARS = 100_000
ARMOR = re.compile(
    r"-----BEGIN PGP PUBLIC KEY BLOCK-----.+?-----END PGP PUBLIC KEY BLOCK-----", re.S
)


class PgpError(RuntimeError):
    """GnuPG could not encrypt or sign (the delivery is retried, then reported)."""


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    user_ids: tuple[str, ...]
    expires_at: int | None  # seconds since the epoch, None if it does not expire


@dataclass(frozen=True)
class SigningKey:
    """The Secretariat's secret key (ASCII armour) and its passphrase, if any."""

    armored: str
    passphrase: str | None = None


class _Keyring:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="dief-gpg-")
        self.home = Path(self._dir.name)
        self.gpg = gnupg.GPG(gnupghome=str(self.home))
        self.gpg.encoding = "utf-8"

    def __enter__(self) -> _Keyring:
        return self

    def __exit__(self, *exc: object) -> None:
        # A secret-key operation starts a gpg-agent for this home; stop it with the home.
        subprocess.run(
            ["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"],
            check=False,
            capture_output=True,
        )
        self._dir.cleanup()


def inspect(armored: str, field: str = "publicKey") -> KeyInfo:
    """One OpenPGP public key in ASCII armour that can encrypt, not expired or revoked."""
    text = (armored or "").strip()
    if len(text) > MAX_KEY_CHARS or not ARMOR.fullmatch(text):
        raise ValidationFailed(
            "Give one OpenPGP public key in ASCII armour (-----BEGIN PGP PUBLIC KEY BLOCK-----).",
            field=field,
        )
    with _Keyring() as ring:
        keys = ring.gpg.scan_keys_mem(text)
    if len(keys) != 1 or keys[0].get("type") != "pub":
        raise ValidationFailed(
            "The block must hold exactly one public key (no secret key).", field=field
        )
    key = keys[0]
    if key.get("trust") in ("r", "e", "i", "d"):
        raise ValidationFailed("The key is revoked, expired or invalid.", field=field)
    if "E" not in (key.get("cap") or ""):
        raise ValidationFailed("The key cannot encrypt (no encryption subkey).", field=field)
    expires = key.get("expires")
    return KeyInfo(
        key["fingerprint"], tuple(key.get("uids") or ()), int(expires) if expires else None
    )


def encrypt(message: EmailMessage, public_key: str, signer: SigningKey | None) -> EmailMessage:
    """The message as PGP/MIME: the whole MIME body encrypted (and signed), the routing
    headers kept outside."""
    payload = _body_part(message)
    with _Keyring() as ring:
        imported = ring.gpg.import_keys(public_key)
        if not imported.fingerprints:
            raise PgpError("the recipient's key could not be imported")
        recipient = imported.fingerprints[0]
        options: dict[str, object] = {"always_trust": True, "armor": True}
        if signer is not None:
            mine = ring.gpg.import_keys(signer.armored)
            secret = [r["fingerprint"] for r in mine.results if r.get("fingerprint")]
            if not secret:
                raise PgpError("the Secretariat's signing key could not be imported")
            options["sign"] = secret[0]
            if signer.passphrase:  # none given: gpg must not read one from the data
                options["passphrase"] = signer.passphrase
        result = ring.gpg.encrypt(payload, [recipient], **options)
    if not result.ok:
        raise PgpError(f"gpg could not encrypt: {result.status}")
    out = EmailMessage()
    for name, value in message.items():
        if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version"):
            out[name] = value
    out.set_type("multipart/encrypted")
    out.set_param("protocol", "application/pgp-encrypted")
    control = Message()
    control.add_header("Content-Type", "application/pgp-encrypted")
    control.add_header("Content-Description", "PGP/MIME version identification")
    control.set_payload("Version: 1\n")
    data = Message()
    data.add_header("Content-Type", "application/octet-stream", name="encrypted.asc")
    data.add_header("Content-Description", "OpenPGP encrypted message")
    data.add_header("Content-Disposition", "inline", filename="encrypted.asc")
    data.set_payload(str(result))
    out.attach(control)
    out.attach(data)
    return out


def _body_part(message: EmailMessage) -> bytes:
    """The message's MIME entity without its routing headers (what is encrypted)."""
    entity = email.message_from_bytes(message.as_bytes(policy=SMTP), policy=default)
    for name in set(entity.keys()):
        if not name.lower().startswith("content-"):
            del entity[name]
    return entity.as_bytes(policy=SMTP)
