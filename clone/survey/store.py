"""Survey storage: one SQLite file under ``CLONE_HOME``, in WAL mode.

The schema changes only through the append-only ``MIGRATIONS`` list; ``PRAGMA user_version``
records how many have run. Each submission is written in one transaction, so a crash never
leaves half a response behind.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clone.errors import SurveyError
from clone.survey.instruments import Instrument

MAX_FREE_TEXT = 2000

# Append only: never edit a migration that has shipped; add a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE responses (
        participant_id     TEXT PRIMARY KEY,
        submitted_at       TEXT NOT NULL,
        persona_id         TEXT NOT NULL,
        instrument         TEXT NOT NULL,
        instrument_version TEXT NOT NULL,
        app_version        TEXT NOT NULL,
        free_text          TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE answers (
        participant_id TEXT NOT NULL REFERENCES responses(participant_id) ON DELETE CASCADE,
        item           TEXT NOT NULL,
        value          INTEGER NOT NULL,
        PRIMARY KEY (participant_id, item)
    );
    """,
)


def utc_now() -> str:
    """The current time as ISO-8601 UTC with a ``Z``, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_participant_id() -> str:
    """A random id (64 bits from ``secrets``), never derived from anything about the person."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class StoredResponse:
    """One participant's submission as read back from the database."""

    participant_id: str
    submitted_at: str
    persona_id: str
    instrument_version: str
    app_version: str
    free_text: str
    answers: dict[str, int]


class SurveyStore:
    """Reads and writes survey responses in a SQLite file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            self._migrate(db)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for n, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, sql.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={n}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        """How many migrations have been applied."""
        with self._connect() as db:
            return db.execute("PRAGMA user_version").fetchone()[0]

    def submit(
        self,
        instrument: Instrument,
        answers: Mapping[str, int | str | None],
        *,
        free_text: str = "",
        persona_id: str,
        app_version: str,
    ) -> str:
        """Validate and store one submission; return the new participant id."""
        values = validate_answers(instrument, answers)
        free_text = (free_text or "").strip()
        if len(free_text) > MAX_FREE_TEXT:
            raise SurveyError(f"The comment is {len(free_text)} characters; please keep it under {MAX_FREE_TEXT}.")
        pid = new_participant_id()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (pid, utc_now(), persona_id, instrument.id, instrument.version, app_version, free_text),
                )
                db.executemany(
                    "INSERT INTO answers VALUES (?, ?, ?)", [(pid, column, v) for column, v in values.items()]
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return pid

    def responses(self) -> list[StoredResponse]:
        """Every stored response, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT participant_id, submitted_at, persona_id, instrument_version, app_version, free_text "
                "FROM responses ORDER BY submitted_at, rowid"
            ).fetchall()
            answers: dict[str, dict[str, int]] = {}
            for pid, item, value in db.execute("SELECT participant_id, item, value FROM answers"):
                answers.setdefault(pid, {})[item] = value
        return [StoredResponse(*row, answers=answers.get(row[0], {})) for row in rows]


def validate_answers(instrument: Instrument, answers: Mapping[str, int | str | None]) -> dict[str, int]:
    """Every item answered with a whole number on the instrument's scale, or a ``SurveyError``."""
    unknown = sorted(set(answers) - set(instrument.columns))
    if unknown:
        raise SurveyError(f"Unknown survey items: {', '.join(unknown)}.")
    out: dict[str, int] = {}
    missing = []
    lo, hi = instrument.scale.min, instrument.scale.max
    for n, q in enumerate(instrument.questions, 1):
        raw = answers.get(q.column)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            missing.append(str(n))
            continue
        try:
            value = int(str(raw).strip().split(" ")[0])
        except ValueError:
            raise SurveyError(f"Question {n} needs a number from {lo} to {hi}, not {raw!r}.") from None
        if not lo <= value <= hi:
            raise SurveyError(f"Question {n} needs a number from {lo} to {hi}, not {value}.")
        out[q.column] = value
    if missing:
        raise SurveyError(f"Please answer every question; missing: {', '.join(missing)}.")
    return out
