"""Verifying callers' OIDC JWTs at the gateway.

The identity provider's public keys come from a JWKS file (dev) or URL (production),
cached and refreshed when a token names a key id not seen before (rate-limited, so a flood
of made-up key ids cannot turn into a flood of fetches). Only asymmetric algorithms are
accepted; ``none`` and HMAC never are, whatever the configuration says.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

from gateway.claims import ClaimMapping
from services.common.context import MAX_TOKEN_BYTES
from services.common.errors import Unauthenticated
from services.common.principal import Principal, principal_from_claims

ASYMMETRIC = frozenset(
    {"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)


def parse_jwks(document: str) -> dict[str, jwt.PyJWK]:
    data = json.loads(document)
    keys: dict[str, jwt.PyJWK] = {}
    for raw in data.get("keys", []):
        if raw.get("kty") == "oct" or not raw.get("kid"):
            continue  # symmetric keys and keys without an id are never used
        try:
            keys[raw["kid"]] = jwt.PyJWK(raw)
        except jwt.PyJWTError:
            continue  # a key type this library cannot use is skipped, not fatal
    return keys


class JwksSource:
    """Public keys by id, from a file path or an http(s) URL (checked against ``ca_file``
    when the identity provider's certificate comes from a CA of its own). Concurrent
    requests naming the same new key id wait for one fetch."""

    def __init__(
        self,
        location: str,
        *,
        min_refresh_seconds: float = 30.0,
        http: httpx.AsyncClient | None = None,
        ca_file: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.location = location
        self.min_refresh_seconds = min_refresh_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._http = http
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file) if ca_file else True
        )
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("https://", "http://"))

    async def _fetch(self) -> str:
        if not self.is_url:
            return Path(self.location.removeprefix("file://")).read_text()
        client = self._http or httpx.AsyncClient(timeout=5.0, verify=self._verify)
        try:
            response = await client.get(self.location)
            response.raise_for_status()
            return response.text
        finally:
            if self._http is None:
                await client.aclose()

    async def refresh(self) -> None:
        self._fetched_at = self._clock()  # a failed fetch counts too: no retry storm
        self._keys = parse_jwks(await self._fetch())

    def _may_fetch(self, kid: str) -> bool:
        return kid not in self._keys and (
            self._clock() - self._fetched_at >= self.min_refresh_seconds
        )

    async def key(self, kid: str | None) -> jwt.PyJWK:
        if kid is None:
            raise Unauthenticated("The token names no key id (kid).")
        if kid not in self._keys and (self._lock.locked() or self._may_fetch(kid)):
            async with self._lock:  # a fetch under way may bring the kid: wait for it
                if self._may_fetch(kid):  # not fetched meanwhile by a concurrent request
                    try:
                        await self.refresh()
                    except (OSError, httpx.HTTPError, ValueError) as exc:
                        raise Unauthenticated(
                            "The identity provider's keys cannot be loaded right now."
                        ) from exc
        if kid not in self._keys:
            raise Unauthenticated(
                "The token was signed by a key the identity provider does not publish."
            )
        return self._keys[kid]


@dataclass(frozen=True)
class CallerPolicy:
    issuer: str
    audience: str
    algorithms: frozenset[str]
    leeway_seconds: int = 30
    claims: ClaimMapping = field(default_factory=ClaimMapping)
    max_lifetime_seconds: int = 24 * 3600

    @classmethod
    def build(
        cls,
        issuer: str,
        audience: str,
        algorithms: Iterable[str],
        leeway_seconds: int = 30,
        claims: ClaimMapping | None = None,
        max_lifetime_seconds: int = 24 * 3600,
    ) -> CallerPolicy:
        allowed = frozenset(algorithms) & ASYMMETRIC
        if not allowed:
            raise ValueError("at least one asymmetric algorithm must be allowed")
        return cls(
            issuer,
            audience,
            allowed,
            leeway_seconds,
            claims or ClaimMapping(),
            max_lifetime_seconds,
        )

    def check_times(self, claims: dict[str, Any], now: float) -> None:
        """``exp``, ``nbf`` and ``iat`` are numbers, and the token lives no longer than the
        maximum lifetime (counted from ``iat`` and from now)."""
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise Unauthenticated(f"The token's {name} claim must be a number.")
        limit = self.max_lifetime_seconds + self.leeway_seconds
        if claims["exp"] - claims["iat"] > limit or claims["exp"] - now > limit:
            raise Unauthenticated(
                f"The token lives longer than the {self.max_lifetime_seconds} seconds accepted."
            )


class CallerVerifier:
    def __init__(self, keys: JwksSource, policy: CallerPolicy) -> None:
        self.keys = keys
        self.policy = policy

    async def verify(self, token: str) -> Principal:
        """The caller the token names. Participation is not taken from the token: the
        gateway sets it from the State registry."""
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthenticated(f"The bearer token is larger than {MAX_TOKEN_BYTES} bytes.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The bearer token is not a JWT.") from exc
        algorithm = header.get("alg")
        if algorithm not in self.policy.algorithms:
            raise Unauthenticated(f"Token algorithm {algorithm!r} is not accepted.")
        key = await self.keys.key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                issuer=self.policy.issuer,
                audience=self.policy.audience,
                leeway=self.policy.leeway_seconds,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthenticated("The token is not valid yet.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"The token was refused: {exc}.") from exc
        self.policy.check_times(claims, time.time())
        claims = self.policy.claims.apply(claims)  # roles and State where the IdP puts them
        claims.pop("participant", None)  # never trusted from the caller
        return principal_from_claims(claims)
