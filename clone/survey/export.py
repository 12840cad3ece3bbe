"""Survey responses -> CSV (UTF-8, RFC 4180, CRLF line ends), safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

from clone.survey.instruments import Instrument
from clone.survey.store import StoredResponse, utc_now

META_COLUMNS = ["participant_id", "submitted_at", "persona_id", "app_version", "instrument_version"]
TEXT_COLUMNS = ["free_text"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise(cell: object) -> object:
    """Defuse spreadsheet formula injection (OWASP): prefix a quote to text starting with = + - @ or a control.

    Numbers are left as numbers; the stored data stays raw.
    """
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def columns(instrument: Instrument) -> list[str]:
    """Header of the wide CSV: metadata, one column per item, then free text."""
    return META_COLUMNS + instrument.columns + TEXT_COLUMNS


def responses_csv(instrument: Instrument, responses: list[StoredResponse]) -> str:
    """One row per participant, one header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns(instrument))
    for r in responses:
        row = [r.participant_id, r.submitted_at, r.persona_id, r.app_version, r.instrument_version]
        row += [r.answers.get(c, "") for c in instrument.columns]
        row += [r.free_text]
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


def write_export(instrument: Instrument, responses: list[StoredResponse], folder: Path) -> Path:
    """Write the CSV atomically into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"survey-responses-{utc_now().replace(':', '').replace('-', '')}.csv"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=".csv")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(responses_csv(instrument, responses))
    os.replace(tmp, target)
    # Keep only the newest export: older copies of the data should not pile up on disk.
    for old in folder.glob("survey-responses-*.csv"):
        if old != target:
            old.unlink(missing_ok=True)
    return target
