"""Callers' tokens shaped like Keycloak's and Azure AD's, their JWKS served over HTTPS by a
local server whose certificate comes from a CA made here; the claim names for roles and
State are configured as an operator would; the provider rotates its keys."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

from gateway.app import caller_verifier
from gateway.auth import CallerPolicy, CallerVerifier, JwksSource
from gateway.claims import ClaimMapping
from services.common.errors import Unauthenticated
from services.common.principal import Role
from services.common.settings import Settings

KEYCLOAK = ClaimMapping(roles_claim="realm_access.roles", state_claim="state", role_prefix="dief-")
AZURE = ClaimMapping(roles_claim="roles", state_claim="extension_b7e1_state", role_prefix="Dief.")
AUDIENCE = "dief-exchange"


# --- a CA of our own and an HTTPS JWKS endpoint -------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A root CA and a server certificate it signed for 127.0.0.1, as PEM files."""
    out = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("DIEF test CA"))
        .issuer_name(_name("DIEF test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("idp.test"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": out / "ca.pem", "cert": out / "server.pem", "key": out / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class Provider:
    """An identity provider's JWKS endpoint over HTTPS; counts the fetches."""

    def __init__(self, pki: dict[str, Path]) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                time.sleep(0.05)  # long enough for concurrent callers to overlap
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki["cert"], pki["key"])
        self.server.socket = context.wrap_socket(
            self.server.socket, server_side=True, do_handshake_on_connect=False
        )  # the handshake in the handler thread, never blocking accept
        port = self.server.server_address[1]
        self.issuer = f"https://127.0.0.1:{port}/realms/dief"
        self.url = f"{self.issuer}/protocol/openid-connect/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def new_key(self) -> tuple[rsa.RSAPrivateKey, str]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = uuid.uuid4().hex
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        self.keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return key, kid


@pytest.fixture
def provider(pki: dict[str, Path]) -> Iterator[Provider]:
    p = Provider(pki)
    yield p
    p.server.shutdown()
    p.server.server_close()


def keycloak_claims(issuer: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "iss": issuer,
        "aud": [AUDIENCE, "account"],
        "sub": "f3b9c0de-3c1e-4b7a-9d52-6f0a1c2b3d4e",
        "typ": "Bearer",
        "azp": "dief-web",
        "realm_access": {
            "roles": ["offline_access", "uma_authorization", "default-roles-dief", "dief-delegate"]
        },
        "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
        "scope": "openid email profile",
        "state": "FRA",
        "preferred_username": "cmartin",
        **extra,
    }


def azure_claims(issuer: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "aud": AUDIENCE,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "oid": "6e1c2b8a-0f7d-4c55-9a1e-2d3c4b5a6978",
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "ver": "2.0",
        "roles": ["Dief.EnforcementOfficer_ignored", "Dief.enforcement_officer"],
        "extension_b7e1_state": "deu",
        **extra,
    }


def sign(key: rsa.RSAPrivateKey, kid: str, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def verifier(
    provider: Provider, pki: dict[str, Path], mapping: ClaimMapping, **source: Any
) -> CallerVerifier:
    jwks = JwksSource(provider.url, ca_file=str(pki["ca"]), **source)
    return CallerVerifier(
        jwks, CallerPolicy.build(provider.issuer, AUDIENCE, ["RS256"], 30, mapping)
    )


# --- the tokens -----------------------------------------------------------------------------


async def test_a_keycloak_token_gives_its_dief_realm_role_and_state(
    provider: Provider, pki: dict[str, Path]
) -> None:
    key, kid = provider.new_key()
    v = verifier(provider, pki, KEYCLOAK)
    principal = await v.verify(sign(key, kid, keycloak_claims(provider.issuer)))
    assert principal.roles == frozenset({Role.DELEGATE})  # Keycloak's own roles left aside
    assert principal.state == "FRA"
    assert principal.subject == "f3b9c0de-3c1e-4b7a-9d52-6f0a1c2b3d4e"
    assert principal.participant is False


async def test_an_azure_ad_token_gives_its_app_roles_and_state(
    provider: Provider, pki: dict[str, Path]
) -> None:
    key, kid = provider.new_key()
    v = verifier(provider, pki, AZURE)
    token = sign(key, kid, azure_claims(provider.issuer, roles=["Dief.Enforcement_Officer"]))
    principal = await v.verify(token)
    assert principal.roles == frozenset({Role.ENFORCEMENT_OFFICER})
    assert principal.state == "DEU"


@pytest.mark.parametrize(
    ("mapping", "claims", "message"),
    [
        # A hostile mapper adds a top-level roles claim: only the configured place counts,
        # and there only a non-DIEF role is found.
        (
            KEYCLOAK,
            {"roles": ["secretariat"], "realm_access": {"roles": ["offline_access"]}},
            "names no roles",
        ),
        (KEYCLOAK, {"realm_access": {"roles": "dief-secretariat"}}, "must be a list"),
        (KEYCLOAK, {"realm_access": {"roles": [{"name": "dief-chair"}]}}, "must be a list"),
        (KEYCLOAK, {"realm_access": {"roles": ["dief-admin"]}}, "unknown role"),
        (KEYCLOAK, {"state": ["FRA", "DEU"]}, "must name one State"),
        (KEYCLOAK, {"state": "France"}, "alpha-3"),
        (AZURE, {"roles": ["Dief.delegate"], "extension_b7e1_state": {"x": 1}}, "alpha-3"),
        (AZURE, {"roles": ["Other.secretariat"]}, "names no roles"),
    ],
)
async def test_claims_in_the_wrong_shape_are_refused(
    provider: Provider,
    pki: dict[str, Path],
    mapping: ClaimMapping,
    claims: dict[str, Any],
    message: str,
) -> None:
    key, kid = provider.new_key()
    shape = keycloak_claims if mapping is KEYCLOAK else azure_claims
    with pytest.raises(Unauthenticated, match=message):
        await verifier(provider, pki, mapping).verify(
            sign(key, kid, shape(provider.issuer, **claims))
        )


async def test_a_participant_claim_from_the_provider_is_never_trusted(
    provider: Provider, pki: dict[str, Path]
) -> None:
    key, kid = provider.new_key()
    token = sign(key, kid, keycloak_claims(provider.issuer, participant=True))
    assert (await verifier(provider, pki, KEYCLOAK).verify(token)).participant is False


async def test_the_jwks_server_must_present_a_certificate_of_the_configured_ca(
    provider: Provider,
) -> None:
    key, kid = provider.new_key()
    unconfigured = CallerVerifier(
        JwksSource(provider.url), CallerPolicy.build(provider.issuer, AUDIENCE, ["RS256"])
    )
    with pytest.raises(Unauthenticated, match="cannot be loaded"):
        await unconfigured.verify(sign(key, kid, keycloak_claims(provider.issuer)))
    assert provider.fetches == 0  # the TLS handshake failed before any request


async def test_the_gateway_settings_configure_provider_ca_and_claim_names(
    provider: Provider, pki: dict[str, Path], tmp_path: Path
) -> None:
    key, kid = provider.new_key()
    settings = Settings(
        env="dev",
        home=tmp_path,
        gateway_jwks=provider.url,
        gateway_jwks_ca_file=str(pki["ca"]),
        gateway_issuer=provider.issuer,
        gateway_audience=AUDIENCE,
        gateway_roles_claim="realm_access.roles",
        gateway_role_prefix="dief-",
    )
    principal = await caller_verifier(settings).verify(
        sign(key, kid, keycloak_claims(provider.issuer))
    )
    assert principal.roles == frozenset({Role.DELEGATE}) and principal.state == "FRA"


async def test_rotation_new_kid_fetched_once_unknown_kids_once_per_interval(
    provider: Provider, pki: dict[str, Path]
) -> None:
    now = [1000.0]
    v = verifier(provider, pki, KEYCLOAK, min_refresh_seconds=30, clock=lambda: now[0])
    old, old_kid = provider.new_key()
    assert (await v.verify(sign(old, old_kid, keycloak_claims(provider.issuer)))).state == "FRA"
    assert provider.fetches == 1

    now[0] += 31  # later, the provider rotates: a new key signs, the old one still listed
    new, new_kid = provider.new_key()
    tokens = [sign(new, new_kid, keycloak_claims(provider.issuer)) for _ in range(20)]
    results = await asyncio.gather(*(v.verify(t) for t in tokens))
    assert all(p.roles == frozenset({Role.DELEGATE}) for p in results)
    assert provider.fetches == 2  # twenty callers at once, one fetch
    await v.verify(sign(old, old_kid, keycloak_claims(provider.issuer)))
    assert provider.fetches == 2  # both kids cached

    stranger, _ = provider.new_key()
    provider.keys.pop()  # a key the provider does not publish
    made_up = [sign(stranger, f"made-up-{i}", keycloak_claims(provider.issuer)) for i in range(20)]
    outcomes = await asyncio.gather(*(v.verify(t) for t in made_up), return_exceptions=True)
    assert all(isinstance(o, Unauthenticated) for o in outcomes)
    now[0] += 10
    assert provider.fetches == 2  # within the interval of the last fetch: none
    with pytest.raises(Unauthenticated):
        await v.verify(made_up[0])
    assert provider.fetches == 2

    now[0] += 31  # the next interval: at most one fetch however many unknown kids
    outcomes = await asyncio.gather(*(v.verify(t) for t in made_up), return_exceptions=True)
    assert all(isinstance(o, Unauthenticated) for o in outcomes)
    assert provider.fetches == 3


# --- the example Keycloak realm agrees with what the gateway is configured to read ---------

ROOT = Path(__file__).resolve().parents[1]


def _k8s_config() -> dict[str, str]:
    import yaml

    return yaml.safe_load((ROOT / "deploy/k8s/base/config.yaml").read_text())["data"]


def test_the_example_realm_issues_what_the_deployed_gateway_reads() -> None:
    from services.common.principal import principal_from_claims

    realm = json.loads((ROOT / "deploy/keycloak/dief-realm.json").read_text())
    config = _k8s_config()
    (scope,) = [s for s in realm["clientScopes"] if s["name"] == "dief"]
    mappers = {m["protocolMapper"]: m["config"] for m in scope["protocolMappers"]}
    assert (
        mappers["oidc-audience-mapper"]["included.custom.audience"]
        == config["DIEF_GATEWAY_AUDIENCE"]
    )
    assert (
        mappers["oidc-usermodel-attribute-mapper"]["claim.name"]
        == config["DIEF_GATEWAY_STATE_CLAIM"]
    )
    assert (
        mappers["oidc-usermodel-realm-role-mapper"]["claim.name"]
        == config["DIEF_GATEWAY_ROLES_CLAIM"]
    )
    assert all(m["access.token.claim"] == "true" for m in mappers.values())
    for client in realm["clients"]:
        assert "dief" in client["defaultClientScopes"]
    # Every realm role maps onto a DIEF role, and every DIEF role has one.
    mapping = ClaimMapping(
        config["DIEF_GATEWAY_ROLES_CLAIM"], config["DIEF_GATEWAY_STATE_CLAIM"], "dief-"
    )
    names = [r["name"] for r in realm["roles"]["realm"]]
    mapped = set()
    for name in names:
        claims = mapping.apply({"sub": "x", "realm_access": {"roles": [name, "offline_access"]}})
        mapped |= principal_from_claims(claims).roles
    assert mapped == set(Role)
    # The user profile lets an administrator store only an alpha-3 code as the State.
    profile = json.loads(
        realm["components"]["org.keycloak.userprofile.UserProfileProvider"][0]["config"][
            "kc.user.profile.config"
        ][0]
    )
    (state,) = [a for a in profile["attributes"] if a["name"] == "state"]
    pattern = state["validations"]["pattern"]["pattern"]
    import re

    assert re.fullmatch(pattern, "FRA") and not re.fullmatch(pattern, "France")
    assert state["permissions"]["edit"] == ["admin"]  # users cannot pick their own State
