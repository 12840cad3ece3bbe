"""Ingest speed and quality: the plain LangChain baseline against this project's ingest.

    python -m benchmarks.ingest_speed [--repeats 3]

Both run on the same corpus, side by side in one run, each in a fresh process (so peak memory is
its own), alternating baseline and project for ``--repeats`` rounds; the table gives medians.

(a) baseline: ``RecursiveCharacterTextSplitter(1000, 200)`` + ``HuggingFaceEmbeddings``
    (all-MiniLM-L6-v2 on torch) + ``FAISS.from_documents``;
(b) project: ``clone.index.ensure_index`` with default settings (its embedding engine, hybrid search).

Corpus: the demo creator's 25 documents plus the 999 entries of the public-domain Devil's
Dictionary. hit@5 over both question sets (359 questions): a hit when a top-5 passage comes from
the question's evidence document.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    DEMO_CONTENT,
    DEMO_QUESTIONS,
    DEVIL_QUESTIONS,
    ROOT,
    devils_corpus,
    hit_at_5,
    markdown_table,
    peak_rss_mb,
    read_questions,
    write_result,
)


def questions() -> list[dict]:
    out = []
    for prefix, path in (("demo", DEMO_QUESTIONS), ("devil", DEVIL_QUESTIONS)):
        for q in read_questions(path):
            if q.get("evidence_doc"):
                out.append({"question": q["question"], "evidence_doc": f"{prefix}/{q['evidence_doc']}"})
    return out


def run_baseline(content: Path) -> dict:
    from langchain_community.document_loaders import DirectoryLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from clone.embeddings import default_model_path

    start = time.perf_counter()
    docs = DirectoryLoader(str(content), glob="**/*.md", loader_cls=TextLoader).load()
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    embeddings = HuggingFaceEmbeddings(model_name=str(default_model_path()), model_kwargs={"device": "cpu"})
    loaded = time.perf_counter()
    store = FAISS.from_documents(chunks, embeddings)
    wall = time.perf_counter() - start
    hits = [
        any(
            Path(d.metadata["source"]).relative_to(content).as_posix() == q["evidence_doc"]
            for d in store.similarity_search(q["question"], k=5)
        )
        for q in questions()
    ]
    return {"chunks": len(chunks), "wall": wall, "embed": time.perf_counter() - loaded, "hit5": sum(hits) / len(hits)}


def run_project(content: Path, home: Path) -> dict:
    from clone.config import load_settings
    from clone.index import embedder, ensure_index

    settings = load_settings({"CLONE_HOME": str(home)}, dotenv=False)
    start = time.perf_counter()
    embedder(settings)  # model load counts, as it does for the baseline
    report = ensure_index(content, settings)
    wall = time.perf_counter() - start
    return {"chunks": report.chunks, "wall": wall, "hit5": hit_at_5(report.kb, questions())}


def child(role: str, content: Path, home: Path) -> None:
    result = run_baseline(content) if role == "baseline" else run_project(content, home)
    result["peak_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(result))


def spawn(role: str, content: Path, home: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest_speed", "--child", role, "--content", str(content), "--home", home],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["baseline", "project"])
    parser.add_argument("--content", type=Path)
    parser.add_argument("--home", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.content, args.home)
        return
    with tempfile.TemporaryDirectory() as tmp:
        content = Path(tmp) / "content"
        shutil.copytree(DEMO_CONTENT, content / "demo")
        devils_corpus(content / "devil")
        # Warm-up: lets the project export its fast embedding model into the shared cache once.
        spawn("project", content, Path(tmp) / "warmup")
        results: dict[str, list[dict]] = {"baseline": [], "project": []}
        for n in range(args.repeats):
            for role in ("baseline", "project"):
                results[role].append(spawn(role, content, Path(tmp) / f"home-{role}-{n}"))
                print(role, results[role][-1], flush=True)
    rows = []
    for role, label in (("baseline", "LangChain baseline (torch)"), ("project", "this project")):
        runs = results[role]
        wall = statistics.median(r["wall"] for r in runs)
        chunks = runs[0]["chunks"]
        rows.append(
            [
                label,
                chunks,
                f"{wall:.1f}",
                f"{chunks / wall:.1f}",
                f"{statistics.median(r['peak_mb'] for r in runs):.0f}",
                f"{runs[0]['hit5']:.3f}",
            ]
        )
    speedup = (rows[1][1] / float(rows[1][2])) / (rows[0][1] / float(rows[0][2]))
    table = markdown_table(["ingest", "chunks", "wall s (median)", "chunks/s", "peak MiB", "hit@5"], rows)
    table += (
        f"\n\nThroughput ratio (project / baseline, chunks per second): **{speedup:.2f}x** over {args.repeats} rounds."
    )
    print(table)
    print(write_result("ingest_speed", "Ingest: LangChain baseline vs this project", table))


if __name__ == "__main__":
    main()
