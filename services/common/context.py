"""What every resolver gets: the request, the runtime, and the caller (if any)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from services.common.errors import Unauthenticated
from services.common.principal import Principal, PrincipalVerifier

if TYPE_CHECKING:
    from services.common.runtime import ServiceRuntime


@dataclass
class RequestContext:
    request: Request
    runtime: ServiceRuntime
    _principal: Principal | None
    _refusal: Unauthenticated | None
    # per-request batch loaders (``services.common.batching``), by name
    loaders: dict[str, Any] = field(default_factory=dict)

    @property
    def principal(self) -> Principal | None:
        """The verified caller, None without a token; a bad token is refused here."""
        if self._refusal is not None:
            raise self._refusal
        return self._principal


MAX_TOKEN_BYTES = 16 * 1024


def bearer_token(request: Request) -> str | None:
    """The bearer token, refused before any parsing when larger than 16 KB."""
    header = request.headers.get("authorization")
    if not header:
        return None
    if len(header) > MAX_TOKEN_BYTES:
        raise Unauthenticated(f"The bearer token is larger than {MAX_TOKEN_BYTES} bytes.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send the token as 'Authorization: Bearer <token>'.")
    return token.strip()


# Where a request's scope keeps the token already verified on the way in (in prod, by the
# gateway-only check), so that the context does not verify it a second time.
VERIFIED_TOKEN = "dief.verified_token"


def remember_verified(scope: dict[str, Any], token: str, claims: dict[str, object]) -> None:
    scope.setdefault("state", {})[VERIFIED_TOKEN] = (token, claims)


def authenticate(request: Request, verifier: PrincipalVerifier) -> Principal | None:
    token = bearer_token(request)
    if not token:
        return None
    verified = request.scope.get("state", {}).get(VERIFIED_TOKEN)
    if verified is not None and verified[0] == token:
        return verifier.principal_of(verified[1])
    return verifier.verify_optional(token)


def build_context(request: Request, runtime: ServiceRuntime) -> RequestContext:
    try:
        principal = authenticate(request, runtime.verifier)
    except Unauthenticated as refusal:
        return RequestContext(request, runtime, None, refusal)
    return RequestContext(request, runtime, principal, None)
