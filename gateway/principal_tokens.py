"""The principal token each subgraph call carries, signed by the gateway's own key.

It names the caller (subject, State, roles), the participant flag the gateway resolved from
the contacts registry, the scopes derived from them, and the request id. It lives for
seconds (``gateway_principal_ttl_seconds``). The caller's own JWT never leaves the gateway.
"""

from __future__ import annotations

import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from services.common.keys import SigningKey, ensure_dev_key, key_id
from services.common.principal import Principal
from services.common.settings import Settings


@dataclass(frozen=True)
class Call:
    """Who the current request is for; set by the app, read when a subgraph is called."""

    principal: Principal | None
    request_id: str


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


class PrincipalSigner:
    def __init__(self, key: SigningKey, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        self.key = key
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds

    def sign(self, principal: Principal, request_id: str, subgraph: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, object] = {
            **principal.to_claims(),
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
        if call.principal is not None:
            headers["authorization"] = (
                f"Bearer {self.sign(call.principal, call.request_id, subgraph)}"
            )
        return headers
