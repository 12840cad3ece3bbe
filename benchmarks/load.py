"""Load test: N simulated fans chat and take the survey against the running app, over Gradio's HTTP API.

    python -m benchmarks.load [--fans 50] [--ramp 25 50 100 200] [--turns 3] [--think 1.0]
                              [--replicas 2 --database-url postgresql+psycopg://clone:clone@127.0.0.1:5432/clone_test]

Starts ``python app.py`` (one process per replica) on free ports of 127.0.0.1 only, on the offline
default backend (``extractive``) with the bundled demo creator, ``CLONE_HOME`` in a temp folder. Each
fan is an asyncio task with its own Gradio session (``session_hash``), sticky to one replica
(round-robin by fan number). A fan gives consent (``/consent``), answers the pre-chat items
(``/submit_pre``), asks ``--turns`` questions through ``/chat`` (demo questions, one in five off
topic), presses "I have finished chatting" (``finish_chat``, the browser's step) and submits the
post-chat items (``/submit_post``), with a think time between steps. Every call is a POST to
``/gradio_api/call/<name>`` and a read of its server-sent result, as any HTTP client would do it.

Reported per level: p50/p95/p99 reply latency of ``/chat``, throughput (replies per second of wall
time), errors (HTTP failures, error events, timeouts, malformed replies), lost survey rows
(submissions the app acknowledged with a completion code whose participant row or item answers are
missing from the database afterwards) and peak memory (RSS of the app processes and their children,
sampled every 0.2 s). A ramp stops at the first level that misses the targets and names the highest
level that met them. Everything is bounded: fans, turns, a per-call timeout and a per-level deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from benchmarks.common import (
    DEMO_QUESTIONS,
    RESULTS,
    demo_home,
    free_port,
    machine,
    markdown_table,
    percentile,
    read_questions,
    start_app,
    stop_app,
    tree_rss_mb,
    wait_serving,
    write_result,
)
from clone.survey import load_study
from clone.survey.instruments import DEFAULT_STUDY

TARGET_P95_S = 1.0
CALL_TIMEOUT_S = 60.0
OFF_TOPIC = [
    "How do I reverse a linked list in Python?",
    "What's the capital of Australia?",
    "Can you recommend a good laptop for gaming?",
    "Who won the football world cup in 1998?",
    "What is the best way to learn the piano as an adult?",
    "How do interest rates affect house prices?",
    "Explain quantum entanglement simply.",
    "What should I cook for dinner tonight with pasta and tuna?",
]
CODE = re.compile(r"completion code is \*\*(p[0-9a-f]{16})\*\*")


@dataclass
class Stats:
    """What one level of fans measured."""

    chat_s: list[float] = field(default_factory=list)
    survey_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)  # acknowledged completions


class CallError(Exception):
    """A call that did not complete: HTTP failure, error event, timeout or malformed result."""


async def call(http: httpx.AsyncClient, base: str, name: str, data: list, session: str) -> list:
    """One API call: POST the inputs, then read the server-sent events until the result."""
    try:
        r = await http.post(f"{base}gradio_api/call/{name}", json={"data": data, "session_hash": session})
        r.raise_for_status()
        event_id = r.json()["event_id"]
        event = None
        async with http.stream("GET", f"{base}gradio_api/call/{name}/{event_id}") as stream:
            stream.raise_for_status()
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    payload = json.loads(line[5:])
                    if event == "error":
                        raise CallError(f"{name}: {payload.get('error') if isinstance(payload, dict) else payload}")
                    return payload
    except httpx.HTTPError as exc:
        raise CallError(f"{name}: {type(exc).__name__} {exc}") from None
    raise CallError(f"{name}: the stream ended without a result")


async def fan(
    n: int, fans: int, bases: list[str], args, stats: Stats, questions: list[str], study, deadline: float
) -> None:
    """One fan: consent, pre-chat items, a few chat turns, finish, post-chat items."""
    rng = random.Random(f"{args.seed}-{fans}-{n}")
    base = bases[n % len(bases)]  # sticky: a Gradio session lives in one process
    session = f"fan{n:05d}-{uuid.uuid4().hex}"  # unique across levels and runs: no state carried over
    pre = [
        c.question.item.attention or rng.randint(c.instrument.scale.min, c.instrument.scale.max)
        for c in study.columns("pre")
    ]
    post = [
        c.question.item.attention or rng.randint(c.instrument.scale.min, c.instrument.scale.max)
        for c in study.columns("post")
    ]
    demographics = [rng.choice([None, *choices]) for choices in study.demographics.values()]

    async def think() -> None:
        await asyncio.sleep(args.think * rng.uniform(0.5, 1.5))

    async def step(name: str, data: list) -> list:
        start = time.perf_counter()
        result = await asyncio.wait_for(call(http, base, name, data, session), CALL_TIMEOUT_S)
        (stats.chat_s if name == "chat" else stats.survey_s).append(time.perf_counter() - start)
        return result

    await asyncio.sleep(rng.uniform(0, args.spawn))  # fans arrive over a few seconds, not all at one instant
    async with httpx.AsyncClient(timeout=CALL_TIMEOUT_S) as http:
        try:
            await step("consent", [True, rng.random() < 0.3])
            await think()
            await step("submit_pre", pre)
            for _ in range(args.turns):
                if time.monotonic() > deadline:
                    raise CallError("level deadline reached")
                await think()
                question = rng.choice(OFF_TOPIC) if rng.random() < 0.2 else rng.choice(questions)
                (reply,) = await step("chat", [question])
                if not isinstance(reply, dict) or not reply.get("text") or reply.get("ai_generated") is not True:
                    raise CallError(f"chat: malformed reply {str(reply)[:200]}")
            await think()
            await step("finish_chat", [])
            await think()
            result = await step("submit_post", post + demographics)
            found = CODE.search(json.dumps(result))
            if not found:
                raise CallError(f"submit_post: no completion code in {str(result)[:200]}")
            stats.codes.append(found.group(1))
        except (CallError, TimeoutError) as exc:
            stats.errors.append(str(exc) or type(exc).__name__)


def lost_rows(database: str | Path, codes: list[str], study) -> int:
    """Acknowledged completions whose participant row or item answers are missing from the database."""
    from sqlalchemy import bindparam, create_engine, text

    from clone.db import database_url

    if not codes:
        return 0
    expected = len(study.columns("pre")) + len(study.columns("post"))
    engine = create_engine(database_url(database))
    try:
        with engine.connect() as db:
            done = {
                pid
                for (pid,) in db.execute(
                    text(
                        "SELECT participant_id FROM participants WHERE participant_id IN :ids "
                        "AND pre_at IS NOT NULL AND post_at IS NOT NULL"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"ids": codes},
                )
            }
            answers = dict(
                db.execute(
                    text(
                        "SELECT participant_id, COUNT(*) FROM item_answers WHERE participant_id IN :ids "
                        "GROUP BY participant_id"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"ids": codes},
                ).all()
            )
    finally:
        engine.dispose()
    return sum(1 for c in codes if c not in done or answers.get(c, 0) != expected)


class MemorySampler(threading.Thread):
    """Peak RSS of the app processes (children included), sampled every 0.2 s."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids, self.peak, self.stopped = pids, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            self.peak = max(self.peak, tree_rss_mb(self.pids))


async def level(fans: int, bases: list[str], args, questions, study, pids: list[int]) -> dict:
    """Run ``fans`` fans at once; return the level's measurements."""
    stats = Stats()
    sampler = MemorySampler(pids)
    sampler.peak = tree_rss_mb(pids)
    sampler.start()
    start = time.perf_counter()
    deadline = time.monotonic() + args.level_timeout
    tasks = [fan(n, fans, bases, args, stats, questions, study, deadline) for n in range(fans)]
    await asyncio.wait_for(asyncio.gather(*tasks), args.level_timeout + CALL_TIMEOUT_S)
    wall = time.perf_counter() - start
    sampler.stopped.set()
    sampler.join()
    lost = lost_rows(args.database, stats.codes, study)
    chat = stats.chat_s or [float("nan")]
    result = {
        "fans": fans,
        "replicas": len(bases),
        "replies": len(stats.chat_s),
        "p50_s": percentile(chat, 50),
        "p95_s": percentile(chat, 95),
        "p99_s": percentile(chat, 99),
        "max_s": max(chat),
        "survey_p95_s": percentile(stats.survey_s, 95) if stats.survey_s else float("nan"),
        "replies_per_s": len(stats.chat_s) / wall,
        "errors": len(stats.errors),
        "error_examples": sorted(set(stats.errors))[:5],
        "completed": len(stats.codes),
        "lost_rows": lost,
        "peak_rss_mib": sampler.peak,
        "wall_s": wall,
    }
    result["meets_targets"] = result["errors"] == 0 and result["p95_s"] <= TARGET_P95_S and lost == 0
    return result


def api_study(folder: Path) -> Path:
    """The bundled study with ``min_turns: 0``: fans here chat through ``/chat``, which counts no participant's turns
    (the browser's chat does), so the study's minimum would keep every fan from finishing."""
    shutil.copytree(DEFAULT_STUDY.parent, folder)
    spec = yaml.safe_load((folder / "study.yaml").read_text(encoding="utf-8"))
    (folder / "study.yaml").write_text(yaml.safe_dump(spec | {"min_turns": 0}, sort_keys=False), encoding="utf-8")
    return folder / "study.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fans", type=int, default=50, help="concurrent fans (ignored with --ramp)")
    parser.add_argument("--ramp", type=int, nargs="*", help="levels to try in order, e.g. 25 50 100 200")
    parser.add_argument("--turns", type=int, default=3, help="chat turns per fan")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time between a fan's steps, s")
    parser.add_argument("--spawn", type=float, default=2.0, help="fans arrive spread over this many seconds")
    parser.add_argument("--replicas", type=int, default=1, help="app processes, fans split sticky round-robin")
    parser.add_argument("--database-url", default="", help="DATABASE_URL shared by the replicas (default: SQLite)")
    parser.add_argument("--level-timeout", type=float, default=300, help="bound on one level, s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default="", help="result file name (default: load or load_<replicas>x)")
    args = parser.parse_args()
    levels = args.ramp or [args.fans]
    study = load_study()
    questions = [q["question"] for q in read_questions(DEMO_QUESTIONS)]
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="clone-load-") as tmp:
        home = demo_home(Path(tmp) / "home")
        args.database = args.database_url or home / "survey.sqlite3"
        extra = {"DATABASE_URL": args.database_url} if args.database_url else {}
        extra["CLONE_STUDY"] = str(api_study(Path(tmp) / "study"))
        ports = [free_port() for _ in range(args.replicas)]
        procs = [start_app(home, port, **extra) for port in ports]
        bases = [f"http://127.0.0.1:{port}/" for port in ports]
        try:
            startup = [wait_serving(p, b) for p, b in zip(procs, bases, strict=True)]
            print(f"{args.replicas} replica(s) up in {max(startup):.1f} s", flush=True)
            for fans in levels:
                result = asyncio.run(level(fans, bases, args, questions, study, [p.pid for p in procs]))
                results.append(result)
                print(
                    json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}), flush=True
                )
                if not result["meets_targets"] and args.ramp:
                    break
        finally:
            for p in procs:
                stop_app(p)
    passing = [r["fans"] for r in results if r["meets_targets"]]
    rows = [
        [
            r["fans"],
            r["replicas"],
            r["replies"],
            f"{r['p50_s'] * 1000:.0f}",
            f"{r['p95_s'] * 1000:.0f}",
            f"{r['p99_s'] * 1000:.0f}",
            f"{r['replies_per_s']:.1f}",
            r["errors"],
            f"{r['completed']}/{r['fans']}",
            r["lost_rows"],
            f"{r['peak_rss_mib']:.0f}",
            "yes" if r["meets_targets"] else "**no**",
        ]
        for r in results
    ]
    header = [
        "fans",
        "replicas",
        "replies",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "replies/s",
        "errors",
        "surveys done",
        "lost rows",
        "peak RSS MiB",
        "meets targets",
    ]
    store = "PostgreSQL (DATABASE_URL)" if args.database_url.startswith("postgres") else "SQLite"
    body = (
        f"{markdown_table(header, rows)}\n\n"
        f"Backend `extractive`, demo creator, {args.turns} chat turns per fan (one in five off topic), think time "
        f"{args.think:g} s mean, fans arriving over {args.spawn:g} s; survey store: {store}. "
        f"Targets: 0 errors, p95 reply <= {TARGET_P95_S:g} s, 0 lost rows. "
        f"Highest level meeting them: {max(passing) if passing else 'none'}."
    )
    name = args.name or ("load" if args.replicas == 1 else f"load_{args.replicas}x")
    print(body)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(
            {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()}, "levels": results}, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    print(write_result(name, f"Load: simulated fans against the running app ({args.replicas} replica(s))", body))


if __name__ == "__main__":
    main()
