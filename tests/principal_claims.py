"""The claims of a principal token made by hand, for the tests of its checks
(``test_principal``, ``test_common_eddsa``), and the base64url its parts are written in."""

from __future__ import annotations

import base64
import time
from typing import Any

ISSUER = "dief-gateway"
AUDIENCE = "dief-services"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def principal_claims(**overrides: Any) -> dict[str, Any]:
    """Alice's claims as a delegate, valid for five minutes from now, with ``overrides``; a
    claim given as ``...`` is left out."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "roles": ["delegate"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}
