"""``dief seed-states --file`` on an existing registry: the ATT statuses of States
already there change, each change in the State's status history with its event; a dry
run lists the changes and writes nothing; a bad row writes nothing at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.common import mongo
from services.common.errors import ValidationFailed
from services.common.unit_of_work import OUTBOX
from services.contacts import handlers, seed, status_import
from services.contacts.documents import State
from tests.test_contacts_api import PARTIES

CSV = """code,status,signature,ratification,entry_into_force
# ISR ratified; FRA unchanged; USA signed
ISR,STATE_PARTY,2014-12-18,2026-03-01,2026-06-01
FRA,STATE_PARTY,2013-06-03,2014-04-02,
USA,SIGNATORY,2013-09-25,,
"""


def _outbox() -> list[dict[str, Any]]:
    entries = mongo.database("contacts")[OUTBOX].find().sort("created_at", 1)
    return [json.loads(e["payload"]) for e in entries]


async def test_a_file_updates_existing_states_with_history_and_events(
    contacts_app: Any, tmp_path: Path
) -> None:
    handlers.seed_states(PARTIES)
    path = tmp_path / "att.csv"
    path.write_text(CSV)
    updates = status_import.plan(seed.read_statuses(path))
    assert [u.describe() for u in updates] == [
        "ISR: SIGNATORY -> STATE_PARTY (signature 2014-12-18, ratification 2026-03-01, "
        "entry into force 2026-06-01)",
        "USA: NON_PARTY -> SIGNATORY (signature 2013-09-25)",
    ]
    assert State.objects(code="ISR").get().status.value == "SIGNATORY"  # planning writes nothing
    before = len(_outbox())
    assert status_import.apply(updates) == 2
    isr = State.objects(code="ISR").get()
    assert isr.status.value == "STATE_PARTY" and isr.status_history[-1].note.startswith("bulk")
    assert isr.status_history[-1].changed_by == "dief seed-states"
    events = _outbox()[before:]
    assert sorted(e["data"]["stateCode"] for e in events) == ["ISR", "USA"]
    assert status_import.plan(seed.read_statuses(path)) == []  # a second run changes nothing


def test_a_bad_row_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(CSV + "DEU,STATE_PARTY,2013-06-03,,\n")  # a party without ratification
    with pytest.raises(ValidationFailed):
        seed.read_statuses(path)


async def test_the_command_dry_run_lists_the_changes_and_writes_nothing(
    contacts_app: Any, settings: Any, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    handlers.seed_states(PARTIES)
    path = tmp_path / "att.csv"
    path.write_text(CSV)
    env = {
        **os.environ,
        "MONGODB_URI": settings.mongodb_uri,
        "DIEF_CONTACTS_DB": settings.contacts_db,
        "DIEF_HOME": str(tmp_path / "home"),
    }
    command = [sys.executable, "-m", "services.cli", "seed-states", "--file", str(path)]
    dry = subprocess.run([*command, "--dry-run"], env=env, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "would change ISR: SIGNATORY -> STATE_PARTY" in dry.stdout
    assert "nothing was written" in dry.stdout
    assert State.objects(code="ISR").get().status.value == "SIGNATORY"
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "2 States changed" in done.stdout
    assert State.objects(code="USA").get().status.value == "SIGNATORY"


IMPORT = """mutation($i: StateStatusImportInput!) { stateStatusImport(input: $i) {
  dryRun rows changes { code before after ratificationDate withdrawalDate } } }"""
SEC = {"state": None, "roles": ("secretariat",)}


async def test_the_secretariat_imports_statuses_through_the_api_dry_run_first(
    contacts_app: Any, gql: Any, token: Any
) -> None:
    handlers.seed_states(PARTIES)
    dry = await gql(IMPORT, {"i": {"csv": CSV}}, token(sub="sec-1", **SEC))
    assert "errors" not in dry, dry
    got = dry["data"]["stateStatusImport"]
    assert got["dryRun"] is True and got["rows"] == 3
    assert [(c["code"], c["before"], c["after"]) for c in got["changes"]] == [
        ("ISR", "SIGNATORY", "STATE_PARTY"),
        ("USA", "NON_PARTY", "SIGNATORY"),
    ]
    assert State.objects(code="ISR").get().status.value == "SIGNATORY"  # nothing written
    before = len(_outbox())
    done = await gql(
        IMPORT,
        {"i": {"csv": CSV, "dryRun": False, "note": "Depositary list of March"}},
        token(sub="sec-1", **SEC),
    )
    assert [c["code"] for c in done["data"]["stateStatusImport"]["changes"]] == ["ISR", "USA"]
    isr = State.objects(code="ISR").get()
    assert isr.status.value == "STATE_PARTY"
    assert isr.status_history[-1].changed_by == "sec-1"
    assert isr.status_history[-1].note == "Depositary list of March"
    assert sorted(e["data"]["stateCode"] for e in _outbox()[before:]) == [
        "ISR",
        "USA",
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (CSV + "DEU,STATE_PARTY,2013-06-03,,\n", "Row 6: A State Party needs"),
        (CSV + "XXZ,NON_PARTY,,,\n", "Row 6: 'XXZ' is not an ISO 3166-1"),
        (CSV + "DEU,PARTY,,,\n", "Row 6: 'PARTY' is not an ATT status"),
        (CSV + "DEU,SIGNATORY,03/06/2013,,\n", "Row 6: signature '03/06/2013' is not a date"),
        (CSV + "ISR,NON_PARTY,,,\n", "Row 6: ISR is in the file twice"),
        (CSV + "DEU,NON_PARTY,,,,,extra\n", "Row 6: more values than columns"),
        ("code,status,when\nFRA,NON_PARTY,y\n", "Unknown column 'when'"),
        ("FRA,STATE_PARTY\n", "The first line must name the columns"),
        ("code,status\n", "The file has no row"),
        (
            "code,status\n"
            + "FRA,NON_PARTY\n" * 1
            + "".join(f"{c},NON_PARTY\n" for c in ("DEU", "GBR")),
            "",
        ),
    ],
)
async def test_a_bad_file_is_refused_with_its_row_and_nothing_is_written(
    contacts_app: Any, gql: Any, token: Any, text: str, reason: str
) -> None:
    handlers.seed_states(PARTIES)
    result = await gql(IMPORT, {"i": {"csv": text, "dryRun": False}}, token(sub="sec-1", **SEC))
    if not reason:  # a good file, for contrast: written
        assert "errors" not in result, result
        assert State.objects(code="FRA").get().status.value == "NON_PARTY"
        return
    assert result["errors"][0]["extensions"]["code"] == "VALIDATION", result
    assert result["errors"][0]["message"].startswith(reason), result["errors"][0]["message"]
    assert State.objects(code="ISR").get().status.value == "SIGNATORY"
    assert State.objects(code="USA").get().status.value == "NON_PARTY"


async def test_only_the_secretariat_imports_statuses(
    contacts_app: Any, gql: Any, token: Any
) -> None:
    handlers.seed_states(PARTIES)
    result = await gql(IMPORT, {"i": {"csv": CSV, "dryRun": False}}, token(state="FRA"))
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert State.objects(code="USA").get().status.value == "NON_PARTY"
