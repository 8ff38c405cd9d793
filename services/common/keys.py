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
        tmp = pem_path.with_suffix(".tmp")
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
    tmp = path.with_suffix(".tmp")
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
