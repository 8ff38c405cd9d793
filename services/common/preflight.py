"""What ``dief serve`` checks before a production process starts: every setting the part
needs is set and the files it names can be read and are what they should be. The first
problem found is raised as a :class:`SettingsError` naming the setting, so a mistake shows
as one line, not as a traceback from deep inside the start-up."""

from __future__ import annotations

from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.keys import key_id, load_jwks
from services.common.settings import Settings, SettingsError, env_name


def _required(settings: Settings, *fields: str) -> None:
    for field in fields:
        if field not in settings.model_fields_set or getattr(settings, field) in (None, ""):
            raise SettingsError(f"{env_name(field)} must be set when DIEF_ENV=prod")


def _readable(field: str, location: str) -> Path:
    path = Path(location.removeprefix("file://"))
    try:
        path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{env_name(field)}: cannot read {path}: {exc.strerror}") from None
    return path


def check_production(settings: Settings, service: str) -> None:
    """Nothing in dev; in prod, the settings ``service`` (a subgraph or the gateway) needs."""
    if settings.is_dev:
        return
    if service == "console":  # a web app in front of the gateway: none of the services' needs
        _check_console()
        return
    _required(settings, "nats_url", "principal_jwks")
    if service != "gateway":
        _required(settings, "mongodb_uri")
    jwks_path = _readable("principal_jwks", str(settings.principal_jwks))
    try:
        published = load_jwks(jwks_path)
    except (ValueError, KeyError, TypeError, jwt.PyJWTError) as exc:
        raise SettingsError(f"DIEF_PRINCIPAL_JWKS: {jwks_path} is no usable JWKS: {exc}") from None
    if service == "gateway":
        _check_gateway(settings, set(published))
    if service == "contacts" and settings.ldap_publish_url:
        from services.contacts.ldap_publish import PublishConfig, PublishNotConfigured

        try:
            PublishConfig.from_settings(settings)
        except (PublishNotConfigured, ValueError) as exc:  # its messages name the settings
            raise SettingsError(str(exc)) from None


def _check_gateway(settings: Settings, published_kids: set[str]) -> None:
    _required(settings, "gateway_jwks", "gateway_issuer", "gateway_audience")
    _required(settings, "gateway_signing_key")
    if not str(settings.gateway_jwks).startswith(("https://", "http://")):
        _readable("gateway_jwks", str(settings.gateway_jwks))
    if settings.gateway_jwks_ca_file:
        _readable("gateway_jwks_ca_file", settings.gateway_jwks_ca_file)
    path = _readable("gateway_signing_key", str(settings.gateway_signing_key))
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise SettingsError(
            f"DIEF_GATEWAY_SIGNING_KEY: {path} is not an unencrypted PEM private key"
        ) from None
    if isinstance(key, Ed25519PrivateKey):  # EC and RSA keys are named by their file's stem
        kid = key_id(key)
        if kid not in published_kids:
            raise SettingsError(
                f"DIEF_GATEWAY_SIGNING_KEY: its key {kid} is not in DIEF_PRINCIPAL_JWKS, so "
                "the services would refuse every call (publish the JWKS first)"
            )


def _check_console() -> None:
    """The console in prod: where the gateway and the browsers reach it, and the identity
    provider people sign in with (the dev sign-in page does not exist in prod)."""
    from pydantic import ValidationError

    from console.oidc import read_secret
    from console.settings import ConsoleSettings

    try:
        console = ConsoleSettings()
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"DIEF_CONSOLE_{str(error['loc'][0]).upper()}: {message}") from None
    for field in ("gateway_url", "public_url", "oidc_metadata_url", "oidc_client_id"):
        if field not in console.model_fields_set or not getattr(console, field):
            raise SettingsError(f"DIEF_CONSOLE_{field.upper()} must be set when DIEF_ENV=prod")
    if not console.public_url.startswith("https://"):
        raise SettingsError(
            "DIEF_CONSOLE_PUBLIC_URL: must be https:// in prod (the session cookie is Secure)"
        )
    if console.dev_sign_in:
        raise SettingsError("DIEF_CONSOLE_DEV_SIGN_IN: the dev sign-in page exists only in dev")
    try:
        if console.oidc_client_secret_ref and not read_secret(console.oidc_client_secret_ref):
            raise SettingsError("DIEF_CONSOLE_OIDC_CLIENT_SECRET_REF: names an empty secret")
    except (OSError, ValueError) as exc:
        raise SettingsError(
            f"DIEF_CONSOLE_OIDC_CLIENT_SECRET_REF: cannot be read ({type(exc).__name__})"
        ) from None
