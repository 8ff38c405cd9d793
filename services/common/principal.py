"""Who is calling: the principal token the gateway signs, and the checks made on it.

Subgraphs accept nothing else. The token carries subject, State, roles, scopes and the
participant flag the gateway resolved from the contacts registry; expiry is short.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.common import eddsa
from services.common.errors import Forbidden, Unauthenticated
from services.common.keys import SigningKey, load_jwks


class Role(StrEnum):
    SECRETARIAT = "secretariat"
    CHAIR = "chair"
    DELEGATE = "delegate"
    ENFORCEMENT_OFFICER = "enforcement_officer"
    EXPERT = "expert"
    SYSTEM = "system"


STATE_REPRESENTATIVES = frozenset({Role.DELEGATE, Role.ENFORCEMENT_OFFICER})


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    state: str | None = None
    participant: bool = False
    scopes: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_secretariat(self) -> bool:
        return Role.SECRETARIAT in self.roles

    @property
    def represents_state(self) -> bool:
        """A delegate or enforcement officer acting for the State in the token."""
        return self.state is not None and self.has_role(*STATE_REPRESENTATIVES)

    def to_claims(self) -> dict[str, object]:
        return {
            "sub": self.subject,
            "state": self.state,
            "roles": sorted(self.roles),
            "participant": self.participant,
            "scope": " ".join(sorted(self.scopes)),
        }


# The gateway signs a token for an anonymous caller too (so that a production subgraph
# answers nothing that did not come through the gateway); this claim marks it.
ANONYMOUS_CLAIM = "anon"

REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud")


class PrincipalVerifier:
    """Checks signature, issuer, audience and expiry; any other shape is refused."""

    def __init__(
        self,
        jwks_path: Path,
        *,
        issuer: str,
        audience: str,
        algorithms: Iterable[str],
        leeway_seconds: int = 30,
    ) -> None:
        self._jwks_path = jwks_path
        self._keys: dict[str, jwt.PyJWK] | None = None
        self.issuer = issuer
        self.audience = audience
        self.algorithms = [a for a in algorithms if not a.upper().startswith("HS")]
        self.leeway = leeway_seconds
        self._headers: dict[str, dict[str, object]] = {}  # by the token's header segment

    def _key_for(self, kid: str | None) -> jwt.PyJWK:
        if self._keys is None or kid not in self._keys:
            self._keys = load_jwks(self._jwks_path)  # picks up a rotated key
        if kid is None or kid not in self._keys:
            raise Unauthenticated("The token was signed by a key this service does not know.")
        return self._keys[kid]

    def _header_of(self, token: str) -> dict[str, object]:
        """The token's JOSE header, decoded once per distinct header segment (the gateway
        sends the same one with every token it signs under a key)."""
        segment = token.partition(".")[0]
        header = self._headers.get(segment)
        if header is None:
            try:
                header = jwt.get_unverified_header(token)
            except jwt.PyJWTError as exc:
                raise Unauthenticated("The bearer token is not a JWT.") from exc
            if len(self._headers) >= 64:
                self._headers.clear()
            self._headers[segment] = header
        return header

    def claims_of(self, token: str) -> dict[str, object]:
        """The claims of a token the gateway signed; ``Unauthenticated`` otherwise."""
        header = self._header_of(token)
        if header.get("alg") not in self.algorithms:
            raise Unauthenticated(f"Token algorithm {header.get('alg')!r} is not accepted.")
        key = self._key_for(header.get("kid"))
        if eddsa.plain_header(header) and isinstance(key.key, Ed25519PublicKey):
            return eddsa.verified_claims(
                token,
                key.key,
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                required=REQUIRED_CLAIMS,
            )
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=self.algorithms,
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The token has expired.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"The token was refused: {exc}.") from exc
        return claims

    def verify(self, token: str) -> Principal:
        return principal_from_claims(self.claims_of(token))

    def verify_optional(self, token: str) -> Principal | None:
        """The principal, or None for the gateway's token of an anonymous caller."""
        return self.principal_of(self.claims_of(token))

    @staticmethod
    def principal_of(claims: dict[str, object]) -> Principal | None:
        """The principal of claims ``claims_of`` returned (None: an anonymous caller)."""
        if claims.get(ANONYMOUS_CLAIM) is True:
            return None
        return principal_from_claims(claims)


def principal_from_claims(claims: dict[str, object]) -> Principal:
    roles_claim = claims.get("roles")
    if not isinstance(roles_claim, list) or not roles_claim:
        raise Unauthenticated("The token names no roles.")
    try:
        roles = frozenset(Role(r) for r in roles_claim)
    except ValueError as exc:
        raise Unauthenticated(f"The token names an unknown role: {exc}.") from exc
    state = claims.get("state")
    if state is not None and (
        not isinstance(state, str) or not re.fullmatch(r"[A-Za-z]{3}", state)
    ):
        raise Unauthenticated("The token's state must be an ISO 3166-1 alpha-3 code.")
    participant = claims.get("participant", False)
    if not isinstance(participant, bool):
        raise Unauthenticated("The token's participant flag must be true or false.")
    scope = claims.get("scope") or ""
    if not isinstance(scope, str):
        raise Unauthenticated("The token's scope must be a space-separated string.")
    return Principal(
        subject=str(claims["sub"]),
        roles=roles,
        state=state.upper() if isinstance(state, str) else None,
        participant=participant,
        scopes=frozenset(scope.split()),
    )


def sign_principal(
    principal: Principal,
    key: SigningKey,
    *,
    issuer: str,
    audience: str,
    ttl_seconds: int = 300,
) -> str:
    now = int(time.time())
    claims = {
        **principal.to_claims(),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})


# --- checks used by handlers -------------------------------------------------------------


def require_authenticated(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("Sign in first: send 'Authorization: Bearer <token>'.")
    return principal


def require_role(principal: Principal | None, *roles: Role) -> Principal:
    p = require_authenticated(principal)
    if not p.has_role(*roles):
        names = ", ".join(sorted(roles))
        raise Forbidden(f"This needs one of the roles: {names}.")
    return p


def require_participant(principal: Principal | None) -> Principal:
    """Rules 1 and 6: only States Parties and signatory States take part."""
    p = require_authenticated(principal)
    if not p.participant:
        raise Forbidden("Only participants (States Parties and signatory States) may do this.")
    return p


def acts_for_state(principal: Principal | None, state_code: str) -> Principal:
    """A delegate or enforcement officer acts for their own State only."""
    p = require_authenticated(principal)
    if not (p.represents_state and p.state == state_code.upper()):
        raise Forbidden(f"Only representatives of {state_code.upper()} may do this for it.")
    return p
