"""Shared helpers for benchmarks: machine description, question sets, corpora, result tables."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
from pathlib import Path

from tests import harness

# Run from the repository root as `python -m benchmarks.<name>`, so `clone` and `benchmarks` import as packages.
ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "benchmarks" / "results"
DEMO_CONTENT = ROOT / "assets" / "demo" / "content"
DEMO_QUESTIONS = ROOT / "tests" / "data" / "demo_questions.jsonl"
DEVIL_QUESTIONS = ROOT / "benchmarks" / "data" / "devils_questions.jsonl"


def cpu_name(default: str = "unknown CPU") -> str:
    """The CPU's model name from /proc/cpuinfo, or ``default`` where it cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def machine() -> str:
    """One line naming the CPU, core count, memory and Python."""
    cpu = cpu_name()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_questions(path: Path) -> list[dict]:
    """A JSONL question file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def hit_at_5(kb, questions: list[dict], mode: str = "hybrid") -> float:
    """Share of the questions with an ``evidence_doc`` that have a top-5 passage from that document."""
    factual = [q for q in questions if q.get("evidence_doc")]
    hits = sum(any(p.source == q["evidence_doc"] for p in kb.search(q["question"], k=5, mode=mode)) for q in factual)
    return hits / len(factual)


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


# --- running the app: used by load.py and fast_path.py (start-up time) ---------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_home(home: Path) -> Path:
    """A CLONE_HOME holding the demo creator's index (built once, with the real embedding model)."""
    from clone.config import DEMO_CREATOR_DIR, load_settings
    from clone.index import ensure_index

    ensure_index(DEMO_CREATOR_DIR / "content", load_settings(app_env(home), dotenv=False))
    return home


def app_env(home: Path, **extra: str) -> dict[str, str]:
    """Settings for the benchmarks' own index builds: the offline default backend, state under ``home``."""
    return {"CLONE_HOME": str(home), "CLONE_BACKEND": "extractive", **extra}


def start_app(home: Path, port: int, **extra: str):
    """Start ``python app.py`` on 127.0.0.1:``port`` (never another interface) in its own process group;
    returns the Popen. The environment is the tests' (:func:`tests.harness.app_env`)."""
    import subprocess

    log = (home / f"server-{port}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=harness.app_env(home, port, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_serving(proc, url: str, timeout: float = 120) -> float:
    """Seconds until ``url`` answers HTTP (the tests' :func:`tests.harness.wait_until_serving`)."""
    return harness.wait_until_serving(proc, url, None, timeout)


def stop_app(proc) -> None:
    """Terminate an app started by :func:`start_app` (and wait for it)."""
    harness.stop(proc)


def tree_rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes and all their children, in MiB (psutil)."""
    import psutil

    total = 0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
    return total / 2**20
