"""The offline default's fast path: one reply end to end at 10k chunks, and the app's start-up time.

    python -m benchmarks.fast_path [--chunks 10000] [--startups 5]

Reply: ``Clone.answer`` on the ``extractive`` backend (guardrails, query embedding, hybrid search,
sentence selection, citations, receipt signing) over a 10k-chunk index: the real demo and
Devil's Dictionary chunks plus synthetic ones made by ``retrieval_scale.synthetic`` to fill it up,
so real questions find real passages while search pays for the full size. Timed cold (each
question's first asking, the sentence-embedding cache empty for its passages) and warm (asked again,
the question's own vector forgotten, so only the passages' sentence vectors are reused).
Target: median <= 50 ms.

Start-up: wall time from ``python app.py`` to the server answering HTTP, with the demo index
already built (the median of a few fresh processes). Target: <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    DEMO_CONTENT,
    DEMO_QUESTIONS,
    DEVIL_QUESTIONS,
    RESULTS,
    demo_home,
    devils_corpus,
    free_port,
    machine,
    markdown_table,
    percentile,
    read_questions,
    start_app,
    stop_app,
    wait_serving,
    write_result,
)
from benchmarks.retrieval_scale import synthetic
from clone.backends import get_backend
from clone.config import DEMO_CREATOR_DIR, load_settings
from clone.index import KnowledgeBase, _query_cache, build_faiss, ensure_index
from clone.persona import load_persona
from clone.pipeline import Clone

TARGET_REPLY_MS = 50
TARGET_STARTUP_S = 10
OFF_TOPIC = [
    "How do I reverse a linked list in Python?",
    "What's the capital of Australia?",
    "Can you recommend a good laptop for gaming?",
    "Explain quantum entanglement simply.",
]


def clone_at_scale(tmp: Path, n: int) -> Clone:
    """The demo persona on the extractive backend over ``n`` chunks (real ones first, synthetic after)."""
    base = []
    for name, content in (("demo", DEMO_CONTENT), ("devil", devils_corpus(tmp / "devil"))):
        settings = load_settings({"CLONE_HOME": str(tmp / name), "CLONE_BACKEND": "extractive"}, dotenv=False)
        base.append(ensure_index(content, settings).kb)
    chunks = base[0].chunks + base[1].chunks
    vectors = np.concatenate([base[0].vectors, base[1].vectors])
    fill_chunks, fill_vectors = synthetic(chunks, vectors, n - len(chunks), np.random.default_rng(7))
    chunks, vectors = chunks + fill_chunks, np.concatenate([vectors, fill_vectors])
    settings = load_settings({"CLONE_HOME": str(tmp / "scale"), "CLONE_BACKEND": "extractive"}, dotenv=False)
    kb = KnowledgeBase(tmp, {"index_type": "flat"}, chunks, vectors, build_faiss(vectors, "flat"), base[0].embeddings)
    persona = load_persona(DEMO_CREATOR_DIR)
    return Clone(settings, persona, kb, get_backend("extractive", settings), DEMO_CONTENT)


def time_calls(call, questions: list[str]) -> list[float]:
    """Milliseconds per ``call(question)``, in question order."""
    times = []
    for q in questions:
        start = time.perf_counter()
        call(q)
        times.append((time.perf_counter() - start) * 1000)
    return times


def startup_times(home: Path, runs: int) -> list[float]:
    """Seconds from ``python app.py`` to an HTTP answer, one fresh process per run."""
    times = []
    for _ in range(runs):
        port = free_port()
        start = time.perf_counter()
        proc = start_app(home, port)
        try:
            wait_serving(proc, f"http://127.0.0.1:{port}/", timeout=120)
            times.append(time.perf_counter() - start)
        finally:
            stop_app(proc)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--startups", type=int, default=5)
    args = parser.parse_args()
    demo = [q["question"] for q in read_questions(DEMO_QUESTIONS)]
    warmup = [q["question"] for q in read_questions(DEVIL_QUESTIONS)][:20]
    with tempfile.TemporaryDirectory(prefix="clone-fast-") as tmp:
        clone = clone_at_scale(Path(tmp), args.chunks)
        time_calls(clone.answer, warmup)  # loads the model paths and fills numpy/FAISS caches, not these questions
        questions = demo + OFF_TOPIC
        cold = time_calls(clone.answer, questions)
        # Each pass pays for embedding its question once, like a new fan asking it: forget the vectors.
        _query_cache.clear()
        warm = time_calls(clone.answer, questions)
        _query_cache.clear()
        search = time_calls(clone.retrieve, questions)
        home = demo_home(Path(tmp) / "home")
        startup = startup_times(home, args.startups)
    rows = [
        [
            f"reply, cold ({len(questions)} questions)",
            f"{percentile(cold, 50):.1f} ms",
            f"{percentile(cold, 95):.1f} ms",
            f"<= {TARGET_REPLY_MS} ms",
            "yes" if percentile(cold, 50) <= TARGET_REPLY_MS else "**no**",
        ],
        [
            "reply, warm (asked again)",
            f"{percentile(warm, 50):.1f} ms",
            f"{percentile(warm, 95):.1f} ms",
            f"<= {TARGET_REPLY_MS} ms",
            "yes" if percentile(warm, 50) <= TARGET_REPLY_MS else "**no**",
        ],
        ["of which retrieval", f"{percentile(search, 50):.1f} ms", f"{percentile(search, 95):.1f} ms", "", ""],
        [
            f"start-up to HTTP ({args.startups} runs)",
            f"{statistics.median(startup):.2f} s",
            f"{max(startup):.2f} s (max)",
            f"<= {TARGET_STARTUP_S} s",
            "yes" if statistics.median(startup) <= TARGET_STARTUP_S else "**no**",
        ],
    ]
    table = markdown_table(["measure", "median", "p95", "target", "met"], rows)
    body = (
        f"{table}\n\n`Clone.answer` on the `extractive` backend over {args.chunks:,} chunks (flat index, hybrid "
        "search), the demo questions plus off-topic ones, one at a time; start-up of `python app.py` with the "
        "demo index already built."
    )
    print(body)
    (RESULTS / "fast_path.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "chunks": args.chunks,
                "reply_cold_ms": cold,
                "reply_warm_ms": warm,
                "search_ms": search,
                "startup_s": startup,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(write_result("fast_path", "Fast path: offline reply at 10k chunks, and start-up", body))


if __name__ == "__main__":
    main()
