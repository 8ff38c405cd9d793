"""What a caller holds for ``@requiresScopes`` and ``@policy``: pure rules, no I/O.

Scopes a principal holds (the caller's token scopes are not used; only these):

- each of its roles by name: ``secretariat``, ``chair``, ``delegate``,
  ``enforcement_officer``, ``expert``, ``system``;
- ``participant`` when the caller represents a State (delegate or enforcement officer)
  that the contacts registry holds as a participant (State Party or signatory) now;
- ``state:<CODE>`` for the caller's State (ISO 3166-1 alpha-3), e.g. ``state:FRA``.

Policies, by name (a policy not listed here is never granted):

- every role name and ``participant``: as the scopes above;
- ``state_representative``: a delegate or enforcement officer acting for a State;
- ``directory_reader``: rule 20, the contact directory is open to participants'
  representatives, the Chair and the Secretariat;
- ``directory_manager``: rule 20, the Secretariat, or a participant's representative (the
  subgraph then checks that they change their own State's entries only).

``@requiresScopes`` and ``@policy`` take a list of alternatives, each a list of names that
must all be held: ``[["a", "b"], ["c"]]`` means (a and b) or c.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.common.principal import Principal, Role
from services.contacts.domain import may_read_directory

PARTICIPANT = "participant"


def represents_participant(principal: Principal) -> bool:
    """Rules 1 and 6: a representative of a State the registry holds as a participant."""
    return principal.represents_state and principal.participant


def scopes_of(principal: Principal) -> frozenset[str]:
    scopes = {role.value for role in principal.roles}
    if represents_participant(principal):
        scopes.add(PARTICIPANT)
    if principal.state is not None:
        scopes.add(f"state:{principal.state}")
    return frozenset(scopes)


Policy = Callable[[Principal], bool]


def _has(role: Role) -> Policy:
    return lambda principal: principal.has_role(role)


POLICIES: dict[str, Policy] = {
    **{role.value: _has(role) for role in Role},
    PARTICIPANT: represents_participant,
    "state_representative": lambda principal: principal.represents_state,
    "directory_reader": lambda principal: may_read_directory(principal, principal.participant),
    "directory_manager": lambda principal: (
        principal.is_secretariat or represents_participant(principal)
    ),
}


def holds_scopes(principal: Principal, alternatives: Sequence[Sequence[str]]) -> bool:
    held = scopes_of(principal)
    return any(all(scope in held for scope in needed) for needed in alternatives)


def meets_policies(principal: Principal, alternatives: Sequence[Sequence[str]]) -> bool:
    def granted(name: str) -> bool:
        policy = POLICIES.get(name)
        return policy is not None and policy(principal)

    return any(all(granted(name) for name in needed) for needed in alternatives)
