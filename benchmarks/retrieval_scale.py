"""Retrieval latency at 10k and 100k chunks, and recall@10 of the approximate (HNSW) index.

    python -m benchmarks.retrieval_scale [--sizes 10000 100000] [--queries 200]

Embedding 100k real chunks would take most of an hour on 2 cores, so the large collections are
synthetic but shaped like real ones: texts are drawn from the words of the demo and public-domain
corpora, and vectors are real chunk embeddings of those corpora plus Gaussian noise (clustered
like real content, unlike uniform random vectors). Queries are real questions from both question
sets, embedded with the project's model. Latency is the whole ``KnowledgeBase.search`` call:
query embedding, dense search, BM25 and fusion.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    DEMO_CONTENT,
    DEMO_QUESTIONS,
    DEVIL_QUESTIONS,
    devils_corpus,
    markdown_table,
    percentile,
    read_questions,
    write_result,
)
from clone.config import load_settings
from clone.index import KnowledgeBase, build_faiss, ensure_index

NOISE = 0.35


def synthetic(base_chunks: list[dict], base_vectors: np.ndarray, n: int, rng: np.random.Generator):
    """``n`` chunks whose texts mix real words and whose vectors sit near real chunk vectors."""
    words = " ".join(c["text"] for c in base_chunks).split()
    picks = rng.integers(0, len(base_vectors), n)
    noise = rng.standard_normal((n, base_vectors.shape[1])).astype(np.float32) * NOISE / np.sqrt(base_vectors.shape[1])
    vectors = base_vectors[picks] + noise * np.sqrt(base_vectors.shape[1]) / 4
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = []
    for i in range(n):
        start = int(rng.integers(0, len(words) - 130))
        text = " ".join(words[start : start + 120])
        chunks.append(
            {"id": f"s{i}", "text": text, "metadata": {"source": f"doc{i // 8}.md", "title": f"Doc {i // 8}"}}
        )
    return chunks, vectors.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = []
        for name, content in (("demo", DEMO_CONTENT), ("devil", devils_corpus(Path(tmp) / "devil"))):
            settings = load_settings({"CLONE_HOME": str(Path(tmp) / name)}, dotenv=False)
            base.append(ensure_index(content, settings).kb)
        base_chunks = base[0].chunks + base[1].chunks
        base_vectors = np.concatenate([base[0].vectors, base[1].vectors])
        embeddings = base[0].embeddings
        questions = [q["question"] for f in (DEMO_QUESTIONS, DEVIL_QUESTIONS) for q in read_questions(f)]
        questions = [questions[i] for i in rng.permutation(len(questions))[: args.queries]]
        for size in args.sizes:
            chunks, vectors = synthetic(base_chunks, base_vectors, size, rng)
            t0 = time.perf_counter()
            exact = KnowledgeBase(
                Path(tmp), {"index_type": "flat"}, chunks, vectors, build_faiss(vectors, "flat"), embeddings
            )
            t1 = time.perf_counter()
            hnsw_index = build_faiss(vectors, "hnsw")
            t2 = time.perf_counter()
            approx = KnowledgeBase(Path(tmp), {"index_type": "hnsw"}, chunks, vectors, hnsw_index, embeddings)
            query_vectors = np.asarray(embeddings.embed_documents(questions), dtype=np.float32)
            recall = np.mean([len(set(exact.dense(v, 10)) & set(approx.dense(v, 10))) / 10 for v in query_vectors])
            for label, kb in (("flat (exact)", exact), ("HNSW", approx)):
                for mode in ("dense", "hybrid"):
                    times = []
                    for q in questions:
                        start = time.perf_counter()
                        kb.search(q, k=4, mode=mode)
                        times.append((time.perf_counter() - start) * 1000)
                    rows.append(
                        [
                            f"{size:,}",
                            label,
                            mode,
                            f"{percentile(times, 50):.1f}",
                            f"{percentile(times, 95):.1f}",
                            f"{recall:.3f}" if label == "HNSW" else "1 (reference)",
                            f"{(t1 - t0):.1f}" if label.startswith("flat") else f"{(t2 - t1):.1f}",
                        ]
                    )
                    print(rows[-1], flush=True)
    table = markdown_table(
        ["chunks", "index", "search", "p50 ms", "p95 ms", "recall@10 vs exact", "build s (incl. BM25 for flat)"], rows
    )
    print(table)
    print(write_result("retrieval_scale", "Retrieval latency and recall at scale (synthetic collections)", table))


if __name__ == "__main__":
    main()
