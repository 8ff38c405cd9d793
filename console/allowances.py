"""What the Terms of Reference allow a caller, in words, for the banner of every page.

Pure: from the caller's roles and whether the registry counts their State as a
participant now. The gateway and the services decide; this only tells the user.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from console.i18n import gettext as _

Allowance = tuple[str, int | None]  # (what, rule)
ROLES = ("delegate", "enforcement_officer", "secretariat", "chair", "expert")


def role_label(role: str) -> str:
    labels: dict[str, Callable[[], str]] = {
        "delegate": lambda: _("delegate"),
        "enforcement_officer": lambda: _("enforcement officer"),
        "secretariat": lambda: _("Secretariat"),
        "chair": lambda: _("Chair"),
        "expert": lambda: _("expert"),
    }
    return labels[role]() if role in labels else role


def allowances(
    roles: tuple[str, ...], state: str | None, participant: bool | None
) -> list[Allowance]:
    found: list[Allowance] = []
    if "secretariat" in roles:
        found += [
            (_("Keep the register of ATT statuses and every State's contacts"), 20),
            (_("Schedule meetings, issue invitations and distribute the agenda"), 9),
            (_("Read a case's content only where its provider included the Secretariat"), 15),
        ]
    if "chair" in roles:
        found += [
            (_("Add agenda items, adopt the agenda and decide on expert proposals"), 8),
            (_("Read the directory and the meetings' documents"), 14),
        ]
    representative = {"delegate", "enforcement_officer"} & set(roles)
    if representative and state:
        if participant:
            found += [
                (_("Read the directory and keep your State's authorities and contacts"), 20),
                (_("See meetings, their agenda and documents; present and respond"), 12),
                (_("Share cases, and read those shared with your State"), 15),
                (_("Ask before using shared information operationally"), 16),
            ]
        elif participant is False:
            found.append(
                (
                    _(
                        "Your State is not a participant now: "
                        "the Forum's information is closed to you"
                    ),
                    6,
                )
            )
    if "expert" in roles:
        found.append((_("See only the presentation you were approved for"), 8))
    return found


POLICY = re.compile(r"\(([\w ]+)\)\.?$")
REPRESENTATIVES = {"delegate", "enforcement_officer"}


def policy_reason(message: str, roles: tuple[str, ...]) -> str | None:
    """Why the gateway refused a field by its policy (named at the end of its message), in
    the rules' words; None when the message names no policy we know."""
    found = POLICY.search(message)
    if not found:
        return None
    policies = found.group(1).split(" or ")
    representative = bool(REPRESENTATIVES & set(roles))
    for_participants = {"directory_reader", "participant", "state_representative"}
    if representative and for_participants & set(policies):
        return _("Your State is not a participant now (rules 1, 6).")
    policy = policies[0]
    reasons: dict[str, Callable[[], str]] = {
        "directory_reader": lambda: _(
            "The directory is for participants' representatives, the Chair and the "
            "Secretariat (rule 20)."
        ),
        "directory_manager": lambda: _(
            "A State's own representatives and the Secretariat keep its entries (rule 20)."
        ),
        "participant": lambda: _("Only representatives of participant States (rule 6)."),
        "secretariat": lambda: _("Only the Secretariat."),
    }
    return reasons[policy]() if policy in reasons else None
