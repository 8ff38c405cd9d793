"""The gateway's production surface, attacked over real HTTP: errors that would name the
schema, /readyz and /metrics, bearer tokens, and bodies a page on another site could send."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app import caller_verifier
from services.common.keys import SigningKey
from services.common.settings import Environment, Settings
from services.dev.servers import ServerProcess
from tests.conftest import error_codes
from tests.gateway_stack import Gateway, contacts_running, gateway_stack, stack_settings

METRICS_SECRET = "metrics-secret-for-the-scraper"
YEAR = 365 * 24 * 3600


@pytest.fixture(scope="module")
def settings(
    mongodb: ServerProcess,
    nats: ServerProcess,
    keys_dir: Path,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    home = tmp_path_factory.mktemp("gateway-hardening")
    return stack_settings(mongodb.port, nats.port, keys_dir, home, "test_gateway_hardening")


@pytest.fixture(scope="module")
async def contacts(settings: Settings) -> AsyncIterator[Any]:
    async with contacts_running(settings) as app:
        yield app


@pytest.fixture(scope="module")
async def prod(
    settings: Settings, contacts: Any, keys_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Gateway]:
    """The gateway as production runs it (DIEF_ENV=prod: introspection off)."""
    async with gateway_stack(
        settings,
        contacts,
        tmp_path_factory.mktemp("prod-gateway"),
        **production(keys_dir, gateway_metrics_token=METRICS_SECRET),
    ) as gateway:
        yield gateway


def production(keys_dir: Path, **more: Any) -> dict[str, Any]:
    return {
        "env": Environment.PROD,
        "gateway_signing_key": str(keys_dir / "dev-signing-key.pem"),
        **more,
    }


def reader(gw: Gateway, **claims: Any) -> str:
    return gw.token(sub="fra-delegate", state="FRA", roles=["delegate"], **claims)


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("{ stats { totalCount } }", "Cannot query field"),  # field: states
        ("{ states(frist: 3) { totalCount } }", "Unknown argument"),  # argument: first
        ("{ states(filter: {status: STATE_PARTI}) { totalCount } }", "STATE_PARTI"),  # enum
        ("{ states(filter: {participnt: true}) { totalCount } }", "participnt"),  # input field
        ("query { ... on Quer { __typename } }", "Unknown type"),  # type: Query
        ("query($f: StateFiltr) { states(filter: $f) { totalCount } }", "Unknown type"),
    ],
)
async def test_no_error_names_the_schema_in_prod(prod: Gateway, query: str, kept: str) -> None:
    result = await prod.query(query, reader(prod))
    messages = " ".join(e["message"] for e in result["errors"])
    assert error_codes(result)[0] == "VALIDATION"
    assert kept in messages, "the error still says what is wrong"
    assert "Did you mean" not in messages
    for name in ("'states'", "'first'", "STATE_PARTY", "'participant'", "'Query'", "StateFilter"):
        assert name not in messages.replace(kept, ""), (name, messages)


async def test_an_enum_value_in_variables_gets_no_suggestion_either(prod: Gateway) -> None:
    query = "query($s: AttStatus) { states(filter: {status: $s}) { totalCount } }"
    result = await prod.query(query, reader(prod), {"s": "STATE_PARTI"})
    assert error_codes(result) == ["VALIDATION"]
    assert "Did you mean" not in str(result) and "STATE_PARTY" not in str(result)


def test_prod_refuses_a_plain_http_jwks(settings: Settings) -> None:
    prod = settings.model_copy(
        update={
            "env": Environment.PROD,
            "gateway_jwks": "http://idp.example/jwks.json",
            "gateway_issuer": "https://idp.example",
            "gateway_audience": "dief",
        }
    )
    with pytest.raises(ValueError, match="https://"):
        caller_verifier(prod)
    assert caller_verifier(prod.model_copy(update={"gateway_jwks": "https://idp.example/j"}))


async def test_readyz_shows_no_internal_address_or_error_text(
    settings: Settings, contacts: Any, tmp_path: Path
) -> None:
    unreachable = "http://127.0.0.1:9/graphql"
    async with gateway_stack(
        settings, contacts, tmp_path, wait_ready=False, contacts_url=unreachable
    ) as gw:
        answer = await gw.http.get(f"{gw.base}/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["ready"] is False and set(body) == {"ready", "checks"}
    assert "127.0.0.1" not in answer.text and "Connect" not in answer.text


async def test_metrics_are_only_for_who_holds_the_secret(prod: Gateway) -> None:
    url = f"{prod.base}/metrics"
    assert (await prod.http.get(url)).status_code == 401
    wrong = await prod.http.get(url, headers={"authorization": "Bearer guess"})
    assert wrong.status_code == 401 and "dief_" not in wrong.text
    scraped = await prod.http.get(url, headers={"authorization": f"Bearer {METRICS_SECRET}"})
    assert scraped.status_code == 200 and "dief_gateway" in scraped.text


async def test_metrics_are_off_in_prod_without_a_secret(
    settings: Settings, contacts: Any, keys_dir: Path, tmp_path: Path
) -> None:
    async with gateway_stack(settings, contacts, tmp_path, **production(keys_dir)) as gw:
        assert (await gw.http.get(f"{gw.base}/metrics")).status_code == 404


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"exp": int(time.time()) + 100 * YEAR}, "lives longer"),
        ({"iat": int(time.time()) - 2 * 24 * 3600}, "lives longer"),
        ({"exp": str(int(time.time()) + 300)}, "exp"),
        ({"iat": str(int(time.time()))}, "iat"),
        ({"nbf": True}, "nbf"),
    ],
)
async def test_token_times_are_numbers_and_lifetimes_bounded(
    prod: Gateway, claims: dict[str, Any], words: str
) -> None:
    answer = await prod.post({"query": "{ __typename }"}, reader(prod, **claims))
    assert answer.status_code == 401
    assert error_codes(answer.json()) == ["UNAUTHENTICATED"]
    assert words in answer.json()["errors"][0]["message"]


async def test_a_huge_bearer_token_is_refused_before_it_is_parsed(prod: Gateway) -> None:
    huge = reader(prod, padding="x" * 20_000)
    answer = await prod.post({"query": "{ __typename }"}, huge)
    assert answer.status_code == 401
    assert "larger than 16384 bytes" in answer.json()["errors"][0]["message"]
    assert (await prod.post({"query": "{ __typename }"}, reader(prod))).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "text/plain; charset=utf-8", ""],
)
async def test_only_json_bodies_run(prod: Gateway, content_type: str) -> None:
    prod.notes.clear()
    body = b'{"query": "{ publicNote }"}'
    headers = {"authorization": f"Bearer {reader(prod)}"}
    if content_type:
        headers["content-type"] = content_type
    answer = await prod.http.post(f"{prod.base}/graphql", content=body, headers=headers)
    assert answer.status_code == 415
    assert error_codes(answer.json()) == ["VALIDATION"]
    assert prod.notes.queries == [], "no subgraph was asked anything"
    ran = await prod.post({"query": "{ publicNote }"}, reader(prod))
    assert ran.status_code == 200 and prod.notes.queries
