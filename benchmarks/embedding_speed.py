"""Embedding speed and retrieval quality: sentence-transformers on torch against the OpenVINO engine.

Not a test: a measurement. Each engine runs in its own worker process (so each reports its own peak
memory), and the workers take turns on the same corpus, alternating which goes first, so load from
other processes on the machine hits both about equally; the speed ratio is the median of the
per-round ratios. Retrieval quality is hit@5 on the demo question set over a flat inner-product
FAISS index of ~170-word chunks of the demo content, plus the overlap of the two engines' top 5.

    python -m benchmarks.embedding_speed [--repeats 7] [--copies 4] [--bf16]

Writes ``benchmarks/results/embedding_speed.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import re
import statistics
import tempfile
import time
from importlib import metadata
from pathlib import Path

from benchmarks.common import DEMO_CONTENT, DEMO_QUESTIONS, RESULTS, cpu_name, read_questions

RESULT_FILE = RESULTS / "embedding_speed.md"
CHUNK_WORDS = 170


def demo_chunks(words: int = CHUNK_WORDS) -> list[tuple[str, str]]:
    """(file name, text) for ~``words``-word windows of every demo document, front matter removed."""
    chunks = []
    for path in sorted(DEMO_CONTENT.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
        tokens = text.split()
        for start in range(0, len(tokens), words):
            chunks.append((path.name, " ".join(tokens[start : start + words])))
    return chunks


def _cold_export(cache_dir: str, conn) -> None:
    """Export and quantize into an empty cache, timed: what the first start on a machine pays, once."""
    from clone import embeddings

    started = time.perf_counter()
    export = embeddings.ensure_export(cache_dir=Path(cache_dir))
    conn.send({"seconds": time.perf_counter() - started, "built": export.built})


def _worker(engine: str, cache_dir: str, conn) -> None:
    """Own one engine; answer the parent's commands until told to stop."""
    import resource

    import faiss
    import numpy as np

    from clone import embeddings

    started = time.perf_counter()
    if engine == "torch":
        emb = embeddings.get_embeddings(engine="torch")
        built = False
    else:
        precision = engine.split("-", 1)[1] if "-" in engine else embeddings.DEFAULT_PRECISION
        export = embeddings.ensure_export(precision=precision, cache_dir=Path(cache_dir))
        emb = embeddings.OpenVINOEmbeddings(export)
        built = export.built
    emb.embed_documents(["warm up", "a second, slightly longer text to warm up with"])
    conn.send({"load_s": time.perf_counter() - started, "exported": built})
    while True:
        command, payload = conn.recv()
        if command == "embed":
            t0 = time.perf_counter()
            vectors = emb.embed_documents(payload)
            conn.send({"seconds": time.perf_counter() - t0, "n": len(vectors)})
        elif command == "retrieve":
            chunks, questions = payload
            docs = np.asarray(emb.embed_documents([text for _, text in chunks]), dtype=np.float32)
            queries = np.asarray([emb.embed_query(q) for q in questions], dtype=np.float32)
            index = faiss.IndexFlatIP(docs.shape[1])
            index.add(docs)
            _, ids = index.search(queries, 5)
            conn.send({"top5": ids.tolist(), "docs": docs, "queries": queries})
        elif command == "stop":
            conn.send({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
            return


def machine_info() -> dict:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {p: _version(p) for p in ("torch", "sentence-transformers", "openvino", "nncf", "transformers")}
    return {
        "cpu": cpu_name("unknown"),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        **versions,
    }


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per engine (median reported)")
    parser.add_argument("--copies", type=int, default=4, help="how many times the demo chunks are repeated")
    parser.add_argument(
        "--bf16", action="store_true", help="also run the unquantized export (bf16 where the CPU has it)"
    )
    parser.add_argument("--cache-dir", default="", help="model cache (default: CLONE_MODEL_CACHE or its default)")
    parser.add_argument("--out", default=str(RESULT_FILE))
    args = parser.parse_args()

    from clone import embeddings

    cache_dir = args.cache_dir or str(embeddings.default_cache_dir())
    chunks = demo_chunks()
    corpus = [text for _, text in chunks] * args.copies
    all_questions = read_questions(DEMO_QUESTIONS)
    all_questions.sort(key=lambda q: q.get("kind") != "factual")  # factual first: they are scored
    factual = [q for q in all_questions if q.get("kind") == "factual"]
    info = machine_info()
    print(f"CPU: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable)")
    print(f"corpus: {len(corpus)} chunks of ~{CHUNK_WORDS} words; {len(factual)} factual questions")

    engines = {"torch (sentence-transformers)": "torch", "openvino (int8, the engine)": "openvino"}
    if args.bf16:
        engines["openvino (unquantized, bf16)"] = "openvino-bf16"
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as empty_cache:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_cold_export, args=(empty_cache, child), daemon=True)
        proc.start()
        cold = parent.recv()
        proc.join(timeout=30)
    print(f"export + int8 quantization into an empty cache: {cold['seconds']:.1f} s")
    workers = {}
    for label, engine in engines.items():
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(engine, cache_dir, child), daemon=True)
        proc.start()
        workers[label] = (proc, parent)
        ready = parent.recv()
        print(f"{label}: loaded in {ready['load_s']:.1f} s" + (" (exported it first)" if ready["exported"] else ""))

    load_before = os.getloadavg()
    rates: dict[str, list[float]] = {label: [] for label in engines}
    labels = list(engines)
    for round_ in range(args.repeats):
        order = labels if round_ % 2 == 0 else labels[::-1]
        for label in order:
            conn = workers[label][1]
            conn.send(("embed", corpus))
            result = conn.recv()
            rates[label].append(result["n"] / result["seconds"])
        print(f"round {round_ + 1}: " + ", ".join(f"{label} {rates[label][-1]:.1f}/s" for label in labels))
    load_after = os.getloadavg()

    tops, vectors = {}, {}
    for label in labels:
        conn = workers[label][1]
        conn.send(("retrieve", (chunks, [q["question"] for q in all_questions])))
        answer = conn.recv()
        tops[label] = answer["top5"][: len(factual)]
        vectors[label] = (answer["docs"], answer["queries"])
    peaks = {}
    for label, (proc, conn) in workers.items():
        conn.send(("stop", None))
        peaks[label] = conn.recv()["peak_rss_mib"]
        proc.join(timeout=30)

    base = labels[0]
    rows = []
    for label in labels:
        hits = sum(
            any(chunks[i][0] == q["evidence_doc"] for i in top) for q, top in zip(factual, tops[label], strict=True)
        )
        overlap = statistics.mean(len(set(a) & set(b)) / 5 for a, b in zip(tops[label], tops[base], strict=True))
        ratios = [r / b for r, b in zip(rates[label], rates[base], strict=True)]
        doc_cos = (vectors[label][0] * vectors[base][0]).sum(axis=1)
        query_cos = (vectors[label][1] * vectors[base][1]).sum(axis=1)
        rows.append(
            {
                "engine": label,
                "rate": statistics.median(rates[label]),
                "best": max(rates[label]),
                "ratio": statistics.median(ratios),
                "ratio_range": (min(ratios), max(ratios)),
                "peak": peaks[label],
                "hit5": hits / len(factual),
                "overlap": overlap,
                "doc_cos": (doc_cos.min(), doc_cos.mean()),
                "query_cos": (query_cos.min(), query_cos.mean()),
            }
        )

    table = [
        "| engine | chunks/s (median) | speed vs torch (median of rounds) | range of round ratios "
        "| best round, chunks/s | best vs best "
        "| peak RSS MiB | hit@5 | top-5 overlap with torch | cosine to torch, chunks (min / mean) "
        "| cosine to torch, questions (min / mean) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["ratio_range"]
        table.append(
            f"| {r['engine']} | {r['rate']:.1f} | {r['ratio']:.2f}x | {lo:.2f}-{hi:.2f} "
            f"| {r['best']:.1f} | {r['best'] / rows[0]['best']:.2f}x | {r['peak']:.0f} "
            f"| {r['hit5']:.3f} | {r['overlap']:.3f} | {r['doc_cos'][0]:.4f} / {r['doc_cos'][1]:.4f} "
            f"| {r['query_cos'][0]:.4f} / {r['query_cos'][1]:.4f} |"
        )
    report = "\n".join(
        [
            "# Embedding speed: torch vs OpenVINO",
            "",
            "Written by `python -m benchmarks.embedding_speed"
            + (" --bf16" if args.bf16 else "")
            + f"` on {time.strftime('%Y-%m-%d %H:%M')}.",
            "",
            f"- CPU: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable); Python {info['python']}",
            "- versions: "
            + ", ".join(f"{p} {info[p]}" for p in ("torch", "sentence-transformers", "openvino", "nncf")),
            f"- throughput corpus: {len(corpus)} chunks ({len(chunks)} windows of ~{CHUNK_WORDS} words from "
            f"assets/demo/content, x{args.copies}), {args.repeats} interleaved rounds per engine, each engine in "
            f"its own process; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after "
            "(other processes share these cores, so absolute numbers are noisy; the ratio is per round, and "
            "the best rounds show each engine closest to an idle machine)",
            f"- retrieval: {len(factual)} factual questions of tests/data/demo_questions.jsonl, flat inner-product "
            f"FAISS index of the {len(chunks)} windows; a hit is a top-5 chunk from the question's evidence_doc; "
            f"cosines to torch over those windows and all {len(all_questions)} questions (off-topic ones too)",
            "- torch: HuggingFaceEmbeddings (sentence-transformers), batch 32, normalize_embeddings=True; "
            "both keep max_seq_length 256",
            f"- openvino: export and int8 quantization into an empty cache took {cold['seconds']:.1f} s (once per "
            "machine and library versions; later starts load the cached export in under a second)",
            "",
            *table,
            "",
        ]
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print()
    print("\n".join(table))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
