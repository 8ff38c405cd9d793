"""Signing in to the console through an identity provider: the authorization code flow with
PKCE (S256) against a small real provider on a loopback port, and the attacks on it (a
forged state, a wrong verifier, an ID token for another sign-in)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from console.app import build
from console.settings import ConsoleSettings
from services.common.settings import Settings
from services.dev.servers import free_port
from tests.gateway_support import IdentityProvider, served

CLIENT_ID = "dief-console"


@dataclass
class Provider:
    """An authorization server that checks what a real one checks for this flow."""

    base: str = ""
    idp: IdentityProvider | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    wrong_nonce: bool = False
    seen: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def discovery(request: Request) -> Response:
            return JSONResponse(
                {
                    "issuer": self.base,
                    "authorization_endpoint": f"{self.base}/authorize",
                    "token_endpoint": f"{self.base}/token",
                    "jwks_uri": f"{self.base}/jwks",
                }
            )

        async def jwks(request: Request) -> Response:
            assert self.idp is not None
            return JSONResponse({"keys": [self.idp.jwk]})

        async def authorize(request: Request) -> Response:
            q = dict(request.query_params)
            self.seen.append(q)
            if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256":
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = q
            return RedirectResponse(
                f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302
            )

        async def token(request: Request) -> Response:
            form = dict(await request.form())
            grant = self.codes.pop(str(form.get("code")), None)
            if grant is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            digest = hashlib.sha256(str(form.get("code_verifier", "")).encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if (
                challenge != grant["code_challenge"]
                or form.get("redirect_uri") != grant["redirect_uri"]
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            assert self.idp is not None
            now = int(time.time())
            claims = {
                "iss": self.base,
                "aud": CLIENT_ID,
                "sub": "marie.dupont",
                "iat": now,
                "exp": now + 300,
                "state": "fra",
                "roles": ["delegate"],
                "nonce": "other" if self.wrong_nonce else grant["nonce"],
            }
            id_token = jwt.encode(claims, self.idp.key, algorithm="EdDSA", headers={"kid": "idp-1"})
            return JSONResponse(
                {
                    "access_token": self.idp.token(sub="marie.dupont"),
                    "id_token": id_token,
                    "token_type": "Bearer",
                    "expires_in": 300,
                }
            )

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
            ]
        )


@contextlib.asynccontextmanager
async def running(tmp_path: Path, wrong_nonce: bool = False) -> AsyncIterator[str]:
    """The console, signing in through a ``Provider``: yields the console's base URL."""
    provider = Provider(idp=IdentityProvider(tmp_path), wrong_nonce=wrong_nonce)
    async with served(provider.app()) as idp_base:
        provider.base = idp_base
        port = free_port()
        settings = ConsoleSettings(
            gateway_url=f"http://127.0.0.1:{free_port()}",  # nobody there: pages say so
            public_url=f"http://127.0.0.1:{port}",
            oidc_metadata_url=f"{idp_base}/.well-known/openid-configuration",
            oidc_client_id=CLIENT_ID,
            dev_sign_in=False,
        )
        app = build(settings, Settings(env="dev", home=tmp_path))
        # the console on the port its public URL names (the redirect URI must match)
        async with served(app, lifespan="auto", port=port) as console_base:
            yield console_base


async def walk(http: httpx.AsyncClient, url: str, **params: Any) -> httpx.Response:
    return await http.get(url, params=params or None, follow_redirects=False)


async def to_provider_and_back(browser: httpx.AsyncClient) -> httpx.Response:
    """A sign-in started and taken to the provider: its redirect back to the console."""
    await browser.get("/signin")
    start = await walk(browser, "/signin/oidc")
    return await walk(browser, start.headers["location"])


def test_signing_in_with_the_provider_keeps_the_tokens_on_the_server(tmp_path: Path) -> None:
    asyncio.run(_test_signing_in_with_the_provider_keeps_the_tokens_on_the_server(tmp_path))


async def _test_signing_in_with_the_provider_keeps_the_tokens_on_the_server(tmp_path: Path) -> None:
    async with (
        running(tmp_path) as console,
        httpx.AsyncClient(base_url=console, timeout=20) as browser,
    ):
        signin = await browser.get("/signin")
        assert "Sign in with your organisation" in signin.text and "User name" not in signin.text
        start = await walk(browser, "/signin/oidc")
        assert start.status_code == 303
        authorize = urlparse(start.headers["location"])
        query = parse_qs(authorize.query)
        assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
        assert "code_verifier" not in start.headers["location"]  # the verifier stays here
        back = await walk(browser, start.headers["location"])
        assert back.status_code == 302
        done = await walk(browser, back.headers["location"])
        assert done.status_code == 303 and done.headers["location"] == "/"
        page = await browser.get("/cases")
        assert "marie.dupont" in page.text and "FRA" in page.text
        for token in ("access_token", "id_token"):
            assert token not in page.text
        assert all("ey" not in v for v in browser.cookies.values())  # no JWT in a cookie


def test_an_answer_with_another_state_signs_nobody_in(tmp_path: Path) -> None:
    asyncio.run(_test_an_answer_with_another_state_signs_nobody_in(tmp_path))


async def _test_an_answer_with_another_state_signs_nobody_in(tmp_path: Path) -> None:
    async with (
        running(tmp_path) as console,
        httpx.AsyncClient(base_url=console, timeout=20) as browser,
    ):
        back = await to_provider_and_back(browser)
        forged = urlparse(back.headers["location"])
        code = parse_qs(forged.query)["code"][0]
        answer = await walk(browser, "/signin/callback", code=code, state="forged")
        assert answer.status_code == 400 and "does not belong" in answer.text
        assert (await walk(browser, "/cases")).status_code == 303  # still signed out


def test_a_code_redeemed_with_another_verifier_is_refused(tmp_path: Path) -> None:
    asyncio.run(_test_a_code_redeemed_with_another_verifier_is_refused(tmp_path))


async def _test_a_code_redeemed_with_another_verifier_is_refused(tmp_path: Path) -> None:
    async with (
        running(tmp_path) as console,
        httpx.AsyncClient(base_url=console, timeout=20) as victim,
        httpx.AsyncClient(base_url=console, timeout=20) as attacker,
    ):
        stolen = await to_provider_and_back(victim)
        # the attacker starts a flow of their own and injects the victim's code into it
        await attacker.get("/signin")
        own = parse_qs(urlparse((await walk(attacker, "/signin/oidc")).headers["location"]).query)
        code = parse_qs(urlparse(stolen.headers["location"]).query)["code"][0]
        answer = await walk(attacker, "/signin/callback", code=code, state=own["state"][0])
        assert answer.status_code == 400 and "refused" in answer.text
        assert (await walk(attacker, "/cases")).status_code == 303


def test_an_id_token_for_another_sign_in_is_refused(tmp_path: Path) -> None:
    asyncio.run(_test_an_id_token_for_another_sign_in_is_refused(tmp_path))


async def _test_an_id_token_for_another_sign_in_is_refused(tmp_path: Path) -> None:
    async with (
        running(tmp_path, wrong_nonce=True) as console,
        httpx.AsyncClient(base_url=console, timeout=20) as browser,
    ):
        back = await to_provider_and_back(browser)
        answer = await walk(browser, back.headers["location"])
        assert answer.status_code == 400 and "not issued for this sign-in" in answer.text
        assert (await walk(browser, "/cases")).status_code == 303
