"""Shared helpers for benchmarks: machine description, question sets, corpora, result tables."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
DEMO_CONTENT = ROOT / "assets" / "demo" / "content"
DEMO_QUESTIONS = ROOT / "tests" / "data" / "demo_questions.jsonl"
DEVIL_QUESTIONS = ROOT / "benchmarks" / "data" / "devils_questions.jsonl"


def machine() -> str:
    """One line naming the CPU, core count, memory and Python."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_questions(path: Path) -> list[dict]:
    """A JSONL question file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def devils_corpus(target: Path) -> Path:
    """Write the Devil's Dictionary corpus (one Markdown file per entry) into ``target``."""
    from benchmarks.corpora.devils_dictionary import write_corpus

    target.mkdir(parents=True, exist_ok=True)
    write_corpus(target)
    return target


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """A GitHub Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def write_result(name: str, title: str, body: str) -> Path:
    """Save a result as Markdown under benchmarks/results/ with the machine noted."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(f"## {title}\n\nMachine: {machine()}\n\n{body}\n", encoding="utf-8")
    return path
