"""The console's settings (``DIEF_CONSOLE_*``), read once at start-up."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    """Where the gateway answers, how people sign in, how long a session lasts."""

    model_config = SettingsConfigDict(env_prefix="DIEF_CONSOLE_", extra="ignore")

    port: int = 8000
    # The one API the console talks to: its GraphQL endpoint and its file routes.
    gateway_url: str = "http://127.0.0.1:8100"
    gateway_timeout_seconds: float = Field(default=20.0, gt=0)
    # Where browsers reach the console (the OpenID Connect redirect URI is built from it).
    public_url: str = "http://127.0.0.1:8000"
    # Cookies: Secure (and the __Host- prefix) in prod; None follows DIEF_ENV.
    secure_cookies: bool | None = None
    session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=72)
    # The dev sign-in page (pick a State and a role, get a dev token); None: on in dev only.
    dev_sign_in: bool | None = None
    # OpenID Connect (authorization code + PKCE) against the identity provider.
    oidc_metadata_url: str | None = None  # .../.well-known/openid-configuration
    oidc_client_id: str | None = None
    oidc_client_secret_ref: str | None = None  # env:VARIABLE or file:/path, never the secret
    oidc_scopes: str = "openid profile"
    default_locale: str = "en"
    default_time_zone: str = "UTC"
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_metadata_url and self.oidc_client_id)
