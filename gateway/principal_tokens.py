"""The principal token each subgraph call carries, signed by the gateway's own key.

It names the caller (subject, State, roles), the participant flag the gateway resolved from
the contacts registry, the scopes derived from them, and the request id. It lives for
seconds (``gateway_principal_ttl_seconds``). The caller's own JWT never leaves the gateway.
"""

from __future__ import annotations

import base64
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from services.common.keys import SigningKey, ensure_dev_key, key_id
from services.common.principal import ANONYMOUS_CLAIM, Principal
from services.common.settings import Settings


@dataclass(frozen=True)
class Call:
    """Who the current request is for; set by the app, read when a subgraph is called."""

    principal: Principal | None
    request_id: str
    idempotency_key: str | None = None  # the client's, passed on to the subgraphs


current_call: ContextVar[Call | None] = ContextVar("gateway_call", default=None)


def load_signing_key(settings: Settings) -> SigningKey:
    """The configured PEM (Ed25519, EC P-256 or RSA), or in dev the dev key that sits
    beside the JWKS the services read."""
    if settings.gateway_signing_key is None:
        if not settings.is_dev:
            raise ValueError("DIEF_GATEWAY_SIGNING_KEY must be set when DIEF_ENV=prod")
        return ensure_dev_key(settings.principal_jwks_path.parent)
    path = Path(settings.gateway_signing_key)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if isinstance(key, Ed25519PrivateKey):
        return SigningKey(kid=key_id(key), private_key=key)
    if isinstance(key, EllipticCurvePrivateKey | RSAPrivateKey):
        algorithm = "ES256" if isinstance(key, EllipticCurvePrivateKey) else "RS256"
        kid = path.stem  # the operator names the key by its file; the JWKS must agree
        return SigningKey(kid=kid, private_key=key, algorithm=algorithm)  # type: ignore[arg-type]
    raise ValueError(f"{path}: not an Ed25519, EC or RSA private key")


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class PrincipalSigner:
    """Signs one token per subgraph call. Ed25519 tokens are put together here (the JOSE
    header encoded once, the claims with orjson) and signed with the key directly, which
    halves the cost of going through PyJWT; EC and RSA keys go through PyJWT."""

    def __init__(self, key: SigningKey, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        self.key = key
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self._ed25519 = isinstance(key.private_key, Ed25519PrivateKey)
        self._header = _b64(orjson.dumps({"alg": "EdDSA", "typ": "JWT", "kid": key.kid}))
        self._claims_of: dict[Principal, dict[str, object]] = {}

    def _principal_claims(self, principal: Principal) -> dict[str, object]:
        claims = self._claims_of.get(principal)
        if claims is None:
            if len(self._claims_of) >= 10_000:
                self._claims_of.clear()
            claims = self._claims_of[principal] = principal.to_claims()
        return claims

    def sign(self, principal: Principal, request_id: str, subgraph: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, object] = {
            **self._principal_claims(principal),
            "rid": request_id,
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
        }
        if subgraph is not None:
            claims["sg"] = subgraph
        if self._ed25519:
            signing_input = self._header + b"." + _b64(orjson.dumps(claims))
            signature = self.key.private_key.sign(signing_input)  # type: ignore[call-arg]
            return (signing_input + b"." + _b64(signature)).decode("ascii")
        return jwt.encode(
            claims,
            self.key.private_key,
            algorithm=self.key.algorithm,
            headers={"kid": self.key.kid},
        )

    def headers(self, subgraph: str | None = None) -> dict[str, str]:
        """Headers for a subgraph call made while serving the current request."""
        call = current_call.get()
        if call is None:
            return {}
        headers = {"x-request-id": call.request_id}
        if call.idempotency_key is not None:
            headers["idempotency-key"] = call.idempotency_key
        if call.principal is not None:
            headers["authorization"] = (
                f"Bearer {self.sign(call.principal, call.request_id, subgraph)}"
            )
        else:  # production subgraphs answer nothing without a token the gateway signed
            headers["authorization"] = f"Bearer {self.sign_anonymous(call.request_id)}"
        return headers

    def sign_anonymous(self, request_id: str) -> str:
        """A token for an anonymous caller: the subgraph reads it as no principal."""
        now = int(time.time())
        claims = {
            "sub": "anonymous",
            ANONYMOUS_CLAIM: True,
            "rid": request_id,
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
        }
        return jwt.encode(
            claims,
            self.key.private_key,
            algorithm=self.key.algorithm,
            headers={"kid": self.key.kid},
        )
