"""Creator analytics: what fans ask and how the clone copes, counted from one small row per reply.

A row holds when (to the second), an anonymous conversation id (random, per browser session), the
channel (``web``, ``embed`` or ``api``), whether the clone answered, abstained or refused, and the topic: the
title of the first source it cited. Never the message, the reply, an IP address or anything else
about the fan; the questions a fan chooses to leave for the creator are in the inbox instead.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import text

from clone import db

# Append only: never edit a migration that has shipped; add a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE chat_events (
        event_id     TEXT PRIMARY KEY,
        at           TEXT NOT NULL,
        day          TEXT NOT NULL,
        conversation TEXT NOT NULL,
        channel      TEXT NOT NULL,
        abstained    INTEGER NOT NULL,
        refused      INTEGER NOT NULL,
        topic        TEXT NOT NULL
    );
    CREATE INDEX chat_events_day ON chat_events (day);
    """,
    # 2: fans' ratings of single replies (not study participants', which are research data): one row per
    # reply, keyed by its receipt's short code (a new rating replaces the old), with no identifier of the fan.
    """
    CREATE TABLE feedback_events (
        reply   TEXT PRIMARY KEY,
        at      TEXT NOT NULL,
        day     TEXT NOT NULL,
        channel TEXT NOT NULL,
        rating  TEXT NOT NULL,
        reason  TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX feedback_events_day ON feedback_events (day);
    """,
)

DAY_COLUMNS = ["day", "conversations", "replies", "abstention_rate", "refusal_rate"]
TOPIC_COLUMNS = ["topic", "replies"]
RATE_COLUMNS = ["day", "rate", "kind"]
MAX_TOPIC_CHARS = 200


def new_conversation_id() -> str:
    """A random conversation id: counts conversations, tells nothing about the fan."""
    return "c" + secrets.token_hex(8)


class EventLog:
    """One row per reply, in the app's database (shared by replicas)."""

    def __init__(self, target: str | Path):
        self.engine = db.engine_for(target)
        db.migrate(self.engine, "events", MIGRATIONS)

    def record(self, reply, *, conversation: str, channel: str = "web", at: datetime | None = None) -> None:
        """Count one reply (a :class:`clone.pipeline.Reply`)."""
        when = (at or datetime.now(UTC)).astimezone(UTC)
        stamp = when.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        topic = reply.sources[0].title[:MAX_TOPIC_CHARS] if reply.sources and not reply.abstained else ""
        with db.transaction(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                # A count, not a survey answer: no need to wait for the disk (SQLite in WAL mode doesn't either).
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            conn.execute(
                text("INSERT INTO chat_events VALUES (:id, :at, :day, :conv, :channel, :abstained, :refused, :topic)"),
                {
                    "id": secrets.token_hex(10),
                    "at": stamp,
                    "day": stamp[:10],
                    "conv": conversation,
                    "channel": channel,
                    "abstained": int(bool(reply.abstained)),
                    "refused": int(bool(reply.refused)),
                    "topic": topic,
                },
            )

    def rate(self, reply: str, rating: str | None, reason: str = "", *, channel: str = "web") -> None:
        """A fan's rating (``up``/``down``) of the reply with short code ``reply``; replaces an earlier one, None
        removes it. Nothing about the fan is kept."""
        stamp = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        with db.transaction(self.engine) as conn:
            conn.execute(text("DELETE FROM feedback_events WHERE reply = :reply"), {"reply": reply})
            if rating is not None:
                conn.execute(
                    text("INSERT INTO feedback_events VALUES (:reply, :at, :day, :channel, :rating, :reason)"),
                    {"reply": reply, "at": stamp, "day": stamp[:10], "channel": channel, "rating": rating,
                     "reason": reason},
                )  # fmt: skip

    def feedback(self, *, days: int = 30, recent: int = 10, today: datetime | None = None) -> dict:
        """Ratings over the last ``days`` days: ``up`` and ``down`` counts, and the ``recent`` latest reasons
        (``[(at, rating, reason)]``, newest first)."""
        start = _window(days, today)[0].isoformat()
        counts = dict(
            db.fetch(
                self.engine,
                "SELECT rating, COUNT(*) FROM feedback_events WHERE day >= :start GROUP BY rating",
                {"start": start},
            )
        )
        reasons = db.fetch(
            self.engine,
            "SELECT at, rating, reason FROM feedback_events WHERE day >= :start AND reason != '' "
            "ORDER BY at DESC, reply LIMIT :limit",
            {"start": start, "limit": recent},
        )
        return {
            "up": int(counts.get("up", 0)),
            "down": int(counts.get("down", 0)),
            "reasons": [tuple(r) for r in reasons],
        }

    def per_day(self, days: int = 30, *, today: datetime | None = None) -> pd.DataFrame:
        """Conversations, replies, abstention and refusal rates for each of the last ``days`` days (zeros too)."""
        start, end = _window(days, today)
        rows = db.fetch(
            self.engine,
            "SELECT day, COUNT(DISTINCT conversation), COUNT(*), SUM(abstained), SUM(refused) "
            "FROM chat_events WHERE day >= :start AND day <= :end GROUP BY day",
            {"start": start.isoformat(), "end": end.isoformat()},
        )
        found = {r[0]: r[1:] for r in rows}
        out = []
        for n in range(days):
            day = (start + timedelta(days=n)).isoformat()
            conversations, replies, abstained, refused = found.get(day, (0, 0, 0, 0))
            out.append(
                [
                    day,
                    int(conversations),
                    int(replies),
                    round(int(abstained) / replies, 4) if replies else 0.0,
                    round(int(refused) / replies, 4) if replies else 0.0,
                ]
            )
        return pd.DataFrame(out, columns=DAY_COLUMNS)

    def topics(self, limit: int = 10, *, days: int = 30, today: datetime | None = None) -> pd.DataFrame:
        """The most-asked topics (the document a reply cited first), most replies first."""
        start = _window(days, today)[0].isoformat()
        rows = db.fetch(
            self.engine,
            "SELECT topic, COUNT(*) AS n FROM chat_events WHERE topic != '' AND day >= :start "
            "GROUP BY topic ORDER BY n DESC, topic LIMIT :limit",
            {"start": start, "limit": limit},
        )
        return pd.DataFrame([[r[0], int(r[1])] for r in rows], columns=TOPIC_COLUMNS)

    def totals(self, *, days: int = 30, today: datetime | None = None) -> dict[str, float]:
        """Conversations, replies, and the abstention and refusal rates over the last ``days`` days."""
        start = _window(days, today)[0].isoformat()
        [row] = db.fetch(
            self.engine,
            "SELECT COUNT(DISTINCT conversation), COUNT(*), COALESCE(SUM(abstained), 0), "
            "COALESCE(SUM(refused), 0) FROM chat_events WHERE day >= :start",
            {"start": start},
        )
        conversations, replies, abstained, refused = (int(v) for v in row)
        return {
            "conversations": conversations,
            "replies": replies,
            "abstention_rate": round(abstained / replies, 4) if replies else 0.0,
            "refusal_rate": round(refused / replies, 4) if replies else 0.0,
        }


def _window(days: int, today: datetime | None) -> tuple[date, date]:
    """The first and last day (UTC) of the ``days`` days up to ``today`` (default: now)."""
    end = (today or datetime.now(UTC)).astimezone(UTC).date()
    return end - timedelta(days=days - 1), end


def rates_long(per_day: pd.DataFrame) -> pd.DataFrame:
    """The per-day rates in long form (one line per kind) for a line chart."""
    rows = []
    for _, r in per_day.iterrows():
        rows += [[r["day"], r["abstention_rate"], "abstained"], [r["day"], r["refusal_rate"], "refused"]]
    return pd.DataFrame(rows, columns=RATE_COLUMNS)
