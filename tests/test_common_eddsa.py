"""The direct Ed25519 check of principal tokens (services/common/eddsa.py) accepts and
refuses exactly what PyJWT does with the same key, issuer, audience and leeway: each token
below goes through both and the verdicts (and accepted claims) are compared.

No servers are started: keys are made in ``tmp_path``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from services.common import eddsa
from services.common.errors import Unauthenticated
from services.common.keys import JWKS_FILE, SigningKey, ensure_dev_key
from services.common.principal import REQUIRED_CLAIMS, PrincipalVerifier
from tests.principal_claims import AUDIENCE, ISSUER, b64url, principal_claims

LEEWAY = 30


def claims(**overrides: Any) -> dict[str, Any]:
    return principal_claims(**{"jti": "j1", **overrides})


def signed(key: SigningKey, body: Any) -> str:
    header = b64url(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": key.kid}).encode())
    payload = b64url(json.dumps(body).encode())
    signature = key.private_key.sign(f"{header}.{payload}".encode())
    return f"{header}.{payload}.{b64url(signature)}"


def by_pyjwt(token: str, key: SigningKey) -> dict[str, Any] | None:
    try:
        return jwt.decode(
            token,
            key=key.private_key.public_key(),
            algorithms=["EdDSA"],
            issuer=ISSUER,
            audience=AUDIENCE,
            leeway=LEEWAY,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.PyJWTError:
        return None


def directly(token: str, key: SigningKey) -> dict[str, Any] | None:
    try:
        return eddsa.verified_claims(
            token,
            key.private_key.public_key(),
            issuer=ISSUER,
            audience=AUDIENCE,
            leeway=LEEWAY,
            required=REQUIRED_CLAIMS,
        )
    except Unauthenticated:
        return None


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return ensure_dev_key(tmp_path / "keys")


def bodies() -> dict[str, Any]:
    """The tokens' bodies, their times counted from when a test runs (not from the import,
    which in a whole run of the suite is minutes earlier)."""
    now = int(time.time())
    return {
        "valid": claims(),
        "audience among several": claims(aud=["other", AUDIENCE]),
        "expired": claims(exp=now - 100),
        "expired within the leeway": claims(exp=now - 10),
        "exp a float": claims(exp=now + 300.5),
        "exp a numeric string": claims(exp=str(now + 300)),
        "exp not a number": claims(exp="soon"),
        "exp a boolean": claims(exp=True),
        "exp a list": claims(exp=[now + 300]),
        "issued in the future": claims(iat=now + 3600),
        "issued just ahead, within the leeway": claims(iat=now + 10),
        "iat not a number": claims(iat="now"),
        "not yet valid": claims(nbf=now + 3600),
        "nbf not a number": claims(nbf={"a": 1}),
        "no nbf": claims(nbf=...),
        "wrong issuer": claims(iss="someone-else"),
        "issuer not a string": claims(iss=42),
        "wrong audience": claims(aud="other"),
        "audience list without ours": claims(aud=["a", "b"]),
        "empty audience list": claims(aud=[]),
        "audience a number": claims(aud=7),
        "audience list of numbers": claims(aud=[7]),
        "subject not a string": claims(sub=42),
        "jti not a string": claims(jti=5),
        "sub null": claims(sub=None),
        **{f"no {name}": claims(**{name: ...}) for name in REQUIRED_CLAIMS},
        "payload a list": ["sub", "alice"],
        "payload a string": "alice",
        "payload null": None,
    }


@pytest.mark.parametrize("case", list(bodies()))
def test_a_token_gets_the_same_verdict_as_from_pyjwt(key: SigningKey, case: str) -> None:
    token = signed(key, bodies()[case])
    assert directly(token, key) == by_pyjwt(token, key)


def test_the_cases_include_both_verdicts(key: SigningKey) -> None:
    """The comparison above means something: some tokens are accepted, most refused."""
    verdicts = {
        case: directly(signed(key, body), key) is not None for case, body in bodies().items()
    }
    assert verdicts["valid"] and verdicts["expired within the leeway"]
    assert not verdicts["expired"] and not verdicts["wrong audience"]


def _tamper(token: str, other: SigningKey) -> dict[str, str]:
    header, payload, signature = token.split(".")
    forged = b64url(json.dumps(claims(roles=["secretariat"])).encode())
    _, others_payload, others_signature = signed(other, claims()).split(".")
    return {
        "payload swapped": f"{header}.{forged}.{signature}",
        "signed by another key under ours": f"{header}.{others_payload}.{others_signature}",
        "signature cut short": f"{header}.{payload}.{signature[:-4]}",
        "signature empty": f"{header}.{payload}.",
        "no signature segment": f"{header}.{payload}",
        "an extra segment": f"{header}.{payload}.{signature}.{signature}",
        "signature not base64": f"{header}.{payload}.!!!!",
        "payload not base64 json": f"{header}.bm90IGpzb24.{signature}",
        "non-ascii": f"{header}.{payload}é.{signature}",
        "untouched": token,
    }


def test_a_tampered_token_gets_the_same_verdict_as_from_pyjwt(
    key: SigningKey, tmp_path: Path
) -> None:
    other = ensure_dev_key(tmp_path / "other")
    cases = _tamper(signed(key, claims()), other)
    verdicts = {name: directly(token, key) for name, token in cases.items()}
    assert verdicts == {name: by_pyjwt(token, key) for name, token in cases.items()}
    assert [name for name, v in verdicts.items() if v is not None] == ["untouched"]


@pytest.mark.parametrize(
    ("header", "plain"),
    [
        ({"alg": "EdDSA", "typ": "JWT", "kid": "k"}, True),
        ({"alg": "EdDSA", "kid": "k"}, True),
        ({"alg": "EdDSA", "typ": "JWT", "kid": "k", "crit": ["exp"]}, False),
        ({"alg": "EdDSA", "typ": "JWT", "kid": "k", "jku": "http://x"}, False),
        ({"alg": "EdDSA", "typ": "at+jwt", "kid": "k"}, False),
        ({"alg": "EdDSA", "typ": "JWT"}, False),
        ({"alg": "EdDSA", "kid": 7}, False),
        ({"alg": "ES256", "kid": "k"}, False),
        ({"alg": "none", "kid": "k"}, False),
    ],
)
def test_only_the_gateways_own_header_shape_is_checked_directly(
    header: dict[str, Any], plain: bool
) -> None:
    assert eddsa.plain_header(header) is plain


def test_the_verifier_reads_a_repeated_header_once_and_still_checks_each_token(
    key: SigningKey, tmp_path: Path
) -> None:
    verifier = PrincipalVerifier(
        tmp_path / "keys" / JWKS_FILE, issuer=ISSUER, audience=AUDIENCE, algorithms=["EdDSA"]
    )
    good = signed(key, claims())
    assert verifier.claims_of(good)["sub"] == "alice"
    header, _, signature = good.split(".")
    forged = b64url(json.dumps(claims(sub="mallory")).encode())
    with pytest.raises(Unauthenticated):
        verifier.claims_of(f"{header}.{forged}.{signature}")
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.claims_of(signed(key, claims(exp=int(time.time()) - 100)))
    assert len(verifier._headers) == 1
