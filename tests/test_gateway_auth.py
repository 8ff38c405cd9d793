"""The gateway's verification of callers' JWTs: the attacks it must refuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from gateway.auth import CallerPolicy, CallerVerifier, JwksSource
from services.common.errors import Unauthenticated

ISSUER, AUDIENCE = "https://idp.att.example", "dief"


def ed_key() -> tuple[Ed25519PrivateKey, dict[str, Any]]:
    key = Ed25519PrivateKey.generate()
    jwk = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return key, {**jwk, "kid": f"ed-{id(key)}", "alg": "EdDSA", "use": "sig"}


def rsa_key() -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return key, {**jwk, "kid": f"rsa-{id(key)}", "alg": "RS256", "use": "sig"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "state": "FRA",
        "roles": ["delegate"],
        **overrides,
    }


def sign(key: Any, jwk: dict[str, Any], alg: str | None = None, **overrides: Any) -> str:
    return jwt.encode(
        claims(**overrides), key, algorithm=alg or jwk["alg"], headers={"kid": jwk["kid"]}
    )


@pytest.fixture
def keys() -> dict[str, tuple[Any, dict[str, Any]]]:
    return {"ed": ed_key(), "rsa": rsa_key()}


@pytest.fixture
def verifier(tmp_path: Path, keys: dict[str, tuple[Any, dict[str, Any]]]) -> CallerVerifier:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk for _, jwk in keys.values()]}))
    policy = CallerPolicy.build(ISSUER, AUDIENCE, ["EdDSA", "RS256", "HS256", "none"])
    return CallerVerifier(JwksSource(str(path)), policy)


async def test_a_valid_token_names_the_caller_but_not_their_participation(
    verifier: CallerVerifier, keys: dict[str, tuple[Any, dict[str, Any]]]
) -> None:
    for key, jwk in keys.values():
        caller = await verifier.verify(sign(key, jwk, participant=True))
        assert (caller.subject, caller.state) == ("alice", "FRA")
        assert caller.participant is False  # the registry decides, not the token


def test_hmac_and_none_can_never_be_configured() -> None:
    policy = CallerPolicy.build(ISSUER, AUDIENCE, ["RS256", "HS256", "none"])
    assert policy.algorithms == frozenset({"RS256"})
    with pytest.raises(ValueError):
        CallerPolicy.build(ISSUER, AUDIENCE, ["HS256"])


def _part(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unsigned(kid: str) -> str:
    return f"{_part({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_part(claims())}."


def _hs256(secret: bytes, kid: str) -> str:
    """The classic confusion attack: HMAC 'signed' with the server's public key."""
    signing_input = f"{_part({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_part(claims())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_part(mac)}"


async def test_attacks_are_unauthenticated(
    verifier: CallerVerifier, keys: dict[str, tuple[Any, dict[str, Any]]]
) -> None:
    ed, ed_jwk = keys["ed"]
    rsa_private, rsa_jwk = keys["rsa"]
    public_pem = rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    stranger, stranger_jwk = ed_key()
    attacks = {
        "alg none": _unsigned(ed_jwk["kid"]),
        "HS256 keyed with the RSA public key": _hs256(public_pem, rsa_jwk["kid"]),
        "wrong issuer": sign(ed, ed_jwk, iss="https://evil.example"),
        "wrong audience": sign(ed, ed_jwk, aud="another-service"),
        "expired": sign(ed, ed_jwk, exp=int(time.time()) - 120),
        "not yet valid": sign(ed, ed_jwk, nbf=int(time.time()) + 600),
        "unknown kid": sign(stranger, stranger_jwk),
        "known kid, other key": jwt.encode(
            claims(), stranger, algorithm="EdDSA", headers={"kid": ed_jwk["kid"]}
        ),
        "RS256 header on the Ed25519 key id": jwt.encode(
            claims(), rsa_private, algorithm="RS256", headers={"kid": ed_jwk["kid"]}
        ),
        "no kid": jwt.encode(claims(), ed, algorithm="EdDSA"),
        "no subject": sign(ed, ed_jwk, sub=None),
        "garbage": "not.a.jwt",
    }
    for name, token in attacks.items():
        with pytest.raises(Unauthenticated):
            await verifier.verify(token)
        assert name  # every attack was refused


class _JwksServer:
    """A real HTTP server publishing a JWKS document that the test can change."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def jwks_server() -> Iterator[_JwksServer]:
    server = _JwksServer()
    yield server
    server.server.shutdown()


async def test_a_rotated_key_is_fetched_once_when_first_seen(jwks_server: _JwksServer) -> None:
    old, old_jwk = ed_key()
    new, new_jwk = ed_key()
    jwks_server.document = {"keys": [old_jwk]}
    source = JwksSource(jwks_server.url, min_refresh_seconds=0)
    verifier = CallerVerifier(source, CallerPolicy.build(ISSUER, AUDIENCE, ["EdDSA"]))
    assert (await verifier.verify(sign(old, old_jwk))).subject == "alice"
    with pytest.raises(Unauthenticated):
        await verifier.verify(sign(new, new_jwk))
    jwks_server.document = {"keys": [old_jwk, new_jwk]}  # the provider rotates
    assert (await verifier.verify(sign(new, new_jwk))).subject == "alice"
    before = jwks_server.requests
    await verifier.verify(sign(new, new_jwk))
    assert jwks_server.requests == before  # cached


async def test_made_up_key_ids_do_not_flood_the_identity_provider(jwks_server: _JwksServer) -> None:
    key, jwk = ed_key()
    jwks_server.document = {"keys": [jwk]}
    source = JwksSource(jwks_server.url, min_refresh_seconds=60)
    verifier = CallerVerifier(source, CallerPolicy.build(ISSUER, AUDIENCE, ["EdDSA"]))
    await verifier.verify(sign(key, jwk))
    for i in range(20):
        stranger, stranger_jwk = ed_key()
        with pytest.raises(Unauthenticated):
            await verifier.verify(sign(stranger, {**stranger_jwk, "kid": f"made-up-{i}"}))
    assert jwks_server.requests == 1


async def test_an_unreachable_identity_provider_refuses_rather_than_guesses() -> None:
    key, jwk = ed_key()
    source = JwksSource("http://127.0.0.1:9/jwks.json", min_refresh_seconds=0)
    verifier = CallerVerifier(source, CallerPolicy.build(ISSUER, AUDIENCE, ["EdDSA"]))
    with pytest.raises(Unauthenticated):
        await verifier.verify(sign(key, jwk))
