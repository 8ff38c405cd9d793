"""A production subgraph, called directly over real HTTP, answers nothing (introspection and
``_service`` included) without a principal token the gateway signed; ``dief compose`` gets
one, and the gateway's token for an anonymous caller reads as no principal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.principal_tokens import PrincipalSigner, load_signing_key
from gateway.subgraphs import compose_token, sdl_over_http
from services.common.keys import SigningKey
from services.common.principal import Principal, Role
from services.common.settings import Environment, Settings
from tests.gateway_support import served

INTROSPECTION = "{ __schema { queryType { name } } }"
SDL = "{ _service { sdl } }"


@pytest.fixture
def settings(settings: Settings, keys_dir: Path) -> Settings:
    return settings.model_copy(
        update={
            "env": Environment.PROD,
            "gateway_signing_key": str(keys_dir / "dev-signing-key.pem"),
        }
    )


@pytest.fixture
async def contacts_url(contacts_app: Any) -> AsyncIterator[str]:
    async with served(contacts_app) as base:
        yield f"{base}/graphql"


def signer(settings: Settings, key: SigningKey | None = None) -> PrincipalSigner:
    return PrincipalSigner(
        key or load_signing_key(settings),
        issuer=settings.principal_issuer,
        audience=settings.principal_audience,
        ttl_seconds=60,
    )


async def ask(url: str, query: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(url, json={"query": query}, headers=headers)


@pytest.mark.parametrize("query", [INTROSPECTION, SDL, "{ states(first: 1) { totalCount } }"])
async def test_nothing_is_answered_without_a_gateway_token(
    contacts_url: str, settings: Settings, query: str
) -> None:
    bare = await ask(contacts_url, query)
    assert bare.status_code == 401
    assert bare.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in bare.json() and "sdl" not in bare.text and "queryType" not in bare.text
    forged_key = SigningKey(kid="attacker", private_key=Ed25519PrivateKey.generate())
    system = Principal("attacker", frozenset({Role.SYSTEM}))
    forged = await ask(contacts_url, query, signer(settings, forged_key).sign(system, "r"))
    assert forged.status_code == 401


async def test_dief_compose_reads_the_sdl_with_a_token_of_its_own(
    contacts_url: str, settings: Settings
) -> None:
    token = compose_token(settings)
    assert "type State" in await asyncio.to_thread(sdl_over_http, contacts_url, token=token)
    with pytest.raises(httpx.HTTPStatusError):
        await asyncio.to_thread(sdl_over_http, contacts_url)


async def test_the_gateways_anonymous_token_passes_the_door_and_is_no_principal(
    contacts_url: str, settings: Settings
) -> None:
    anonymous = signer(settings).sign_anonymous("request-1")
    answer = await ask(contacts_url, "{ states(first: 1) { totalCount } }", anonymous)
    assert answer.status_code == 200
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_gateway_token_is_verified_once_per_request_and_names_its_caller(
    contacts_app: Any, contacts_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The door's check hands its verified claims to the request's context: one signature
    check per request, and the context still reads the caller from that token alone."""
    verifier = contacts_app.state.runtime.verifier
    checked: list[str] = []
    real = verifier.claims_of

    def counted(token: str) -> dict[str, object]:
        checked.append(token)
        return real(token)

    monkeypatch.setattr(verifier, "claims_of", counted)
    secretariat = Principal("sec-1", frozenset({Role.SECRETARIAT}))
    token = signer(settings).sign(secretariat, "request-2")
    answer = await ask(contacts_url, "{ states(first: 1) { totalCount } }", token)
    assert answer.status_code == 200 and "errors" not in answer.json()
    assert answer.json()["data"]["states"] == {"totalCount": 0}  # empty: a clean database
    assert checked == [token]
    anonymous = signer(settings).sign_anonymous("request-3")
    refused = await ask(contacts_url, "{ states(first: 1) { totalCount } }", anonymous)
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert checked == [token, anonymous]
