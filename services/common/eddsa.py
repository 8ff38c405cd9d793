"""The principal token's checks done directly for the gateway's own Ed25519 tokens.

Every subgraph request carries a token the gateway signed a moment ago; going through
PyJWT costs about twice the signature check itself (the token decoded twice, option
merging, claim by claim). For a token whose header is exactly the gateway's
(``alg`` EdDSA, an optional ``typ`` of JWT, a ``kid``), this module verifies the signature
with the key and checks the claims as PyJWT does, with the same refusals; any other header
goes through PyJWT (``services.common.principal``).

    if plain_header(header) and isinstance(key, Ed25519PublicKey):
        claims = verified_claims(token, key, issuer=..., audience=..., leeway=30,
                                 required=("exp", "iat", "sub", "iss", "aud"))
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Iterable

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.common.errors import Unauthenticated

_PLAIN_HEADER_KEYS = frozenset({"alg", "typ", "kid"})


def plain_header(header: dict[str, object]) -> bool:
    """A header of the gateway's shape: nothing PyJWT would have to interpret."""
    return (
        header.get("alg") == "EdDSA"
        and isinstance(header.get("kid"), str)
        and header.get("typ", "JWT") == "JWT"
        and _PLAIN_HEADER_KEYS.issuperset(header)
    )


def _segment(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Unauthenticated("The token was refused: Invalid token padding.") from exc


def _refused(why: str) -> Unauthenticated:
    return Unauthenticated(f"The token was refused: {why}.")


def verified_claims(
    token: str,
    key: Ed25519PublicKey,
    *,
    issuer: str,
    audience: str,
    leeway: float,
    required: Iterable[str],
) -> dict[str, object]:
    signing_input, dot, signature = token.rpartition(".")
    if not dot or signing_input.count(".") != 1:
        raise _refused("Not enough segments")
    try:
        key.verify(_segment(signature), signing_input.encode("ascii"))
    except (InvalidSignature, UnicodeEncodeError) as exc:
        raise _refused("Signature verification failed") from exc
    try:
        claims = orjson.loads(_segment(signing_input.partition(".")[2]))
    except orjson.JSONDecodeError as exc:
        raise _refused("Invalid payload string") from exc
    if not isinstance(claims, dict):
        raise _refused("Invalid payload string: must be a json object")
    _check(claims, issuer=issuer, audience=audience, leeway=leeway, required=required)
    return claims


def _whole(claims: dict[str, object], name: str, why: str) -> int:
    try:
        return int(claims[name])  # type: ignore[call-overload]
    except (ValueError, TypeError, OverflowError) as exc:
        raise _refused(why) from exc


def _check(
    claims: dict[str, object],
    *,
    issuer: str,
    audience: str,
    leeway: float,
    required: Iterable[str],
) -> None:
    """PyJWT's claim checks, in its order: required, iat, nbf, exp, iss, aud, sub, jti."""
    for name in required:
        if claims.get(name) is None:
            raise _refused(f'Token is missing the "{name}" claim')
    now = time.time()
    if "iat" in claims:
        iat = _whole(claims, "iat", "Issued At claim (iat) must be an integer")
        if iat > now + leeway:
            raise _refused("The token is not yet valid (iat)")
    if "nbf" in claims:
        nbf = _whole(claims, "nbf", "Not Before claim (nbf) must be an integer")
        if nbf > now + leeway:
            raise _refused("The token is not yet valid (nbf)")
    if "exp" in claims:
        exp = _whole(claims, "exp", "Expiration Time claim (exp) must be an integer")
        if exp <= now - leeway:
            raise Unauthenticated("The token has expired.")
    if claims.get("iss") != issuer:
        raise _refused("Invalid issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise _refused("Invalid claim format in token")
    if audience not in audiences:
        raise _refused("Audience doesn't match")
    if "sub" in claims and not isinstance(claims["sub"], str):
        raise _refused("Subject must be a string")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise _refused("JWT ID must be a string")
