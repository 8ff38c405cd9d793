"""Real HTTP for the gateway tests: ASGI apps served by uvicorn on free loopback ports, and
caller tokens from a test identity provider (its own key, JWKS file, issuer, audience)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

IDP_ISSUER = "https://idp.att.example"
IDP_AUDIENCE = "dief-gateway"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def served(app: Any, *, lifespan: str = "off", port: int | None = None) -> AsyncIterator[str]:
    """Serve ``app`` over real HTTP in this event loop (on ``port``, else a free one); yields
    its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan=lifespan, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


class IdentityProvider:
    """Signs callers' JWTs with an Ed25519 key published in a JWKS file."""

    def __init__(self, directory: Path) -> None:
        self.key = Ed25519PrivateKey.generate()
        jwk = OKPAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwk = {**jwk, "kid": "idp-1", "alg": "EdDSA", "use": "sig"}
        self.jwks_path = directory / "idp-jwks.json"
        self.jwks_path.write_text(json.dumps({"keys": [self.jwk]}))

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": IDP_ISSUER,
            "aud": IDP_AUDIENCE,
            "sub": "alice",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "roles": ["delegate"],
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def token(self, **overrides: Any) -> str:
        return jwt.encode(
            self.claims(**overrides), self.key, algorithm="EdDSA", headers={"kid": "idp-1"}
        )
