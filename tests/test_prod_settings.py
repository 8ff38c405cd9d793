"""``DIEF_ENV=prod`` with a setting missing or malformed: ``dief serve`` exits with status 2
and one line naming the setting, never a traceback, and never echoes a value (a URI may
carry a password)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli import main
from services.common.keys import generate_keys, rotate_keys
from services.common.settings import get_settings


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    generate_keys(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def prod_env(keys: Path, tmp_path: Path) -> dict[str, str]:
    """A complete production configuration (the gateway's and the subgraphs')."""
    return {
        "DIEF_ENV": "prod",
        "DIEF_HOME": str(tmp_path / "home"),
        "MONGODB_URI": "mongodb://dief-contacts:s3cret-pw@db-0:27017/?replicaSet=rs0",
        "NATS_URL": "nats://contacts:n4ts-pw@nats:4222",
        "DIEF_PRINCIPAL_JWKS": str(keys / "jwks.json"),
        "DIEF_GATEWAY_JWKS": "https://idp.example.org/realms/dief/protocol/openid-connect/certs",
        "DIEF_GATEWAY_ISSUER": "https://idp.example.org/realms/dief",
        "DIEF_GATEWAY_AUDIENCE": "dief-exchange",
        "DIEF_GATEWAY_SIGNING_KEY": str(keys / "signing-key.pem"),
    }


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[object]:
    def serve(env: dict[str, str], service: str = "gateway") -> tuple[int, list[str]]:
        for key in [
            k for k in os.environ if k.startswith("DIEF_") or k in ("MONGODB_URI", "NATS_URL")
        ]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        # Nothing may start: a preflight that passes would reach uvicorn, which is refused.
        monkeypatch.setattr("uvicorn.run", _not_started)
        code = main(["serve", service, "--port", "1"])
        return code, capsys.readouterr().err.splitlines()

    yield serve
    get_settings.cache_clear()


class _Started(Exception):
    pass


def _not_started(*args: object, **kwargs: object) -> None:
    raise _Started


def without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


@pytest.mark.parametrize(
    ("service", "change", "expected"),
    [
        ("gateway", {"DIEF_PRINCIPAL_JWKS": None}, "DIEF_PRINCIPAL_JWKS must be set"),
        ("contacts", {"MONGODB_URI": None}, "MONGODB_URI must be set when DIEF_ENV=prod"),
        ("cases", {"NATS_URL": None}, "NATS_URL must be set when DIEF_ENV=prod"),
        ("gateway", {"DIEF_GATEWAY_ISSUER": None}, "DIEF_GATEWAY_ISSUER must be set"),
        ("gateway", {"DIEF_GATEWAY_JWKS": ""}, "DIEF_GATEWAY_JWKS must be set"),
        ("gateway", {"DIEF_GATEWAY_SIGNING_KEY": None}, "DIEF_GATEWAY_SIGNING_KEY must be set"),
        (
            "meetings",
            {"DIEF_PRINCIPAL_JWKS": "/nonexistent/jwks.json"},
            "DIEF_PRINCIPAL_JWKS: cannot read /nonexistent/jwks.json",
        ),
        (
            "gateway",
            {"DIEF_GATEWAY_SIGNING_KEY": "/nonexistent/key.pem"},
            "DIEF_GATEWAY_SIGNING_KEY: cannot read",
        ),
        ("gateway", {"DIEF_ENV": "production"}, "DIEF_ENV: Input should be 'dev' or 'prod'"),
        ("gateway", {"DIEF_GATEWAY_MAX_BATCH": "many"}, "DIEF_GATEWAY_MAX_BATCH: Input should"),
        ("cases", {"DIEF_STREAM_REPLICAS": "9"}, "DIEF_STREAM_REPLICAS: Input should be less"),
        (
            "contacts",
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "otel-collector:4318"},
            "OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL",
        ),
        (
            "gateway",
            {"DIEF_GATEWAY_SUBGRAPH_URLS": "{contacts: x"},
            "DIEF_GATEWAY_SUBGRAPH_URLS: not valid JSON",
        ),
        (
            "gateway",
            {"DIEF_GATEWAY_AUTHORIZATION_MODE": "lenient"},
            "DIEF_GATEWAY_AUTHORIZATION_MODE: String should match",
        ),
        (
            "contacts",
            {
                "DIEF_LDAP_PUBLISH_URL": "ldap://ldap:389",
                "DIEF_LDAP_PUBLISH_BASE_DN": "dc=dief,dc=int",
                "DIEF_LDAP_PUBLISH_SECRET_REF": "env:LDAP_PW",
            },
            "DIEF_LDAP_PUBLISH",
        ),
    ],
)
def test_one_line_naming_the_setting(
    run, prod_env: dict[str, str], service: str, change: dict[str, str | None], expected: str
) -> None:
    env = {**prod_env, **{k: v for k, v in change.items() if v is not None}}
    env = without(env, *[k for k, v in change.items() if v is None])
    code, lines = run(env, service)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("dief: ") and expected in lines[0], lines[0]


def test_files_that_are_not_what_they_should_be(
    run, prod_env: dict[str, str], tmp_path: Path, keys: Path
) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_text("{not json")
    code, lines = run({**prod_env, "DIEF_PRINCIPAL_JWKS": str(garbage)}, "contacts")
    assert code == 2 and len(lines) == 1 and "DIEF_PRINCIPAL_JWKS:" in lines[0]
    assert "no usable JWKS" in lines[0]
    code, lines = run({**prod_env, "DIEF_GATEWAY_SIGNING_KEY": str(garbage)})
    assert code == 2 and lines == [
        f"dief: DIEF_GATEWAY_SIGNING_KEY: {garbage} is not an unencrypted PEM private key"
    ]


def test_a_signing_key_the_services_do_not_know_is_refused(
    run, prod_env: dict[str, str], keys: Path, tmp_path: Path
) -> None:
    """A rotation done in the wrong order: the gateway's new key is not yet in the JWKS
    the services read."""
    stale = tmp_path / "stale-jwks.json"
    stale.write_bytes((keys / "jwks.json").read_bytes())
    rotate_keys(keys)
    code, lines = run({**prod_env, "DIEF_PRINCIPAL_JWKS": str(stale)})
    assert code == 2 and len(lines) == 1
    assert "DIEF_GATEWAY_SIGNING_KEY: its key" in lines[0]
    assert "not in DIEF_PRINCIPAL_JWKS" in lines[0]


def test_no_value_is_echoed(run, prod_env: dict[str, str]) -> None:
    secret = "hunter2-password"
    code, lines = run({**prod_env, "DIEF_GATEWAY_SUBGRAPH_URLS": f'{{"contacts": ["{secret}"]}}'})
    assert code == 2 and len(lines) == 1 and "DIEF_GATEWAY_SUBGRAPH_URLS" in lines[0]
    assert secret not in lines[0]


@pytest.mark.parametrize("service", ["gateway", "contacts", "meetings", "cases"])
def test_a_complete_production_configuration_goes_on_to_start(
    run, prod_env: dict[str, str], service: str
) -> None:
    with pytest.raises(_Started):
        run(prod_env, service)


def test_the_installed_command_exits_with_one_line_and_no_traceback(
    prod_env: dict[str, str],
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIEF_")}
    env |= without(prod_env, "DIEF_GATEWAY_AUDIENCE")
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == "dief: DIEF_GATEWAY_AUDIENCE must be set when DIEF_ENV=prod\n"
    assert "Traceback" not in done.stdout


CONSOLE_ENV = {
    "DIEF_ENV": "prod",
    # in every pod's environment (deploy/k8s's shared ConfigMap); the console reads no key
    "DIEF_PRINCIPAL_JWKS": "/etc/dief/jwks/jwks.json",
    "DIEF_CONSOLE_GATEWAY_URL": "http://dief-gateway",
    "DIEF_CONSOLE_PUBLIC_URL": "https://dief.example.org",
    "DIEF_CONSOLE_OIDC_METADATA_URL": "https://idp.example.org/realms/dief/.well-known/openid-configuration",
    "DIEF_CONSOLE_OIDC_CLIENT_ID": "dief-web",
}


def test_the_console_needs_only_its_own_settings(run) -> None:
    """No database, NATS or key files: the console only talks to the gateway (deploy/k8s
    gives it nothing else)."""
    with pytest.raises(_Started):
        run(CONSOLE_ENV, "console")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"DIEF_CONSOLE_OIDC_METADATA_URL": None},
            "DIEF_CONSOLE_OIDC_METADATA_URL must be set when DIEF_ENV=prod",
        ),
        ({"DIEF_CONSOLE_GATEWAY_URL": None}, "DIEF_CONSOLE_GATEWAY_URL must be set"),
        ({"DIEF_CONSOLE_PUBLIC_URL": "http://dief.example.org"}, "must be https:// in prod"),
        ({"DIEF_CONSOLE_DEV_SIGN_IN": "true"}, "DIEF_CONSOLE_DEV_SIGN_IN: the dev sign-in"),
        ({"DIEF_CONSOLE_SESSION_IDLE_MINUTES": "0"}, "DIEF_CONSOLE_SESSION_IDLE_MINUTES: Input"),
        (
            {"DIEF_CONSOLE_OIDC_CLIENT_SECRET_REF": "file:/nonexistent/secret"},
            "DIEF_CONSOLE_OIDC_CLIENT_SECRET_REF: cannot be read",
        ),
        (
            {"DIEF_CONSOLE_OIDC_CLIENT_SECRET_REF": "the-secret-itself"},
            "DIEF_CONSOLE_OIDC_CLIENT_SECRET_REF: cannot be read",
        ),
    ],
)
def test_a_console_setting_missing_or_wrong_is_one_line(
    run, change: dict[str, str | None], expected: str
) -> None:
    env = {k: v for k, v in {**CONSOLE_ENV, **change}.items() if v is not None}
    code, lines = run(env, "console")
    assert code == 2 and len(lines) == 1, lines
    assert expected in lines[0]
    assert "the-secret-itself" not in lines[0]
