"""Concurrent fans: the pipeline answers the same in threads as one at a time, and one fan's slow
backend does not hold up other fans (the app's queue settings in ``build_app``)."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from clone.pipeline import Clone
from tests.chat_server import ChatServer
from tests.harness import gradio_call, serving_app

OFF_TOPIC = ["How do I reverse a linked list in Python?", "What's the capital of Australia?"]
# More than the old limit of 4 per endpoint: with it, the fifth fan waited for a slow reply to end.
SLOW_FANS = 6


def essence(reply) -> tuple:
    """What a fan reads: text, sources and flags (receipts differ by their time stamps)."""
    return reply.text, [s.path for s in reply.sources], reply.abstained, reply.refused, reply.reason


def test_threaded_answers_equal_sequential_answers(demo_clone, settings, demo_questions):
    questions = [q["question"] for q in demo_questions] + OFF_TOPIC
    # Threads first, on a fresh backend: its sentence-embedding cache fills while threads race.
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda q: essence(demo_clone.answer(q)), questions * 2))
    fresh = Clone.from_settings(settings)
    sequential = [essence(fresh.answer(q)) for q in questions]
    assert threaded == sequential * 2


def call(base: str, name: str, data: list, session: str, timeout: float = 60) -> list:
    """The outputs of one call over Gradio's HTTP API (a failed call fails the test)."""
    event, outputs = gradio_call(base, name, data, session, timeout)
    assert event == "complete", outputs
    return outputs


@pytest.fixture
def slow_app(tmp_path, demo_index_home):
    """The app on the ``openai`` backend, whose server stalls every reply until the test releases it."""
    server = ChatServer().start()
    server.mode = "stall"
    home = tmp_path / "home"
    shutil.copytree(demo_index_home / "index", home / "index")
    try:
        with serving_app(
            home,
            tmp_path / "server.log",
            CLONE_BACKEND="openai",
            CLONE_OPENAI_BASE_URL=f"{server.url}/v1",
            CLONE_BACKEND_TIMEOUT="30",
        ) as url:
            yield url, server
    finally:
        server.stop()


def test_a_slow_backend_does_not_block_other_fans(slow_app):
    url, server = slow_app
    with ThreadPoolExecutor(max_workers=SLOW_FANS) as pool:
        slow = [pool.submit(call, url, "chat", ["How big is your balcony?"], f"slow-fan-{n}") for n in range(SLOW_FANS)]
        # Every slow fan's question reaches the stalled model at once (the model stalls for 10 s: with too
        # small a limit, the fifth fan would wait for the first to give up).
        deadline = time.monotonic() + 5
        while len(server.requests) < SLOW_FANS:
            assert time.monotonic() < deadline, f"only {len(server.requests)} of {SLOW_FANS} reached the backend"
            time.sleep(0.1)
        # Another fan: a question that needs no model, and the survey's first step.
        start = time.monotonic()
        (reply,) = call(url, "chat", [OFF_TOPIC[0]], "other-fan", timeout=10)
        call(url, "consent", [True, False], "other-fan", timeout=10)
        elapsed = time.monotonic() - start
        assert reply["abstained"] is True
        assert not any(f.done() for f in slow)  # the slow replies really were still pending
        assert elapsed < 5
        server.released.set()
        for f in slow:  # the stalled model then hangs up: each slow fan gets the polite apology
            assert f.result(timeout=60)[0]["reason"] == "backend_error"
