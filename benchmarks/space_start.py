"""A staged Space's start: seconds from ``python app.py`` with an empty ``CLONE_HOME`` to its first /chat answer.

    python -m benchmarks.space_start [--runs 5] [--python PATH] [--baseline-runs 1]

Stages the demo creator as ``deploy --generate-dir`` does (the model cache's export is reused), then for
each run copies the folder afresh, starts ``python app.py`` from it on 127.0.0.1 with an empty
``CLONE_HOME`` (as on a Space's ephemeral disk), and asks /chat one demo question as soon as the server
answers HTTP. The time is from the process start to the reply. Target: median <= 10 s on 2 cores.

Side by side, "before": the same folder started the way the Space started before the model shipped
with it (``CLONE_EMBEDDING_EXPORT`` empty, an empty model cache), so the Space exports and quantizes the
embedding model on start; it needs torch, transformers and nncf in the interpreter.

Each run also reports which of torch, transformers, sentence_transformers and nncf the served process
holds (``tests/data/space_process``). ``--python`` runs the Space on another interpreter, e.g. the fresh
virtual environment ``benchmarks/space_install.py`` builds from the staged requirements.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    DEMO_QUESTIONS,
    ROOT,
    free_port,
    markdown_table,
    read_questions,
    wait_serving,
    write_result,
)
from tests.harness import stop

WATCH = ROOT / "tests" / "data" / "space_process"
HEAVY = ("torch", "transformers", "sentence_transformers", "nncf")


def stage_demo(out: Path) -> Path:
    """The demo creator staged into ``out`` (a fresh throwaway home for the index build)."""
    from clone.config import DEMO_CREATOR_DIR, load_settings
    from clone.deploy import stage_space

    with tempfile.TemporaryDirectory(prefix="space-bench-home-") as home:
        settings = load_settings({"CLONE_HOME": home, "CLONE_BACKEND": "extractive"}, dotenv=False)
        return stage_space(DEMO_CREATOR_DIR, out, settings, env={})


def space_env(home: Path, port: int, watch: Path, **extra: str) -> dict[str, str]:
    """The environment of a Space process: only the project's variables we set, 127.0.0.1, import watch on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLONE_") and k != "DATABASE_URL"}
    return {
        **env,
        "CLONE_HOME": str(home),
        "CLONE_BACKEND": "extractive",
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(WATCH),
        "CLONE_IMPORT_WATCH": str(watch),
        **extra,
    }


def loaded_modules(proc: subprocess.Popen, watch: Path, timeout: float = 20) -> set[str]:
    """The modules the served process holds now (it writes them on SIGUSR1)."""
    watch.unlink(missing_ok=True)
    proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while not watch.is_file():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("the served process did not list its modules")
        time.sleep(0.05)
    return set(watch.read_text(encoding="utf-8").split())


def first_chat(space: Path, question: str, *, python: str = sys.executable, **extra: str) -> dict:
    """Start the Space in ``space`` with an empty CLONE_HOME, ask ``question``; the timings and the reply."""
    from gradio_client import Client

    port = free_port()
    home = space / "data"
    watch = space / "modules.txt"
    log_path = space / "space.log"
    with log_path.open("w") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [python, "app.py"],
            cwd=space,
            env=space_env(home, port, watch, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            try:
                serving = wait_serving(proc, url, timeout=300)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}:\n{log_path.read_text()}") from None
            reply = Client(url, verbose=False).predict(message=question, api_name="/chat")
            answered = time.perf_counter() - start
            modules = loaded_modules(proc, watch)
        finally:
            stop(proc)
    return {
        "serving_s": serving,
        "first_chat_s": answered,
        "reply": reply,
        "heavy": sorted(m for m in modules if m.split(".")[0] in HEAVY),
    }


def run_once(staged: Path, question: str, **kwargs) -> dict:
    """One start of a fresh copy of ``staged``."""
    with tempfile.TemporaryDirectory(prefix="space-run-") as tmp:
        space = Path(tmp) / "space"
        shutil.copytree(staged, space)
        return first_chat(space, question, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-runs", type=int, default=1, help="starts that export at start, as before")
    parser.add_argument("--python", default=sys.executable, help="interpreter the Space runs on")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    question = read_questions(DEMO_QUESTIONS)[0]["question"]
    with tempfile.TemporaryDirectory(prefix="space-bench-") as tmp:
        staged = stage_demo(Path(tmp) / "staged")
        rows, times, heavy = [], [], set()
        for _ in range(max(1, args.runs)):
            result = run_once(staged, question, python=args.python)
            assert result["reply"]["text"] and result["reply"]["sources"], result["reply"]
            times.append(result["first_chat_s"])
            heavy |= {m.split(".")[0] for m in result["heavy"]}
            print(f"shipped model: first /chat after {result['first_chat_s']:.2f} s, heavy modules {result['heavy']}")
        rows.append(
            [
                "model shipped in model/ (now)",
                len(times),
                f"{statistics.median(times):.2f}",
                f"{min(times):.2f}-{max(times):.2f}",
                ", ".join(sorted(heavy)) or "none",
            ]
        )
        before = []
        with tempfile.TemporaryDirectory(prefix="space-bench-cache-") as cache:
            for _ in range(args.baseline_runs):
                shutil.rmtree(cache, ignore_errors=True)
                Path(cache).mkdir()
                result = run_once(
                    staged, question, python=sys.executable, CLONE_EMBEDDING_EXPORT="", CLONE_MODEL_CACHE=cache
                )
                before.append(result["first_chat_s"])
                print(f"export at start (before): first /chat after {result['first_chat_s']:.2f} s")
        if before:
            rows.append(
                [
                    "export + quantize at start (before)",
                    len(before),
                    f"{statistics.median(before):.2f}",
                    f"{min(before):.2f}-{max(before):.2f}",
                    ", ".join(sorted({m.split(".")[0] for m in result["heavy"]})) or "none",
                ]
            )
    table = markdown_table(
        ["Space start (empty CLONE_HOME)", "runs", "first /chat s (median)", "range s", "heavy modules loaded"], rows
    )
    note = (
        f"Now: the Space on `{args.python}`; before: on `{sys.executable}` (it needs torch, transformers and "
        "nncf to export). Target: median <= 10 s."
    )
    print(table)
    if not args.no_write:
        title = "A staged Space's first /chat from an empty CLONE_HOME"
        print(write_result("space_start", title, f"{table}\n\n{note}"))


if __name__ == "__main__":
    main()
