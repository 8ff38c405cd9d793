"""The principal tokens the gateway signs: each verifies with the services' own verifier,
carries the request id and the subgraph, and is unique per call; Ed25519 and EC keys alike."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from gateway.principal_tokens import Call, PrincipalSigner, current_call
from services.common.errors import Unauthenticated
from services.common.keys import SigningKey, ensure_dev_key
from services.common.principal import Principal, PrincipalVerifier, Role

CALLER = Principal(
    subject="fra-delegate",
    roles=frozenset({Role.DELEGATE}),
    state="FRA",
    participant=True,
    scopes=frozenset({"delegate", "participant", "state:FRA"}),
)


def verifier(jwks: Path, algorithm: str) -> PrincipalVerifier:
    return PrincipalVerifier(
        jwks, issuer="dief-gateway", audience="dief-services", algorithms=[algorithm]
    )


def signer(key: SigningKey) -> PrincipalSigner:
    return PrincipalSigner(key, issuer="dief-gateway", audience="dief-services", ttl_seconds=30)


def test_an_ed25519_token_verifies_and_names_the_call(tmp_path: Path) -> None:
    key = ensure_dev_key(tmp_path)
    tokens = signer(key)
    token = tokens.sign(CALLER, "req-7", "contacts")
    assert verifier(tmp_path / "jwks.json", "EdDSA").verify(token) == CALLER
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "typ": "JWT", "kid": key.kid}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["rid"] == "req-7" and claims["sg"] == "contacts"
    assert claims["exp"] - claims["iat"] == 30
    again = jwt.decode(
        tokens.sign(CALLER, "req-7", "contacts"), options={"verify_signature": False}
    )
    assert again["jti"] != claims["jti"]


def test_a_tampered_ed25519_token_is_refused(tmp_path: Path) -> None:
    token = signer(ensure_dev_key(tmp_path)).sign(CALLER, "req-8")
    head, _body, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.utils.base64url_encode(json.dumps({**claims, "state": "USA"}).encode()).decode()
    with pytest.raises(Unauthenticated):
        verifier(tmp_path / "jwks.json", "EdDSA").verify(f"{head}.{forged}.{signature}")


def test_an_ec_key_signs_through_pyjwt(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    (tmp_path / "jwks.json").write_text(
        json.dumps({"keys": [{**jwk, "kid": "gw-ec", "alg": "ES256", "use": "sig"}]})
    )
    key = SigningKey(kid="gw-ec", private_key=private, algorithm="ES256")  # type: ignore[arg-type]
    token = signer(key).sign(CALLER, "req-9", "cases")
    assert verifier(tmp_path / "jwks.json", "ES256").verify(token) == CALLER
    assert jwt.decode(token, options={"verify_signature": False})["rid"] == "req-9"


def test_the_callers_idempotency_key_goes_with_every_subgraph_call(tmp_path: Path) -> None:
    tokens = signer(ensure_dev_key(tmp_path))
    given = current_call.set(Call(CALLER, "req-8", "create-42"))
    try:
        headers = tokens.headers("contacts")
    finally:
        current_call.reset(given)
    assert headers["idempotency-key"] == "create-42"
    assert headers["x-request-id"] == "req-8"
    given = current_call.set(Call(CALLER, "req-9"))
    try:
        assert "idempotency-key" not in tokens.headers("contacts")
    finally:
        current_call.reset(given)
