"""Secrets stored sealed: AES-256-GCM (``cryptography``) under keys from the operator's
settings, each sealed value bound to what it belongs to.

A sealed value is ``v1.<key id>.<nonce+ciphertext, base64url>``. The *context* (e.g.
``ldap-sync:FRA``) is authenticated with it: a value copied into another State's record does
not open there. The first key seals; every key opens, so keys can be rotated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
DEV_KEY_FILE = "sealing.key"


class SealingUnavailable(ValueError):
    """No key is configured, a key is malformed, or a sealed value does not open here.
    The message never holds the secret or a key."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key() -> str:
    """A fresh key in the form the settings take (base64url of 32 random bytes)."""
    return _b64(secrets.token_bytes(32))


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[bytes, ...]

    @classmethod
    def from_text(cls, texts: list[str]) -> KeyRing:
        keys = []
        for text in texts:
            try:
                key = _unb64(text.strip())
            except (binascii.Error, ValueError):
                raise SealingUnavailable("a sealing key is not base64url") from None
            if len(key) != 32:
                raise SealingUnavailable("a sealing key must be 32 bytes (AES-256)")
            keys.append(key)
        if not keys:
            raise SealingUnavailable("no sealing key is configured")
        return cls(tuple(keys))

    @staticmethod
    def _key_id(key: bytes) -> str:
        return hashlib.sha256(b"dief-sealing-key-id" + key).hexdigest()[:8]

    def seal(self, plaintext: str, context: str) -> str:
        key = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return f"v1.{self._key_id(key)}.{_b64(nonce + sealed)}"

    def open(self, value: str, context: str) -> str:
        version, _, rest = value.partition(".")
        key_id, _, body = rest.partition(".")
        if version != "v1" or not body:
            raise SealingUnavailable("the sealed value is malformed")
        try:
            raw = _unb64(body)
        except (binascii.Error, ValueError):
            raise SealingUnavailable("the sealed value is malformed") from None
        for key in self.keys:
            if self._key_id(key) != key_id:
                continue
            try:
                plain = AESGCM(key).decrypt(
                    raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8")
                )
            except InvalidTag:
                break
            return plain.decode("utf-8")
        raise SealingUnavailable("the sealed value does not open with the configured keys")


def dev_key(keys_dir: Path) -> str:
    """The local dev sealing key under DIEF_HOME/keys, made on first use (never in prod)."""
    path = keys_dir / DEV_KEY_FILE
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made meanwhile by another process
        else:
            with os.fdopen(fd, "w") as out:
                out.write(new_key())
    return path.read_text(encoding="ascii").strip()
