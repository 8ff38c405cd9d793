"""CORS for web front-ends: the allowed origins are configured
(``DIEF_GATEWAY_CORS_ORIGINS``, a JSON list); by default none in prod and the dev console's
origin in dev. Credentials (cookies) are never allowed: callers send a bearer token. The
gateway answers preflights for ``/graphql`` and the file routes alike."""

from __future__ import annotations

from typing import Any

from services.common.settings import Settings

DEV_CONSOLE_ORIGIN = "http://127.0.0.1:8000"
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "x-request-id",
    "idempotency-key",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)
EXPOSED_HEADERS = ("x-request-id", "content-disposition", "content-language")


def allowed_origins(settings: Settings) -> list[str]:
    if settings.gateway_cors_origins is not None:
        return list(settings.gateway_cors_origins)
    return [DEV_CONSOLE_ORIGIN] if settings.is_dev else []


def cors_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of Starlette's ``CORSMiddleware``."""
    return {
        "allow_origins": allowed_origins(settings),
        "allow_methods": ["GET", "POST"],
        "allow_headers": list(ALLOWED_HEADERS),
        "expose_headers": list(EXPOSED_HEADERS),
        "allow_credentials": False,
        "max_age": 600,
    }
