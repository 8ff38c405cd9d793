"""The words of the gateway's authorisation refusals: the same reason the subgraph would
give for the same situation, and the right verb (a read is seen, a mutation run).

- no caller: ``Sign in to see State.`` / ``Sign in to run Mutation.documentAttach.``;
- a State's representative refused because the State is not a participant now:
  ``USA is not a participant (State Party or signatory) and may not see Query.meetings.``
  (for the contact directory, word for word the contacts service's refusal);
- anyone else: who the field is for, e.g. ``You may not run Mutation.sessionCreate: it is
  for the Secretariat.``
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.access import POLICIES, represents_participant
from services.common.principal import Principal

NOT_PARTICIPANT = "{state} is not a participant (State Party or signatory)"
DIRECTORY_OPEN_TO = (
    "The contact directory is open to participants' representatives, the Chair and the "
    "Secretariat only."
)
# Policies and scopes that a State's representative holds only while the State takes part.
NEEDS_PARTICIPATION = frozenset({"participant", "directory_reader", "directory_manager"})
WHO = {
    "participant": "participants' representatives",
    "secretariat": "the Secretariat",
    "chair": "the Chair",
    "delegate": "delegates",
    "enforcement_officer": "enforcement officers",
    "expert": "approved non-state experts",
    "system": "the suite's own services",
    "state_representative": "States' representatives",
    "directory_reader": "participants' representatives, the Chair and the Secretariat",
    "directory_manager": "the Secretariat and participants' representatives",
}


def verb_for(what: str) -> str:
    return "run" if what.startswith(("Mutation.", "Subscription.")) else "see"


def unauthenticated(what: str) -> str:
    return f"Sign in to {verb_for(what)} {what}."


def _who(names: Sequence[str]) -> str:
    parts = []
    for name in names:
        if name.startswith("state:"):
            parts.append(f"representatives of {name.removeprefix('state:')}")
        else:
            parts.append(WHO.get(name, name))
    return " who are also ".join(parts)


def _alternatives(alternatives: Sequence[Sequence[str]]) -> str:
    words = [_who(names) for names in alternatives]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _would_pass_as_participant(principal: Principal, alternatives: Sequence[Sequence[str]]) -> bool:
    """Whether the caller is refused only because their State is not a participant."""
    if not principal.represents_state or represents_participant(principal):
        return False
    return any(NEEDS_PARTICIPATION & set(names) for names in alternatives)


def forbidden(
    principal: Principal, what: str, alternatives: Sequence[Sequence[str]], *, policy: bool
) -> str:
    verb = verb_for(what)
    if _would_pass_as_participant(principal, alternatives):
        reason = NOT_PARTICIPANT.format(state=principal.state)
        if policy and any(list(names) == ["directory_reader"] for names in alternatives):
            return f"{reason} and may not read the contact directory."
        return f"{reason} and may not {verb} {what}."
    if policy and [list(names) for names in alternatives] == [["directory_reader"]]:
        return DIRECTORY_OPEN_TO
    known = all(n in POLICIES or n.startswith("state:") for a in alternatives for n in a)
    if not known:
        return f"You may not {verb} {what}."
    return f"You may not {verb} {what}: it is for {_alternatives(alternatives)}."
