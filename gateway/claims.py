"""Where a real identity provider puts a caller's roles and State in its tokens.

DIEF Exchange reads ``roles`` (a list of DIEF role names) and ``state`` (an ISO 3166-1
alpha-3 code). Identity providers name them their own way: Keycloak lists realm roles under
``realm_access.roles`` (next to roles of its own such as ``offline_access``) and a State
comes from a custom mapper; Azure AD (Entra ID) puts app roles in ``roles``, often named
like ``Dief.Delegate``. The gateway is told where to look (a dotted path for each) and, with
a role prefix, which of the provider's roles are DIEF's: only those count, the prefix
removed and compared without regard to case; every other role is left aside. Without a
prefix every role listed must be a DIEF role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.errors import Unauthenticated


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``realm_access.roles``); a claim whose own name holds
    the dot (Azure AD's ``extn.state``, a URL-named claim) is found too."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True)
class ClaimMapping:
    roles_claim: str = "roles"
    state_claim: str = "state"
    role_prefix: str = ""

    @property
    def is_default(self) -> bool:
        return (self.roles_claim, self.state_claim, self.role_prefix) == ("roles", "state", "")

    def apply(self, claims: dict[str, Any]) -> dict[str, Any]:
        """The token's claims with ``roles`` and ``state`` where DIEF reads them."""
        if self.is_default:
            return claims
        out = {k: v for k, v in claims.items() if k not in ("roles", "state")}
        roles = claim_at(claims, self.roles_claim)
        if roles is not None:
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise Unauthenticated(f"The token's {self.roles_claim} must be a list of names.")
            if self.role_prefix:
                prefix = self.role_prefix.lower()
                roles = [r[len(prefix) :].lower() for r in roles if r.lower().startswith(prefix)]
            out["roles"] = roles
        state = claim_at(claims, self.state_claim)
        if isinstance(state, list):  # a multivalued user attribute: exactly one State
            if len(state) != 1:
                raise Unauthenticated(f"The token's {self.state_claim} must name one State.")
            state = state[0]
        if state is not None:
            out["state"] = state
        return out
