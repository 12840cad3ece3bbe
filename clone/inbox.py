"""The inbox: questions the clone could not answer, left by fans for the real creator.

A fan leaves a question (an e-mail address only if they tick the box to be told of the answer).
The creator sees the open questions grouped by meaning, biggest groups first: the content the fans
are asking for. The creator's answer is stored here and becomes a document of its own, a
"creator answer", that the next re-index adds to the knowledge base, so the clone cites it.

Everything lives in the app's database (:mod:`clone.db`), so replicas share one inbox and the
answers survive a restart of a Space whose disk is wiped.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import EmailStr, TypeAdapter, ValidationError
from sqlalchemy import bindparam, text

from clone import db
from clone.errors import InboxError
from clone.ingest import SourceFile

# Append only: never edit a migration that has shipped; add a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE inbox_questions (
        question_id TEXT PRIMARY KEY,
        asked_at    TEXT NOT NULL,
        question    TEXT NOT NULL,
        email       TEXT,
        status      TEXT NOT NULL DEFAULT 'open',
        answer_id   TEXT,
        closed_at   TEXT
    );
    CREATE INDEX inbox_questions_status ON inbox_questions (status);
    CREATE TABLE inbox_answers (
        answer_id   TEXT PRIMARY KEY,
        answered_at TEXT NOT NULL,
        question    TEXT NOT NULL,
        answer      TEXT NOT NULL,
        asked_by    INTEGER NOT NULL
    );
    """,
)

# Where creator answers appear among the knowledge base's documents (never a file on disk).
ANSWER_PREFIX = "creator-answers/"
ANSWER_KIND = "creator answer"
MAX_EMAIL_CHARS = 254
MAX_ANSWER_CHARS = 10_000
# A flood of questions must not fill the disk: past this many open questions the inbox says it is full.
MAX_OPEN = 10_000
# Two questions whose embeddings are at least this similar (cosine) to a group's centre join it.
GROUP_SIMILARITY = 0.6

_EMAIL = TypeAdapter(EmailStr)


@dataclass(frozen=True)
class Question:
    """One open question as the creator sees it (the e-mail address is never shown in a list)."""

    question_id: str
    asked_at: str
    question: str
    wants_reply: bool


@dataclass(frozen=True)
class Group:
    """Open questions that ask the same thing, with the most typical one first."""

    questions: list[Question] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The id of the group's most typical question: it names the group for the creator's answer."""
        return self.questions[0].question_id

    @property
    def question(self) -> str:
        """The group's most typical wording."""
        return self.questions[0].question

    @property
    def count(self) -> int:
        """How many times fans asked it."""
        return len(self.questions)

    @property
    def latest(self) -> str:
        """When it was last asked."""
        return max(q.asked_at for q in self.questions)

    @property
    def wants_reply(self) -> int:
        """How many of the askers left an e-mail address to be told."""
        return sum(q.wants_reply for q in self.questions)


@dataclass(frozen=True)
class Answer:
    """A creator's published answer."""

    answer_id: str
    answered_at: str
    question: str
    answer: str
    asked_by: int

    def document(self) -> SourceFile:
        """The answer as a knowledge-base document: the question as its heading, then the answer.

        The heading helps retrieval find it and tells the extractive backend what the answer is about;
        the backend never says a heading, so fans hear the creator's words only.
        """
        body = f"# {self.question}\n\n{self.answer}"
        meta = {"title": f"Creator answer: {self.question}", "url": "", "kind": ANSWER_KIND, "date": self.answered_at}
        digest = hashlib.sha256(f"{body}\0{meta}".encode()).hexdigest()
        return SourceFile(f"{ANSWER_PREFIX}{self.answer_id}.md", body, digest, meta)


@dataclass(frozen=True)
class Published:
    """What answering a group did: the answer, the questions it closed, and whom to tell."""

    answer: Answer
    closed: int
    emails: list[str]


def clean_question(question: str, max_chars: int) -> str:
    """The question, trimmed, or an ``InboxError`` saying what is wrong with it."""
    question = " ".join((question or "").split())
    if not question:
        raise InboxError("Please write the question you would like answered.")
    if len(question) > max_chars:
        raise InboxError(f"The question is {len(question)} characters; please keep it under {max_chars}.")
    return question


def clean_email(email: str | None) -> str:
    """A syntactically valid address (domain lower-cased), or an ``InboxError`` that says what to fix."""
    email = (email or "").strip()
    if not email:
        raise InboxError("To be told when there is an answer, please give your e-mail address (or untick the box).")
    if len(email) > MAX_EMAIL_CHARS:
        raise InboxError(f"That e-mail address is longer than {MAX_EMAIL_CHARS} characters.")
    try:
        return _EMAIL.validate_python(email)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("value is not a valid email address: ")
        raise InboxError(f"That e-mail address does not look right: {reason}") from None


class InboxStore:
    """Open questions and published answers, in the app's database."""

    def __init__(self, target: str | Path):
        self.engine = db.engine_for(target)
        db.migrate(self.engine, "inbox", MIGRATIONS)
        self._cache: dict[str, np.ndarray] = {}  # question id -> unit vector, for groups()
        self._cache_lock = threading.Lock()

    def leave(self, question: str, *, notify: bool = False, email: str | None = None, max_chars: int = 2000) -> str:
        """Store a fan's question; keep the e-mail address only when ``notify`` is ticked. Returns the id."""
        question = clean_question(question, max_chars)
        address = clean_email(email) if notify else None
        qid = "q" + secrets.token_hex(8)
        with db.transaction(self.engine) as conn:
            db.lock(conn, "inbox-leave")
            n = conn.execute(text("SELECT COUNT(*) FROM inbox_questions WHERE status = 'open'")).scalar_one()
            if n >= MAX_OPEN:
                raise InboxError("The inbox is full right now; please try again in a few days.")
            conn.execute(
                text("INSERT INTO inbox_questions (question_id, asked_at, question, email) VALUES (:id, :at, :q, :e)"),
                {"id": qid, "at": db.utc_now("microseconds"), "q": question, "e": address},
            )
        return qid

    def open_questions(self) -> list[Question]:
        """Every open question, oldest first."""
        rows = db.fetch(
            self.engine,
            "SELECT question_id, asked_at, question, email IS NOT NULL FROM inbox_questions "
            "WHERE status = 'open' ORDER BY asked_at, question_id",
        )
        return [Question(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def groups(self, embeddings, *, similarity: float = GROUP_SIMILARITY) -> list[Group]:
        """Open questions grouped by meaning, biggest groups first (then the most recently asked).

        ``embeddings`` is the knowledge base's LangChain embeddings object. Each question joins the
        group whose centre it is most similar to, if at least ``similarity``; else it starts a group.
        """
        questions = self.open_questions()
        if not questions:
            return []
        vectors = self._vectors(questions, embeddings)
        members: list[list[int]] = []
        sums: list[np.ndarray] = []
        for i, v in enumerate(vectors):
            if sums:
                centres = np.stack(sums)
                centres /= np.linalg.norm(centres, axis=1, keepdims=True) + 1e-12
                scores = centres @ v
                best = int(np.argmax(scores))
                if scores[best] >= similarity:
                    members[best].append(i)
                    sums[best] = sums[best] + v
                    continue
            members.append([i])
            sums.append(v.copy())
        groups = []
        for idx, total in zip(members, sums, strict=True):
            centre = total / (np.linalg.norm(total) + 1e-12)
            # The most typical wording first: closest to the group's centre (ties: the earliest asked).
            ordered = sorted(idx, key=lambda i: (-float(vectors[i] @ centre), i))
            groups.append(Group([questions[i] for i in ordered]))
        # Timestamps share one fixed ISO format, so they sort as text.
        return sorted(groups, key=lambda g: (g.count, g.latest), reverse=True)

    def _vectors(self, questions: list[Question], embeddings) -> np.ndarray:
        """Unit-length embeddings of the questions; each question is embedded once per process."""
        with self._cache_lock:
            missing = [q for q in questions if q.question_id not in self._cache]
            if missing:
                found = np.asarray(embeddings.embed_documents([q.question for q in missing]), dtype=np.float32)
                found /= np.linalg.norm(found, axis=1, keepdims=True) + 1e-12
                self._cache.update(zip((q.question_id for q in missing), found, strict=True))
            open_ids = {q.question_id for q in questions}
            for gone in [k for k in self._cache if k not in open_ids]:  # answered or dismissed meanwhile
                del self._cache[gone]
            return np.stack([self._cache[q.question_id] for q in questions])

    def publish(self, question_ids: Sequence[str], question: str, answer: str) -> Published:
        """Store the creator's answer to a group and close its questions.

        Returns the e-mail addresses of the askers who asked to be told, once: they are erased from the
        database in the same transaction, since they were kept for that one purpose.
        """
        question = clean_question(question, 500)
        answer = (answer or "").strip()
        if not answer:
            raise InboxError("Write your answer first; it becomes a source your clone can cite.")
        if len(answer) > MAX_ANSWER_CHARS:
            raise InboxError(f"The answer is {len(answer)} characters; please keep it under {MAX_ANSWER_CHARS}.")
        ids = list(dict.fromkeys(question_ids))
        if not ids:
            raise InboxError("Pick the group of questions you are answering.")
        aid = "a" + secrets.token_hex(8)
        now = db.utc_now("microseconds")
        select = text(
            "SELECT question_id, email FROM inbox_questions WHERE status = 'open' AND question_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        with db.transaction(self.engine) as conn:
            db.lock(conn, "inbox-publish")  # two creators' tabs on two replicas must not answer one group twice
            rows = conn.execute(select, {"ids": ids}).all()
            if not rows:
                raise InboxError("Those questions were already answered or dismissed; refresh the inbox.")
            open_ids = [r[0] for r in rows]
            conn.execute(
                text("INSERT INTO inbox_answers VALUES (:id, :at, :q, :a, :n)"),
                {"id": aid, "at": now, "q": question, "a": answer, "n": len(open_ids)},
            )
            conn.execute(
                text(
                    "UPDATE inbox_questions SET status = 'answered', answer_id = :aid, closed_at = :at, email = NULL "
                    "WHERE question_id IN :ids"
                ).bindparams(bindparam("ids", expanding=True)),
                {"aid": aid, "at": now, "ids": open_ids},
            )
        emails = sorted({r[1] for r in rows if r[1]})
        return Published(Answer(aid, now, question, answer, len(open_ids)), len(open_ids), emails)

    def dismiss(self, question_ids: Sequence[str]) -> int:
        """Close questions without an answer (spam, or nothing to say); their e-mail addresses are erased."""
        ids = list(dict.fromkeys(question_ids))
        if not ids:
            return 0
        with db.transaction(self.engine) as conn:
            return conn.execute(
                text(
                    "UPDATE inbox_questions SET status = 'dismissed', closed_at = :at, email = NULL "
                    "WHERE status = 'open' AND question_id IN :ids"
                ).bindparams(bindparam("ids", expanding=True)),
                {"at": db.utc_now("microseconds"), "ids": ids},
            ).rowcount

    def answers(self) -> list[Answer]:
        """Every published answer, oldest first."""
        rows = db.fetch(
            self.engine,
            "SELECT answer_id, answered_at, question, answer, asked_by FROM inbox_answers "
            "ORDER BY answered_at, answer_id",
        )
        return [Answer(*r) for r in rows]

    def answer_documents(self) -> list[SourceFile]:
        """The published answers as knowledge-base documents (see :meth:`Answer.document`)."""
        return [a.document() for a in self.answers()]

    def delete_answer(self, answer_id: str) -> bool:
        """Withdraw a published answer (it leaves the index at the next re-index)."""
        with db.transaction(self.engine) as conn:
            return conn.execute(text("DELETE FROM inbox_answers WHERE answer_id = :id"), {"id": answer_id}).rowcount > 0
