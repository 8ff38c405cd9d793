"""Loading the State registry: every ISO 3166-1 country, with statuses from a CSV file."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from services.common.errors import ValidationFailed
from services.contacts.domain import AttStatus, StatusDates, check_status_dates, state_code

SAMPLE = Path(__file__).parent / "data" / "att_status_sample.csv"


COLUMNS = ("code", "status", "signature", "ratification", "entry_into_force", "withdrawal")


def _date(value: str, row: int, column: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        raise ValidationFailed(
            f"Row {row}: {column} {value.strip()[:20]!r} is not a date (YYYY-MM-DD).", field="csv"
        ) from None


def read_statuses(path: Path) -> dict[str, tuple[AttStatus, StatusDates]]:
    """``code,status,signature,ratification,entry_into_force[,withdrawal]`` rows."""
    return parse_statuses(path.read_text(encoding="utf-8"))


def parse_statuses(
    text: str, max_rows: int | None = None
) -> dict[str, tuple[AttStatus, StatusDates]]:
    """The statuses of a CSV file (``#`` lines skipped; a header row naming at least
    ``code`` and ``status``), every row checked: a bad one is refused with its row number
    before anything is done with the others."""
    # comment lines kept as blank ones, so that a row is named by its line in the file
    lines = ["" if line.startswith("#") else line for line in text.splitlines()]
    reader = csv.reader(lines)
    header = [h.strip() for h in next((r for r in reader if r), [])]
    if "code" not in header or "status" not in header:
        raise ValidationFailed(
            "The first line must name the columns: " + ",".join(COLUMNS) + ".", field="csv"
        )
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise ValidationFailed(f"Unknown column {unknown[0][:40]!r}.", field="csv")
    statuses: dict[str, tuple[AttStatus, StatusDates]] = {}
    for values in reader:
        if not values:
            continue
        number = reader.line_num
        if max_rows is not None and len(statuses) >= max_rows:
            raise ValidationFailed(f"At most {max_rows} rows at a time.", field="csv")
        if len(values) > len(header):
            raise ValidationFailed(f"Row {number}: more values than columns.", field="csv")
        row = dict(zip(header, values, strict=False))
        try:
            code = state_code(row.get("code") or "", field="csv")
            if code in statuses:
                raise ValidationFailed(f"{code} is in the file twice.", field="csv")
            try:
                status = AttStatus((row.get("status") or "").strip())
            except ValueError:
                raise ValidationFailed(
                    f"{(row.get('status') or '').strip()[:30]!r} is not an ATT status "
                    "(STATE_PARTY, SIGNATORY, NON_PARTY).",
                    field="csv",
                ) from None
            dates = StatusDates(
                signature=_date(row.get("signature") or "", number, "signature"),
                ratification=_date(row.get("ratification") or "", number, "ratification"),
                entry_into_force=_date(
                    row.get("entry_into_force") or "", number, "entry_into_force"
                ),
                withdrawal=_date(row.get("withdrawal") or "", number, "withdrawal"),
            )
            check_status_dates(status, dates)
        except ValidationFailed as exc:
            message = str(exc)
            if not message.startswith("Row "):
                message = f"Row {number}: {message}"
            raise ValidationFailed(message, field="csv") from None
        statuses[code] = (status, dates)
    return statuses
