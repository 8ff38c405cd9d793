"""The gateway refuses to start in production without its identity provider and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.app import caller_verifier, limits_from
from gateway.principal_tokens import load_signing_key
from services.common.settings import Settings


def prod(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        env="prod", home=tmp_path, principal_jwks=str(tmp_path / "jwks.json"), **overrides
    )


def test_production_needs_the_identity_providers_jwks_issuer_and_audience(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DIEF_GATEWAY_JWKS"):
        caller_verifier(prod(tmp_path))
    verifier = caller_verifier(
        prod(
            tmp_path,
            gateway_jwks="https://idp.example/jwks.json",
            gateway_issuer="https://idp.example",
            gateway_audience="dief",
            gateway_algorithms=["RS256", "HS256", "none"],
        )
    )
    assert verifier.policy.algorithms == {"RS256"}  # never HMAC or none, whatever is listed
    assert verifier.keys.is_url


def test_production_needs_a_signing_key_for_principal_tokens(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DIEF_GATEWAY_SIGNING_KEY"):
        load_signing_key(prod(tmp_path))


def test_limits_come_from_the_settings(tmp_path: Path) -> None:
    limits = limits_from(Settings(home=tmp_path, gateway_max_depth=7, gateway_max_cost=99))
    assert (limits.max_depth, limits.max_cost) == (7, 99)
