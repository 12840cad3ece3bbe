"""How the chunk size changes retrieval and answers, to pick CLONE_CHUNK_SIZE by measurement.

    python -m benchmarks.chunk_size [--sizes 400 600 800 1000 1400]

For each size (overlap: 15% of it) the demo creator's content and the public-domain Devil's
Dictionary are indexed with the project's ingest; the table reports hit@5 on both question sets
and, on the demo set, the keyword hit rate and source hit rate of the full pipeline's answers
(what ``python -m clone eval`` reports).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
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
from clone.evaluate import run_eval
from clone.index import ensure_index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[400, 600, 800, 1000, 1400])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        devil = devils_corpus(Path(tmp) / "devil")
        demo_q, devil_q = read_questions(DEMO_QUESTIONS), read_questions(DEVIL_QUESTIONS)
        for size in args.sizes:
            base = load_settings({"CLONE_HOME": str(Path(tmp) / f"h{size}")}, dotenv=False)
            settings = replace(base, chunk_size=size, chunk_overlap=int(size * 0.15))
            demo_kb = ensure_index(DEMO_CONTENT, settings)
            devil_settings = replace(settings, home=Path(tmp) / f"d{size}")
            devil_kb = ensure_index(devil, devil_settings)
            summary = run_eval(DEMO_CONTENT, DEMO_QUESTIONS, Path(tmp) / f"replies-{size}.jsonl", settings)
            rows.append(
                [
                    size,
                    demo_kb.chunks,
                    f"{hit_at_5(demo_kb.kb, demo_q):.3f}",
                    f"{summary.keyword_hit_rate:.3f}",
                    f"{summary.source_hit_rate:.3f}",
                    devil_kb.chunks,
                    f"{hit_at_5(devil_kb.kb, devil_q):.3f}",
                ]
            )
            print(rows[-1], flush=True)
    table = markdown_table(
        [
            "chunk size (chars)",
            "demo chunks",
            "demo hit@5",
            "demo keyword hit",
            "demo source hit",
            "Devil's Dictionary chunks",
            "Devil's Dictionary hit@5",
        ],
        rows,
    )
    print(table)
    print(write_result("chunk_size", "Chunk size: retrieval and answer quality", table))


if __name__ == "__main__":
    main()
