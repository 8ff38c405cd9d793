"""Sign-in through the identity provider: OpenID Connect authorization code flow with PKCE
(S256), by Authlib. The tokens stay in the server-side session; the browser never sees them.

The ID token is checked (signature by the provider's JWKS, issuer, audience, expiry,
nonce) before anyone is signed in; its ``sub``, ``state`` and ``roles`` claims name the
user as the gateway will see them in the access token.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from authlib.common.security import generate_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from console.sessions import Identity, Session
from console.settings import ConsoleSettings

ALGORITHMS = ["RS256", "ES256", "EdDSA", "PS256"]


class SignInError(Exception):
    """The provider's answer cannot sign anyone in (the reason is shown to the user)."""


def read_secret(ref: str | None) -> str | None:
    """``env:NAME`` or ``file:/path``; never the secret itself in the settings."""
    if not ref:
        return None
    kind, _, where = ref.partition(":")
    if kind == "env":
        return os.environ.get(where)
    if kind == "file":
        return Path(where).read_text().strip()
    raise ValueError("DIEF_CONSOLE_OIDC_CLIENT_SECRET_REF must be env:NAME or file:/path")


@dataclass
class Provider:
    settings: ConsoleSettings
    http: httpx.AsyncClient
    _metadata: dict[str, Any] | None = None
    _jwks: dict[str, Any] | None = None

    @property
    def redirect_uri(self) -> str:
        return self.settings.public_url.rstrip("/") + "/signin/callback"

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            assert self.settings.oidc_metadata_url
            response = await self.http.get(self.settings.oidc_metadata_url)
            response.raise_for_status()
            self._metadata = response.json()
        return self._metadata

    def client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.settings.oidc_client_id,
            client_secret=read_secret(self.settings.oidc_client_secret_ref),
            scope=self.settings.oidc_scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
        )

    async def start(self, session: Session) -> str:
        """The provider's authorization URL; state, nonce and PKCE verifier kept server-side."""
        meta = await self.metadata()
        verifier = generate_token(64)
        state = generate_token(32)
        nonce = generate_token(32)
        async with self.client() as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
        session.flow = {"state": state, "nonce": nonce, "verifier": verifier, "at": time.time()}
        return url

    async def finish(self, session: Session, params: dict[str, str]) -> Identity:
        flow, session.flow = session.flow, {}
        if params.get("error"):
            raise SignInError(params.get("error_description") or params["error"])
        if not flow or not params.get("state") or params.get("state") != flow.get("state"):
            raise SignInError("The sign-in answer does not belong to this browser session.")
        if time.time() - float(flow.get("at", 0)) > 600:
            raise SignInError("The sign-in took too long; start again.")
        code = params.get("code")
        if not code:
            raise SignInError("The identity provider sent no authorization code.")
        meta = await self.metadata()
        try:
            async with self.client() as client:
                token = await client.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=flow["verifier"]
                )
        except (OAuthError, httpx.HTTPError, ValueError) as exc:
            raise SignInError("The identity provider refused the sign-in.") from exc
        claims = await self.verify_id_token(token.get("id_token"), flow["nonce"])
        session.access_token = token.get("access_token")
        session.refresh_token = token.get("refresh_token")
        expires_at = token.get("expires_at")
        session.token_expires = float(expires_at) if expires_at else None
        if not session.access_token:
            raise SignInError("The identity provider sent no access token.")
        roles = claims.get("roles") or []
        return Identity(
            subject=str(claims["sub"]),
            roles=tuple(str(r) for r in roles) if isinstance(roles, list) else (),
            state=str(claims["state"]).upper() if claims.get("state") else None,
            via="oidc",
        )

    async def verify_id_token(self, id_token: str | None, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise SignInError("The identity provider sent no ID token.")
        meta = await self.metadata()
        if self._jwks is None:
            response = await self.http.get(meta["jwks_uri"])
            response.raise_for_status()
            self._jwks = response.json()
        try:
            header = jwt.get_unverified_header(id_token)
            keys = jwt.PyJWKSet.from_dict(self._jwks)
            key = next(k for k in keys.keys if k.key_id == header.get("kid"))
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.settings.oidc_client_id,
                issuer=meta["issuer"],
                leeway=30,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except (jwt.PyJWTError, StopIteration) as exc:
            raise SignInError("The ID token could not be verified.") from exc
        if claims.get("nonce") != nonce:
            raise SignInError("The ID token was not issued for this sign-in.")
        return claims
