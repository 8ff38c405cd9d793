"""The README's worked example of the meetings service runs as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import GraphQLClient
from tests.meetings_support import Actors, Clock, at, ok

pytest_plugins = ["tests.meetings_support"]

README = Path(__file__).resolve().parent.parent / "README.md"
CALL = re.compile(r'gql "\$(?P<who>[A-Z]+)" <<\'JSON\'\n(?P<body>.*?)\nJSON', re.S)


def meetings_section() -> str:
    text = README.read_text()
    return text[text.index("## Meetings") : text.index("## The case exchange")]


async def test_readme_worked_example_schedules_invites_presents_and_shows_the_timeline(
    mq: GraphQLClient, who: Actors, clock: Clock
) -> None:
    from datetime import date

    clock.now = at(date(2027, 3, 1))
    section = meetings_section()
    tokens = {"SEC": who.sec, "FRA": who.fra}
    ids: dict[str, str] = {}
    result: dict = {}
    for call in CALL.finditer(section):
        body = call.group("body")
        for name, value in ids.items():
            body = body.replace(f"<{name} id>", value)
        request = json.loads(body)
        result = ok(await mq(request["query"], request["variables"], tokens[call.group("who")]))
        payload = next(iter(result.values()))
        for name in ("session", "meeting", "presentation"):
            if isinstance(payload, dict) and isinstance(payload.get(name), dict):
                ids.setdefault(name, payload[name].get("id") or ids.get(name, ""))
    shown = section[section.index("```json") + len("```json") : section.index("```\n\nGermany")]
    assert result["meeting"]["timeline"] == json.loads(shown)
    assert result["meeting"]["startDate"] == "2027-06-01"
