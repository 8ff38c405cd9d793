"""Loading the State registry: every ISO 3166-1 country, with statuses from a CSV file."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from services.contacts.domain import AttStatus, StatusDates, check_status_dates, state_code

SAMPLE = Path(__file__).parent / "data" / "att_status_sample.csv"


def _date(value: str) -> date | None:
    return date.fromisoformat(value) if value.strip() else None


def read_statuses(path: Path) -> dict[str, tuple[AttStatus, StatusDates]]:
    """``code,status,signature,ratification,entry_into_force`` rows (``#`` lines skipped)."""
    with path.open(newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        statuses: dict[str, tuple[AttStatus, StatusDates]] = {}
        for row in rows:
            code = state_code(row["code"], field="code")
            status = AttStatus(row["status"].strip())
            dates = StatusDates(
                signature=_date(row.get("signature") or ""),
                ratification=_date(row.get("ratification") or ""),
                entry_into_force=_date(row.get("entry_into_force") or ""),
            )
            check_status_dates(status, dates)
            statuses[code] = (status, dates)
    return statuses
