"""The database behind everything fans and participants leave: survey answers, inbox questions, chat events.

By default a SQLite file under ``CLONE_HOME`` (WAL mode, one writer at a time with ``BEGIN IMMEDIATE``).
``DATABASE_URL`` takes any SQLAlchemy URL instead, e.g. ``postgresql+psycopg://user:pass@host/db``, so
several app replicas can share one PostgreSQL server.

Each part of the app (``survey``, ``inbox``, ``events``) owns an append-only list of SQL migrations;
the ``schema_versions`` table records how many of each have run. The statements stay in the SQL that
SQLite and PostgreSQL both accept (TEXT, INTEGER, REAL, foreign keys), so one list serves both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from clone.errors import ConfigError

_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def database_url(target: str | Path) -> str:
    """A SQLAlchemy URL for ``target``: a URL is checked and kept, a path becomes a SQLite file URL."""
    if isinstance(target, Path) or "://" not in str(target):
        return f"sqlite:///{Path(target).expanduser().resolve()}"
    url = str(target).strip()
    if url.startswith("postgres://"):  # the scheme Heroku-style providers hand out
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):  # SQLAlchemy's default driver is psycopg2; this project ships psycopg 3
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        make_url(url)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise ConfigError(
            "DATABASE_URL is not a database URL: use e.g. postgresql://user:password@host:5432/dbname, "
            "or leave it empty for the SQLite file under CLONE_HOME."
        ) from None
    return url


def engine_for(target: str | Path) -> Engine:
    """The process-wide engine (and connection pool) for a URL or SQLite path, created on first use."""
    url = database_url(target)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = _ENGINES[url] = _create(url)
        return engine


def dispose_all() -> None:
    """Close every pooled connection (tests, and before a process forks)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def _create(url: str) -> Engine:
    parsed = make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_timeout=30)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"No database driver for {parsed.drivername!r} ({exc}). PostgreSQL needs psycopg: "
            "pip install -r requirements.txt."
        ) from None


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # The driver's own transaction handling is switched off so every transaction can start with
    # BEGIN IMMEDIATE: writers queue on the file lock up front instead of failing to upgrade a read lock.
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=8, max_overflow=8)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # Readers (see `reading`) take no lock: WAL lets them run beside the one writer.
        connection.exec_driver_sql(
            "BEGIN" if connection.get_execution_options().get("read_only") else "BEGIN IMMEDIATE"
        )

    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with engine.begin() as conn:
        yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: a consistent snapshot that never waits for the write lock."""
    options: dict = {"read_only": True}
    if engine.dialect.name == "postgresql":
        # PostgreSQL's default READ COMMITTED gives each statement a newer view; one snapshot needs REPEATABLE READ.
        options |= {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect().execution_options(**options) as conn:
        try:
            yield conn
        finally:
            conn.rollback()


def fetch(engine: Engine, sql: str, params: dict | None = None) -> list:
    """The rows of one read-only query (``sql`` with ``:named`` parameters)."""
    with reading(engine) as conn:
        return conn.execute(text(sql), params or {}).all()


def is_sqlite(engine: Engine) -> bool:
    """True for the embedded SQLite default."""
    return engine.dialect.name == "sqlite"


def lock(conn: Connection, name: str) -> None:
    """Serialize a critical section across processes for the rest of this transaction.

    SQLite's ``BEGIN IMMEDIATE`` already holds the write lock; PostgreSQL takes a transaction-level
    advisory lock, so two replicas never interleave (e.g. two participants taking one randomization slot).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def migrate(engine: Engine, part: str, migrations: Sequence[str], *, legacy_sqlite_version: bool = False) -> int:
    """Run ``part``'s migrations that have not run yet; return the schema version now in force.

    ``legacy_sqlite_version`` adopts ``PRAGMA user_version`` as the starting point for a SQLite file
    written before ``schema_versions`` existed (the survey's first releases counted there).
    """
    with transaction(engine) as conn:
        lock(conn, "schema_versions")  # before CREATE: two replicas starting at once must not race to create it
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS schema_versions (part TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        row = conn.execute(text("SELECT version FROM schema_versions WHERE part = :part"), {"part": part}).first()
        if row is None:
            version = 0
            if legacy_sqlite_version and is_sqlite(engine):
                version = conn.exec_driver_sql("PRAGMA user_version").scalar() or 0
            conn.execute(
                text("INSERT INTO schema_versions VALUES (:part, :version)"), {"part": part, "version": version}
            )
        else:
            version = row[0]
        for n, sql in enumerate(migrations[version:], start=version + 1):
            for statement in filter(str.strip, sql.split(";")):
                conn.exec_driver_sql(statement)
            version = n
        conn.execute(text("UPDATE schema_versions SET version = :v WHERE part = :part"), {"v": version, "part": part})
        return version


def schema_version(engine: Engine, part: str) -> int:
    """How many of ``part``'s migrations have been applied (0 before the first)."""
    rows = fetch(engine, "SELECT version FROM schema_versions WHERE part = :part", {"part": part})
    return rows[0][0] if rows else 0


def utc_now(timespec: Literal["seconds", "microseconds"] = "seconds") -> str:
    """The current time as stored in the database: ISO-8601 UTC ending in ``Z``.

    To the second by default (survey times: a participant's record needs no finer clock, and the export
    shows it). The inbox asks for microseconds, so questions asked in the same second keep their order.
    """
    return datetime.now(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
