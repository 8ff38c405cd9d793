"""OpenPGP keys for the tests, made by the real GnuPG in throwaway keyrings, and the
recipient's side: decrypting (and checking the signature of) a PGP/MIME message."""

from __future__ import annotations

import email
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

import gnupg
import pytest


@dataclass(frozen=True)
class Pair:
    public: str
    secret: str
    fingerprint: str


class Ring:
    """A keyring of its own, its gpg-agent stopped on close."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="dief-test-gpg-")
        self.gpg = gnupg.GPG(gnupghome=self._dir.name)

    def close(self) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", self._dir.name, "--kill", "gpg-agent"],
            check=False,
            capture_output=True,
        )
        self._dir.cleanup()

    def pair(self, address: str, *, encrypt: bool = True) -> Pair:
        options = {"name_email": address, "key_type": "EDDSA", "key_curve": "ed25519"}
        if encrypt:
            options.update(subkey_type="ECDH", subkey_curve="cv25519")
        made = self.gpg.gen_key(self.gpg.gen_key_input(no_protection=True, **options))
        fpr = made.fingerprint
        return Pair(
            self.gpg.export_keys(fpr),
            self.gpg.export_keys(fpr, secret=True, expect_passphrase=False),
            fpr,
        )


@dataclass(frozen=True)
class Keys:
    contact: Pair  # a contact's key pair (it registers the public half)
    secretariat: Pair  # the Secretariat's signing key
    sign_only: Pair  # a key that cannot encrypt


@pytest.fixture(scope="session")
def pgp_keys() -> Iterator[Keys]:
    ring = Ring()
    try:
        yield Keys(
            ring.pair("zoll@deu.example.org"),
            ring.pair("secretariat@att.example.org"),
            ring.pair("nocrypt@deu.example.org", encrypt=False),
        )
    finally:
        ring.close()


@dataclass(frozen=True)
class Opened:
    text: str  # the decrypted MIME entity
    inner: Message
    signed_by: str | None  # the fingerprint of a valid signature, if any


def decrypt(raw: bytes, secret: Pair, signer: Pair | None = None) -> Opened:
    """What the contact reads: the PGP/MIME message as its own GnuPG opens it."""
    message = email.message_from_bytes(raw)
    assert message.get_content_type() == "multipart/encrypted", message.get_content_type()
    control, data = message.get_payload()
    assert control.get_content_type() == "application/pgp-encrypted"
    ring = Ring()
    try:
        ring.gpg.import_keys(secret.secret)
        if signer is not None:
            ring.gpg.import_keys(signer.public)
        result = ring.gpg.decrypt(data.get_payload(), always_trust=True)
        assert result.ok, result.status
        text = result.data.decode()
        signed = (result.pubkey_fingerprint or result.fingerprint) if result.valid else None
        return Opened(text, email.message_from_string(text), signed)
    finally:
        ring.close()
