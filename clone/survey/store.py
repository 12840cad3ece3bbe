"""Survey storage in the app's database (see :mod:`clone.db`): a SQLite file under ``CLONE_HOME`` by
default, or the server ``DATABASE_URL`` names (PostgreSQL), shared by every replica of the app.

The schema changes only through the append-only ``MIGRATIONS`` list (SQL that SQLite and PostgreSQL
both accept); ``schema_versions`` records how many have run, and a SQLite file from before it existed
is adopted at its ``PRAGMA user_version``. Each submission is written in one transaction, so a crash
never leaves half a response behind. Times are ISO-8601 UTC to the second (:func:`clone.db.utc_now`).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import InterfaceError, OperationalError

from clone import db
from clone.db import utc_now
from clone.errors import ConfigError, SurveyError
from clone.survey.instruments import PHASES, Question, Scale, Study
from clone.survey.package import package_sha256
from clone.survey.panel import Arrival, pid_hash

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
    # 2: the participant flow. `assignments` is the randomization log: one row per slot of a shuffled
    # block, filled at assignment time (so dropouts stay visible); a withdrawn participant's slot keeps its
    # condition and time but loses the id. `participants` is one row per consenting participant.
    """
    CREATE TABLE assignments (
        block          INTEGER NOT NULL,
        position       INTEGER NOT NULL,
        condition      TEXT NOT NULL,
        participant_id TEXT UNIQUE,
        assigned_at    TEXT,
        withdrawn_at   TEXT,
        PRIMARY KEY (block, position)
    );
    CREATE TABLE participants (
        participant_id    TEXT PRIMARY KEY,
        study             TEXT NOT NULL,
        study_version     TEXT NOT NULL,
        consent_version   TEXT NOT NULL,
        consented_at      TEXT NOT NULL,
        transcript_opt_in INTEGER NOT NULL,
        condition         TEXT NOT NULL,
        persona_id        TEXT NOT NULL,
        app_version       TEXT NOT NULL,
        backend           TEXT NOT NULL,
        pre_at            TEXT,
        post_at           TEXT,
        chat_turns        INTEGER,
        chat_seconds      REAL,
        chat_abstentions  INTEGER,
        chat_refusals     INTEGER,
        demographics      TEXT NOT NULL DEFAULT '{}',
        transcript        TEXT
    );
    CREATE TABLE item_answers (
        participant_id TEXT NOT NULL REFERENCES participants(participant_id) ON DELETE CASCADE,
        phase          TEXT NOT NULL,
        instrument     TEXT NOT NULL,
        item           TEXT NOT NULL,
        value          INTEGER NOT NULL,
        PRIMARY KEY (participant_id, phase, item)
    );
    """,
    # 3: drop the single-instrument survey of the first release (`responses`, `answers`): the app has
    # written only the study tables since migration 2. Child table first, for the foreign key.
    """
    DROP TABLE IF EXISTS answers;
    DROP TABLE IF EXISTS responses;
    """,
    # 4: participants from a paid panel. Their panel id is kept only as a keyed hash (the key, a salt per
    # study, stays in `study_salts` and is never exported). `panel_seen` refuses a second participation and
    # outlives a withdrawal, so nobody takes part (and is paid) twice by deleting their answers in between.
    """
    ALTER TABLE participants ADD COLUMN panel TEXT;
    ALTER TABLE participants ADD COLUMN panel_study_id TEXT;
    ALTER TABLE participants ADD COLUMN panel_pid_hash TEXT;
    CREATE TABLE study_salts (
        study TEXT PRIMARY KEY,
        salt  TEXT NOT NULL
    );
    CREATE TABLE panel_seen (
        study          TEXT NOT NULL,
        panel_pid_hash TEXT NOT NULL,
        PRIMARY KEY (study, panel_pid_hash)
    );
    """,
    # 5: the order each participant saw, drawn at assignment: JSON {"pre": [item columns], "post": [...]}.
    """
    ALTER TABLE participants ADD COLUMN item_order TEXT;
    """,
    # 6: when a participant finished each step between the pre- and post-chat answers (the chat, each
    # post-chat page but the last), for seconds per page; the first time counts.
    """
    CREATE TABLE step_times (
        participant_id TEXT NOT NULL REFERENCES participants(participant_id) ON DELETE CASCADE,
        step           TEXT NOT NULL,
        done_at        TEXT NOT NULL,
        PRIMARY KEY (participant_id, step)
    );
    """,
    # 7: the sha256 of the study package (clone.survey.package) each participant took part under.
    """
    ALTER TABLE participants ADD COLUMN study_package_sha256 TEXT;
    """,
    # 8: reactions and clicks in the chat, and simulated participants. `participant_replies` says which
    # signed reply (by its receipt's short code) went to which participant, so a rating sent with the receipt
    # alone counts for them; `reply_feedback` holds one rating per reply per participant (a new one replaces
    # it); `source_clicks` one row per click on a source link. A simulated participant (python -m clone study
    # simulate) has `simulated` 1 and takes no slot in the randomization log.
    """
    ALTER TABLE participants ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE participant_replies (
        reply          TEXT PRIMARY KEY,
        participant_id TEXT NOT NULL REFERENCES participants(participant_id) ON DELETE CASCADE,
        at             TEXT NOT NULL
    );
    CREATE TABLE reply_feedback (
        participant_id TEXT NOT NULL REFERENCES participants(participant_id) ON DELETE CASCADE,
        reply          TEXT NOT NULL,
        rating         TEXT NOT NULL,
        reason         TEXT NOT NULL DEFAULT '',
        at             TEXT NOT NULL,
        PRIMARY KEY (participant_id, reply)
    );
    CREATE TABLE source_clicks (
        click_id       TEXT PRIMARY KEY,
        participant_id TEXT NOT NULL REFERENCES participants(participant_id) ON DELETE CASCADE,
        url            TEXT NOT NULL,
        at             TEXT NOT NULL
    );
    """,
)

RATINGS = ("up", "down")
MAX_CLICK_URL_CHARS = 2000

ALREADY_TOOK_PART = (
    "You have already taken part in this study (the panel's link says so), and each person takes part once. "
    "Thank you! If you think this is a mistake, please write to the researchers."
)


def new_study_id() -> str:
    """A participant id for the study flow: ``p`` + 64 random bits in hex.

    The letter keeps spreadsheets and pandas from reading an all-digit id (or ``12e45``) as a number.
    """
    return "p" + secrets.token_hex(8)


@dataclass(frozen=True)
class Assignment:
    """A participant's id and the condition the server assigned."""

    participant_id: str
    condition: str
    block: int
    # For each phase, the item columns in the order this participant is shown them.
    order: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatMetrics:
    """What a participant's chat looked like, counted from the replies they got."""

    turns: int = 0
    seconds: float = 0.0
    abstentions: int = 0
    refusals: int = 0


@dataclass(frozen=True)
class Feedback:
    """A participant's rating of one reply: the receipt's short code, ``up`` or ``down``, an optional reason."""

    reply: str
    rating: str
    reason: str
    at: str


@dataclass(frozen=True)
class SourceClick:
    """A participant's click on a source link in a reply."""

    url: str
    at: str


@dataclass(frozen=True)
class ParticipantRecord:
    """Everything stored about one participant, joined: consent, condition, answers, chat metrics."""

    participant_id: str
    study: str
    study_version: str
    consent_version: str
    consented_at: str
    transcript_opt_in: bool
    condition: str
    persona_id: str
    app_version: str
    backend: str
    pre_at: str | None
    post_at: str | None
    chat: ChatMetrics | None
    demographics: dict[str, str]
    transcript: list | None
    # (phase, column) -> value, column without the phase suffix, e.g. ("pre", "trust_automation_01R")
    answers: dict[tuple[str, str], int] = field(default_factory=dict)
    # The panel that sent the participant ("prolific", "other"; "" if none) and its study id there.
    panel: str = ""
    panel_study_id: str = ""
    # For each phase, the item columns in the order shown (empty for records from before orders were kept).
    order: dict[str, list[str]] = field(default_factory=dict)
    # When each step between the answers was done: "chat", "post_1", ... -> ISO-8601 UTC.
    steps: dict[str, str] = field(default_factory=dict)
    # The sha256 of the study package the participant took part under ("" before packages were kept).
    study_package_sha256: str = ""
    # A participant made by `python -m clone study simulate`, not a person.
    simulated: bool = False
    # Their ratings of single replies, in time order, and their clicks on source links.
    feedback: list[Feedback] = field(default_factory=list)
    clicks: list[SourceClick] = field(default_factory=list)


@dataclass(frozen=True)
class AssignmentRow:
    """One filled slot of the randomization log."""

    block: int
    position: int
    condition: str
    participant_id: str | None
    assigned_at: str
    withdrawn_at: str | None


class SurveyStore:
    """Reads and writes survey responses in the app's database (a SQLite file, or ``DATABASE_URL``)."""

    def __init__(self, target: Path | str | Engine):
        """Open (and migrate) the store at a SQLite path, a database URL, or an existing engine.

        ``path`` is the SQLite file when there is one (backups, tests); None for a server database.
        """
        self.engine = target if isinstance(target, Engine) else db.engine_for(target)
        database = self.engine.url.database if db.is_sqlite(self.engine) else None
        self.path: Path | None = Path(database) if database and database != ":memory:" else None
        try:
            db.migrate(self.engine, "survey", MIGRATIONS, legacy_sqlite_version=True)
        except (OperationalError, InterfaceError) as exc:
            if db.is_sqlite(self.engine):
                raise  # a SQLite error (locked, unreadable file) says what it means; it is not a setting
            # Unreachable server, wrong password, missing database: say which setting to fix, never the password.
            raise ConfigError(
                f"Cannot open the survey database {self.engine.url.render_as_string(hide_password=True)}: "
                f"{_first_line(exc.orig)} Check DATABASE_URL (or leave it empty for the SQLite file under CLONE_HOME)."
            ) from None

    @property
    def schema_version(self) -> int:
        """How many migrations have been applied."""
        return db.schema_version(self.engine, "survey")

    # --- participant flow -------------------------------------------------------------
    def assign(
        self,
        study: Study,
        *,
        consent_version: str,
        transcript_opt_in: bool,
        persona_id: str,
        app_version: str,
        backend: str,
        panel: Arrival | None = None,
        simulated: bool = False,
    ) -> Assignment:
        """Record consent, draw a random participant id and assign a condition (blocked randomization).

        A participant sent by a panel (``panel``) is recorded by the keyed hash of their panel id; one whose
        hash this study has seen before raises ``SurveyError`` and nothing is written.

        Blocks hold every condition (every cell of a factorial design) ``block_repeats`` times (twice unless
        study.yaml says otherwise), shuffled with ``secrets``; the next free slot is taken inside
        the same transaction that writes the participant, under a lock that every replica takes (SQLite's
        write lock, or a PostgreSQL advisory lock), so concurrent participants never share a slot and the
        log has a row for every assignment, finished or not.

        A ``simulated`` participant takes no slot, so simulations never unbalance the arms of real people: the
        conditions go round in turn among simulated participants (they are in no randomization log).
        """
        pid = new_study_id()
        now = utc_now()
        ids = [c.id for c in study.conditions]
        shown = study.draw_order()  # the order of blocks and items this participant will see
        package = package_sha256(study)
        with db.transaction(self.engine) as conn:
            db.lock(conn, "survey-assign")
            hashed = self._panel_hash(conn, study, panel) if panel is not None else None
            if simulated:
                done = conn.execute(text("SELECT COUNT(*) FROM participants WHERE simulated = 1")).scalar() or 0
                slot = (0, 0, ids[done % len(ids)])
            else:
                slot = self._slot(conn, ids, study.block_repeats)
            block, position, condition = slot
            if not simulated:
                conn.execute(
                    text(
                        "UPDATE assignments SET participant_id = :pid, assigned_at = :now "
                        "WHERE block = :block AND position = :position"
                    ),
                    {"pid": pid, "now": now, "block": block, "position": position},
                )
            conn.execute(
                text(
                    "INSERT INTO participants (participant_id, study, study_version, consent_version, consented_at, "
                    "transcript_opt_in, condition, persona_id, app_version, backend, panel, panel_study_id, "
                    "panel_pid_hash, item_order, study_package_sha256, simulated) VALUES (:pid, :study, "
                    ":study_version, :consent_version, :now, :opt_in, :condition, :persona, :app, :backend, :panel, "
                    ":panel_study, :panel_hash, :order, :package, :simulated)"
                ),
                {
                    "pid": pid,
                    "study": study.id,
                    "study_version": study.version,
                    "consent_version": consent_version,
                    "now": now,
                    "opt_in": int(transcript_opt_in),
                    "condition": condition,
                    "persona": persona_id,
                    "app": app_version,
                    # The backend that answers this participant: their cell's, where the design has a backend factor.
                    "backend": study.condition(condition).backend or backend,
                    "panel": panel.panel if panel else None,
                    "panel_study": (panel.study_id or None) if panel else None,
                    "panel_hash": hashed,
                    "order": json.dumps(shown),
                    "package": package,
                    "simulated": int(simulated),
                },
            )
        return Assignment(pid, condition, block, shown)

    @staticmethod
    def _slot(conn, ids: list[str], repeats: int) -> tuple[int, int, str]:
        """The next free slot of the randomization log (under the assign lock), opening a new block if needed."""
        slot = conn.execute(
            text(
                "SELECT block, position, condition FROM assignments WHERE assigned_at IS NULL "
                "ORDER BY block, position LIMIT 1"
            )
        ).first()
        if slot is None or slot[2] not in ids:
            # First participant, a finished block, or a study whose conditions changed: open a new block.
            conn.execute(text("DELETE FROM assignments WHERE assigned_at IS NULL"))
            block = (conn.execute(text("SELECT MAX(block) FROM assignments")).scalar() or 0) + 1
            order = ids * repeats
            secrets.SystemRandom().shuffle(order)
            conn.execute(
                text("INSERT INTO assignments (block, position, condition) VALUES (:block, :position, :condition)"),
                [{"block": block, "position": n, "condition": c} for n, c in enumerate(order, 1)],
            )
            slot = (block, 1, order[0])
        return tuple(slot)

    @staticmethod
    def _panel_hash(conn, study: Study, panel: Arrival) -> str:
        """The panel id's keyed hash, claimed for this study (under the assign lock); ``SurveyError`` if seen."""
        salt = conn.execute(text("SELECT salt FROM study_salts WHERE study = :study"), {"study": study.id}).scalar()
        if salt is None:
            salt = secrets.token_hex(32)
            conn.execute(
                text("INSERT INTO study_salts (study, salt) VALUES (:study, :salt)"), {"study": study.id, "salt": salt}
            )
        hashed = pid_hash(salt, panel.pid)
        seen = conn.execute(
            text("SELECT 1 FROM panel_seen WHERE study = :study AND panel_pid_hash = :hash"),
            {"study": study.id, "hash": hashed},
        ).first()
        if seen is not None:
            raise SurveyError(ALREADY_TOOK_PART)
        conn.execute(
            text("INSERT INTO panel_seen (study, panel_pid_hash) VALUES (:study, :hash)"),
            {"study": study.id, "hash": hashed},
        )
        return hashed

    def step_done(self, participant_id: str, step: str) -> None:
        """Record when a participant finished ``step`` (``chat``, ``post_1``, ...); a repeat keeps the first."""
        with db.transaction(self.engine) as conn:
            if (
                conn.execute(
                    text("SELECT 1 FROM participants WHERE participant_id = :pid"), {"pid": participant_id}
                ).first()
                is None
            ):
                return  # withdrawn meanwhile: nothing to time
            conn.execute(
                text(
                    "INSERT INTO step_times (participant_id, step, done_at) VALUES (:pid, :step, :now) "
                    "ON CONFLICT (participant_id, step) DO NOTHING"
                ),
                {"pid": participant_id, "step": step, "now": utc_now()},
            )

    # --- the chat: which replies went to whom, ratings and clicks ------------------------
    def reply_given(self, participant_id: str, reply: str) -> None:
        """Record that the signed reply with short code ``reply`` went to this participant (a repeat is a no-op)."""
        with db.transaction(self.engine) as conn:
            if not self._exists(conn, participant_id):
                return  # withdrawn meanwhile
            conn.execute(
                text(
                    "INSERT INTO participant_replies (reply, participant_id, at) VALUES (:reply, :pid, :now) "
                    "ON CONFLICT (reply) DO NOTHING"
                ),
                {"reply": reply, "pid": participant_id, "now": utc_now()},
            )

    def reply_owner(self, reply: str) -> str | None:
        """The participant the reply with short code ``reply`` went to, or None (someone not in the study)."""
        owner = self.reply_owners(reply)
        return owner[0] if owner else None

    def reply_owners(self, reply: str) -> tuple[str, bool] | None:
        """The participant the reply with short code ``reply`` went to and whether they are simulated, or None."""
        rows = db.fetch(
            self.engine,
            "SELECT r.participant_id, p.simulated FROM participant_replies r "
            "JOIN participants p ON p.participant_id = r.participant_id WHERE r.reply = :r",
            {"r": reply},
        )
        return (rows[0][0], bool(rows[0][1])) if rows else None

    def rate(self, participant_id: str, reply: str, rating: str | None, reason: str = "") -> None:
        """Store a participant's rating of one reply (``up`` or ``down``), replacing an earlier one; None removes it."""
        if rating is not None and rating not in RATINGS:
            raise SurveyError(f"A rating is one of {', '.join(RATINGS)}, not {rating!r}.")
        with db.transaction(self.engine) as conn:
            params = {"pid": participant_id, "reply": reply}
            conn.execute(text("DELETE FROM reply_feedback WHERE participant_id = :pid AND reply = :reply"), params)
            if rating is not None and self._exists(conn, participant_id):
                conn.execute(
                    text(
                        "INSERT INTO reply_feedback (participant_id, reply, rating, reason, at) "
                        "VALUES (:pid, :reply, :rating, :reason, :now)"
                    ),
                    params | {"rating": rating, "reason": reason, "now": utc_now()},
                )

    def source_clicked(self, participant_id: str, url: str) -> None:
        """Count one click of this participant on a source link (``url`` kept to ``MAX_CLICK_URL_CHARS``)."""
        with db.transaction(self.engine) as conn:
            if not self._exists(conn, participant_id):
                return
            conn.execute(
                text("INSERT INTO source_clicks (click_id, participant_id, url, at) VALUES (:id, :pid, :url, :now)"),
                {
                    "id": secrets.token_hex(10),
                    "pid": participant_id,
                    "url": url[:MAX_CLICK_URL_CHARS],
                    "now": utc_now(),
                },
            )

    @staticmethod
    def _exists(conn, participant_id: str) -> bool:
        found = conn.execute(text("SELECT 1 FROM participants WHERE participant_id = :pid"), {"pid": participant_id})
        return found.first() is not None

    def attention_failed(self, study: Study, participant_id: str) -> bool:
        """Whether any attention check this participant answered differs from the instructed answer."""
        wanted = {
            (phase, c.question.column): c.question.item.attention
            for phase in PHASES
            for c in study.columns(phase)
            if c.question.item.attention is not None
        }
        rows = db.fetch(
            self.engine,
            "SELECT phase, item, value FROM item_answers WHERE participant_id = :pid",
            {"pid": participant_id},
        )
        return any((phase, item) in wanted and value != wanted[(phase, item)] for phase, item, value in rows)

    def save_phase(
        self, study: Study, participant_id: str, phase: str, answers: Mapping[str, int | str | None]
    ) -> None:
        """Validate and store one phase's answers (keys: item columns without the phase suffix)."""
        if phase not in PHASES:
            raise SurveyError(f"Unknown phase {phase!r}.")
        columns = study.columns(phase)
        values = _validate([(c.question, c.instrument.scale) for c in columns], answers)
        by_column = {c.question.column: c.instrument.id for c in columns}
        with db.transaction(self.engine) as conn:
            # Claim the phase first: the UPDATE locks the row, so of two replicas saving the same phase at
            # once exactly one matches ``IS NULL`` (the other waits, then sees it set) — no duplicate key.
            claimed = conn.execute(
                text(f"UPDATE participants SET {phase}_at = :now WHERE participant_id = :pid AND {phase}_at IS NULL"),
                {"now": utc_now(), "pid": participant_id},
            ).rowcount
            if not claimed:
                found = conn.execute(
                    text("SELECT 1 FROM participants WHERE participant_id = :pid"), {"pid": participant_id}
                ).first()
                if found is None:
                    raise SurveyError(
                        "We could not find your consent record; please start again from the consent form."
                    )
                raise SurveyError("These answers were already saved.")
            conn.execute(
                text(
                    "INSERT INTO item_answers (participant_id, phase, instrument, item, value) "
                    "VALUES (:pid, :phase, :instrument, :item, :value)"
                ),
                [
                    {"pid": participant_id, "phase": phase, "instrument": by_column[col], "item": col, "value": v}
                    for col, v in values.items()
                ],
            )

    def finish(
        self,
        study: Study,
        participant_id: str,
        *,
        chat: ChatMetrics,
        demographics: Mapping[str, str | None] | None = None,
        transcript: list | None = None,
    ) -> None:
        """Store the chat metrics, optional demographics and (if opted in) the transcript."""
        demo = {}
        for name, value in (demographics or {}).items():
            if name not in study.demographics:
                raise SurveyError(f"Unknown question {name!r}.")
            if value in (None, ""):
                continue
            if value not in study.demographics[name]:
                raise SurveyError(f"{value!r} is not one of the choices for {name}.")
            demo[name] = value
        with db.transaction(self.engine) as conn:
            opt_in = conn.execute(
                text("SELECT transcript_opt_in FROM participants WHERE participant_id = :pid"), {"pid": participant_id}
            ).first()
            if opt_in is None:
                raise SurveyError("We could not find your consent record; please start again from the consent form.")
            kept = json.dumps(transcript, ensure_ascii=False) if opt_in[0] and transcript is not None else None
            conn.execute(
                text(
                    "UPDATE participants SET chat_turns = :turns, chat_seconds = :seconds, "
                    "chat_abstentions = :abstentions, chat_refusals = :refusals, demographics = :demographics, "
                    "transcript = :transcript WHERE participant_id = :pid"
                ),
                {
                    "turns": chat.turns,
                    "seconds": round(chat.seconds, 1),
                    "abstentions": chat.abstentions,
                    "refusals": chat.refusals,
                    "demographics": json.dumps(demo, ensure_ascii=False, sort_keys=True),
                    "transcript": kept,
                    "pid": participant_id,
                },
            )

    def delete(self, code: str) -> bool:
        """Delete a participant's answers by their code; the randomization log keeps the slot without the id."""
        code = (code or "").strip().lower()
        if not code:
            return False
        with db.transaction(self.engine) as conn:
            params = {"code": code}
            gone = conn.execute(text("DELETE FROM participants WHERE participant_id = :code"), params).rowcount
            conn.execute(
                text("UPDATE assignments SET participant_id = NULL, withdrawn_at = :now WHERE participant_id = :code"),
                {"now": utc_now(), "code": code},
            )
        return gone > 0

    def records(self, *, include_simulated: bool = False) -> list[ParticipantRecord]:
        """Every participant, joined with their answers, in order of consent (then of randomization slot).

        Simulated participants (``python -m clone study simulate``) only with ``include_simulated``.
        """
        with db.reading(self.engine) as conn:
            rows = conn.execute(
                text(
                    "SELECT p.participant_id, p.study, p.study_version, p.consent_version, p.consented_at, "
                    "p.transcript_opt_in, p.condition, p.persona_id, p.app_version, p.backend, p.pre_at, p.post_at, "
                    "p.chat_turns, p.chat_seconds, p.chat_abstentions, p.chat_refusals, p.demographics, p.transcript, "
                    "p.panel, p.panel_study_id, p.item_order, p.study_package_sha256, p.simulated "
                    "FROM participants p LEFT JOIN assignments a ON a.participant_id = p.participant_id "
                    + ("" if include_simulated else "WHERE p.simulated = 0 ")
                    +
                    # Consent times are to the second; the slot (taken in order under the assign lock) breaks ties
                    # the same way on every database.
                    "ORDER BY p.consented_at, a.block, a.position, p.participant_id"
                )
            ).all()
            steps: dict[str, dict[str, str]] = {}
            for pid, step, done_at in conn.execute(text("SELECT participant_id, step, done_at FROM step_times")):
                steps.setdefault(pid, {})[step] = done_at
            answers: dict[str, dict[tuple[str, str], int]] = {}
            for pid, phase, item, value in conn.execute(
                text("SELECT participant_id, phase, item, value FROM item_answers")
            ):
                answers.setdefault(pid, {})[(phase, item)] = value
            feedback: dict[str, list[Feedback]] = {}
            for pid, *rest in conn.execute(
                text("SELECT participant_id, reply, rating, reason, at FROM reply_feedback ORDER BY at, reply")
            ):
                feedback.setdefault(pid, []).append(Feedback(*rest))
            clicks: dict[str, list[SourceClick]] = {}
            for pid, url, at in conn.execute(
                text("SELECT participant_id, url, at FROM source_clicks ORDER BY at, click_id")
            ):
                clicks.setdefault(pid, []).append(SourceClick(url, at))
        out = []
        for r in rows:
            chat = ChatMetrics(r[12], r[13], r[14], r[15]) if r[12] is not None else None
            out.append(
                ParticipantRecord(
                    *r[:5],
                    bool(r[5]),
                    *r[6:12],
                    chat,
                    json.loads(r[16]),
                    json.loads(r[17]) if r[17] is not None else None,
                    answers.get(r[0], {}),
                    r[18] or "",
                    r[19] or "",
                    json.loads(r[20]) if r[20] else {},
                    steps.get(r[0], {}),
                    r[21] or "",
                    bool(r[22]),
                    feedback.get(r[0], []),
                    clicks.get(r[0], []),
                )
            )
        return out

    def assignments(self) -> list[AssignmentRow]:
        """The randomization log: every assigned slot, including dropouts and withdrawals."""
        rows = db.fetch(
            self.engine,
            "SELECT block, position, condition, participant_id, assigned_at, withdrawn_at FROM assignments "
            "WHERE assigned_at IS NOT NULL ORDER BY block, position",
        )
        return [AssignmentRow(*r) for r in rows]


def _first_line(error: BaseException | None) -> str:
    """The first line of a driver error, ending in a full stop (psycopg's messages run over several lines)."""
    line = (str(error).strip().splitlines() or ["unknown error"])[0].rstrip(".")
    return line + "."


def _validate(questions: list[tuple[Question, Scale]], answers: Mapping[str, int | str | None]) -> dict[str, int]:
    unknown = sorted(set(answers) - {q.column for q, _ in questions})
    if unknown:
        raise SurveyError(f"Unknown survey items: {', '.join(unknown)}.")
    out: dict[str, int] = {}
    missing = []
    for n, (q, scale) in enumerate(questions, 1):
        lo, hi = scale.min, scale.max
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
