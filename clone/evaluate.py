"""Answer-quality measurement on any folder of content and a JSONL question file.

The index is built in a temporary home, so the app's own data is never touched. Input lines
carry at least ``id`` and ``question``; optional ``kind``, ``evidence_doc`` and
``answer_keywords`` enable the summary's hit rates.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tqdm import tqdm

from clone.backends import get_backend
from clone.config import Settings
from clone.errors import CloneError
from clone.index import ensure_index
from clone.persona import Persona
from clone.pipeline import Clone
from clone.reply import Reply

MAX_QUESTIONS = 10_000
NO_ANSWER = "I haven't talked about that, so I'd rather not guess."


class Question(BaseModel):
    """One line of a question file."""

    model_config = ConfigDict(extra="allow")
    id: str | int
    question: str = Field(max_length=20_000)
    kind: str | None = None
    evidence_doc: str | None = None
    answer_keywords: list[str] = Field(default_factory=list)


def read_questions(path: Path) -> list[Question]:
    """Parse a JSONL question file; errors name the line."""
    questions = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CloneError(f"Cannot read question file {path}: {exc}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            questions.append(Question.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise CloneError(f"{path}, line {n}: not a valid question ({exc.__class__.__name__}: {exc})") from None
    if not questions:
        raise CloneError(f'{path} holds no questions; each line needs {{"id": ..., "question": ...}}.')
    if len(questions) > MAX_QUESTIONS:
        raise CloneError(f"{path} holds {len(questions)} questions; the limit is {MAX_QUESTIONS}.")
    return questions


def default_persona(content_dir: Path, name: str | None) -> Persona:
    """A minimal persona for measuring a folder that has no persona card."""
    name = name or content_dir.resolve().name.replace("-", " ").replace("_", " ").title() or "The creator"
    return Persona(
        id="eval",
        name=name,
        bio=f"Measurement persona for {name}.",
        greeting="Hi!",
        no_answer_message=NO_ANSWER,
    )


@dataclass
class Summary:
    """Aggregate results of an evaluation run."""

    questions: int = 0
    answered: int = 0
    abstained: int = 0
    refused: int = 0
    keyword_hit_rate: float | None = None
    source_hit_rate: float | None = None
    offtopic_abstention_rate: float | None = None

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [
            f"questions: {self.questions}",
            f"answered: {self.answered}",
            f"abstained: {self.abstained}",
            f"refused: {self.refused}",
        ]
        for label, value in (
            ("keyword hit rate", self.keyword_hit_rate),
            ("source hit rate", self.source_hit_rate),
            ("off-topic abstention rate", self.offtopic_abstention_rate),
        ):
            if value is not None:
                out.append(f"{label}: {value:.3f}")
        return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def record(question: Question, reply: Reply) -> dict:
    """The output line for one question; a source from subtitles or a transcript has its ``start`` in seconds."""
    return {
        "id": question.id,
        "reply": reply.text,
        "sources": [
            {"path": s.path, "title": s.title, "url": s.url, "start": s.start, "page": s.page} for s in reply.sources
        ],
        "abstained": reply.abstained,
        "refused": reply.refused,
    }


def summarise(questions: list[Question], records: list[dict]) -> Summary:
    """Hit rates over the questions that carry the fields needed to score them."""
    s = Summary(questions=len(records))
    keyword_scores, source_hits, offtopic = [], [], []
    for q, r in zip(questions, records, strict=True):
        s.abstained += r["abstained"]
        s.refused += r["refused"]
        s.answered += not (r["abstained"] or r["refused"])
        reply = r["reply"].lower()
        if q.answer_keywords:
            keyword_scores.append(sum(k.lower() in reply for k in q.answer_keywords) / len(q.answer_keywords))
        if q.evidence_doc:
            source_hits.append(float(any(src["path"] == q.evidence_doc for src in r["sources"])))
        if q.kind == "offtopic":
            offtopic.append(float(r["abstained"]))
    s.keyword_hit_rate = _mean(keyword_scores)
    s.source_hit_rate = _mean(source_hits)
    s.offtopic_abstention_rate = _mean(offtopic)
    return s


def run_eval(
    content_dir: Path,
    questions_file: Path,
    out_file: Path,
    settings: Settings,
    *,
    name: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Summary:
    """Index ``content_dir`` in a temporary home, answer every question, write JSONL, return the summary."""
    questions = read_questions(questions_file)
    persona = default_persona(Path(content_dir), name)
    with tempfile.TemporaryDirectory(prefix="clone-eval-") as home:
        eval_settings = replace(settings, home=Path(home))
        report = ensure_index(Path(content_dir), eval_settings, progress=progress)
        clone = Clone(eval_settings, persona, report.kb, get_backend(eval_settings.backend, eval_settings))
        bar = tqdm(questions, desc="Answering", unit="q", disable=progress is None)
        records = [record(q, clone.answer(q.question)) for q in bar]
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(out_file.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(out_file)
    return summarise(questions, records)
