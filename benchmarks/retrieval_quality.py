"""Hybrid (dense + BM25) against dense-only retrieval: hit@5 on two question sets.

    python -m benchmarks.retrieval_quality

A question is a hit when one of the five passages retrieved for it comes from its evidence
document. Sets: the demo creator's questions (tests/data) and a larger set built from the
public-domain Devil's Dictionary (benchmarks/data). Both indexes use the project's ingest with
default settings, in a temporary home.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import (
    DEMO_CONTENT,
    DEMO_QUESTIONS,
    DEVIL_QUESTIONS,
    devils_corpus,
    hit_at_5,
    markdown_table,
    read_questions,
    write_result,
)
from clone.config import load_settings
from clone.index import ensure_index

MODES = ("dense", "lexical", "hybrid")


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sets = [
            ("demo creator", DEMO_CONTENT, DEMO_QUESTIONS),
            ("Devil's Dictionary", devils_corpus(Path(tmp) / "devil"), DEVIL_QUESTIONS),
        ]
        for label, content, questions_file in sets:
            settings = load_settings({"CLONE_HOME": str(Path(tmp) / label.replace(" ", "-"))}, dotenv=False)
            kb = ensure_index(content, settings).kb
            questions = read_questions(questions_file)
            scores = {mode: hit_at_5(kb, questions, mode) for mode in MODES}
            n = sum(1 for q in questions if q.get("evidence_doc"))
            rows.append(
                [label, n, kb.size]
                + [f"{scores[m]:.3f}" for m in MODES]
                + [f"{scores['hybrid'] - scores['dense']:+.3f}"]
            )
            print(label, scores, flush=True)
    table = markdown_table(
        ["question set", "questions", "chunks", "dense hit@5", "BM25 hit@5", "hybrid hit@5", "hybrid - dense"], rows
    )
    print(table)
    print(write_result("retrieval_quality", "Retrieval quality: hybrid vs dense (hit@5)", table))


if __name__ == "__main__":
    main()
