"""Every GraphQL document the console sends, by name (for the test that checks them all
against the supergraph's API schema and the gateway's default limits)."""

from __future__ import annotations

from console.pages import cases, directory, home, meetings, secretariat
from console.web import CALLER_QUERY


def documents() -> dict[str, str]:
    found = {
        "caller": CALLER_QUERY,
        "home": home.HOME.replace("NOTIFICATIONS", ""),
        "home with notifications": home.HOME.replace("NOTIFICATIONS", home.NOTIFICATIONS),
        "meetings": meetings.LIST,
        "meeting": meetings.MEETING,
        "cases": cases.LIST,
        "case": cases.CASE,
        "audit": cases.AUDIT,
        "participants": cases.PARTICIPANTS,
        "states": directory.STATES,
        "state": directory.STATE,
        "register": secretariat.REGISTER,
        "deliveries": secretariat.DELIVERIES,
        "meeting:upload": meetings.ATTACH,
        "chairs": secretariat.CHAIRS,
        "case lists": cases.LISTS,
        "case lists update": cases.UPDATE_LISTS,
        "chair appoint": secretariat.CHAIR_APPOINT,
        "status import": secretariat.IMPORT,
        "case:attach": cases.ATTACH,
    }
    for name, (document, _, _) in meetings.ACTIONS.items():
        found[f"meeting:{name}"] = document
    for name, (document, _, _) in cases.CASE_ACTIONS.items():
        found[f"case:{name}"] = document
    for name, (document, _, _) in directory.ACTIONS.items():
        found[f"directory:{name}"] = document
    return found
