"""Signing keys: the local dev key pair and JWKS files.

In dev one Ed25519 key under ``DIEF_HOME/keys`` signs both the caller tokens that
``dief token`` mints and the principal tokens the services accept. In production the
gateway's key is provisioned by the operator and only its JWKS is given to the services.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

PRIVATE_KEY_FILE = "dev-signing-key.pem"
JWKS_FILE = "jwks.json"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    algorithm: str = "EdDSA"


def _temporary(path: Path) -> Path:
    """A temporary name beside ``path`` no other writer uses (two services starting at
    once on one DIEF_HOME each write their own, then rename it into place atomically)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")


def ensure_dev_key(keys_dir: Path) -> SigningKey:
    """Load the dev key pair, creating it (and its JWKS) on first use."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    pem_path = keys_dir / PRIVATE_KEY_FILE
    if not pem_path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = _temporary(pem_path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp, pem_path)
    key = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{pem_path} is not an Ed25519 private key")
    signing = SigningKey(kid=key_id(key), private_key=key)
    write_jwks(keys_dir / JWKS_FILE, [signing])
    return signing


def key_id(key: Ed25519PrivateKey) -> str:
    """RFC 7638 thumbprint of the public key, so the kid never needs to be chosen."""
    jwk = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_jwk(key: SigningKey) -> dict[str, str]:
    jwk = OKPAlgorithm.to_jwk(key.private_key.public_key(), as_dict=True)
    return {**jwk, "kid": key.kid, "alg": key.algorithm, "use": "sig"}


def write_jwks(path: Path, keys: list[SigningKey]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    tmp.write_text(json.dumps({"keys": [public_jwk(k) for k in keys]}, indent=2))
    os.replace(tmp, path)


def load_jwks(path: Path) -> dict[str, jwt.PyJWK]:
    """Public keys by kid; a key without a kid or of a symmetric type is refused."""
    data = json.loads(path.read_text())
    keys: dict[str, jwt.PyJWK] = {}
    for raw in data.get("keys", []):
        if raw.get("kty") == "oct":
            raise ValueError(f"{path}: symmetric keys are not accepted for principal tokens")
        if not raw.get("kid"):
            raise ValueError(f"{path}: every key needs a kid")
        keys[raw["kid"]] = jwt.PyJWK(raw)
    if not keys:
        raise ValueError(f"{path}: no keys")
    return keys


# --- production keys: `dief keys generate` and `dief keys rotate` ---------------------------

SIGNING_KEY_FILE = "signing-key.pem"


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = _temporary(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.replace(tmp, path)


def _write_public(path: Path, jwks: list[dict[str, str]]) -> None:
    tmp = _temporary(path)
    tmp.write_text(json.dumps({"keys": jwks}, indent=2) + "\n")
    os.replace(tmp, path)


def generate_keys(directory: Path) -> SigningKey:
    """A new Ed25519 signing key (``signing-key.pem``, for the gateway only) and the JWKS
    with its public half (``jwks.json``, for every service). Refuses to overwrite a key."""
    directory.mkdir(parents=True, exist_ok=True)
    pem_path = directory / SIGNING_KEY_FILE
    if pem_path.exists():
        raise FileExistsError(f"{pem_path} exists: use 'dief keys rotate' to replace it")
    key = Ed25519PrivateKey.generate()
    signing = SigningKey(kid=key_id(key), private_key=key)
    _write_private(pem_path, key)
    _write_public(directory / JWKS_FILE, [public_jwk(signing)])
    return signing


def rotate_keys(directory: Path, keep: int = 2) -> tuple[SigningKey, list[str]]:
    """A new signing key replaces ``signing-key.pem``; the JWKS lists it first, then the
    previous public keys, ``keep`` in all, so the services accept tokens of the old key
    until the gateway signs with the new one. Returns the new key and the kids kept."""
    if keep < 2:
        raise ValueError("keep at least 2 keys (the new and the current) during a rotation")
    jwks_path = directory / JWKS_FILE
    if not (directory / SIGNING_KEY_FILE).exists() or not jwks_path.exists():
        raise FileNotFoundError(f"no keys in {directory}: run 'dief keys generate' first")
    previous = [k for k in json.loads(jwks_path.read_text()).get("keys", []) if k.get("kid")]
    load_jwks(jwks_path)  # the current file must be sound before it is extended
    key = Ed25519PrivateKey.generate()
    signing = SigningKey(kid=key_id(key), private_key=key)
    jwks = [public_jwk(signing), *[k for k in previous if k["kid"] != signing.kid]][:keep]
    _write_public(jwks_path, jwks)  # public keys first: a crash here leaves both usable
    _write_private(directory / SIGNING_KEY_FILE, key)
    return signing, [k["kid"] for k in jwks]
