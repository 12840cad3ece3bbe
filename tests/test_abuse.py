"""No anonymous resource abuse: closed uploads and monitoring, per-client limits that hold across sessions
and routes, long tokens only, a wrong-token throttle, exports removed once downloaded, and a clear error
for every malformed argument. Through the real HTTP API of a launched app wherever a client would go."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from clone.config import PROJECT_ROOT, check_tokens
from clone.errors import ConfigError
from clone.gate import sweep_exports
from clone.inbox import InboxStore
from clone.ratelimit import RateLimit, client_address, client_key
from clone.survey import SurveyStore
from clone.ui import Screens, create_app
from tests.conftest import CREATOR_TOKEN, RESEARCH_TOKEN, make_settings, services_for
from tests.harness import gradio_call, serving_app

LIMITS = {
    "CLONE_CHAT_PER_MINUTE": "4",
    "CLONE_QUESTIONS_PER_HOUR": "3",
    "CLONE_PARTICIPANTS_PER_HOUR": "3",
    "CLONE_WRONG_TOKENS_PER_HOUR": "3",
}


def demo_app(tmp_path_factory, demo_index_home, name: str, **env: str):
    """``python app.py`` for the demo creator with both tokens and ``env``; yields (url, home, log path)."""
    home = tmp_path_factory.mktemp(name)
    shutil.copytree(demo_index_home / "index", home / "index")
    log = home / "server.log"
    tokens = {"CLONE_RESEARCH_TOKEN": RESEARCH_TOKEN, "CLONE_CREATOR_TOKEN": CREATOR_TOKEN}
    with serving_app(home, log, **tokens, CLONE_BACKEND="extractive", **env) as url:
        yield url, home, log


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_index_home):
    """``python app.py`` with small limits; yields (url, home, log path)."""
    yield from demo_app(tmp_path_factory, demo_index_home, "abuse-home", **LIMITS)


def call(base: str, name: str, data: list, session: str | None = None) -> tuple[str, object]:
    """("complete", data) or ("error", message) of one REST call, as a script would make it."""
    return gradio_call(base, name, data, session)


def status(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None) -> int:
    request = urllib.request.Request(url, body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


# --- uploads and monitoring ----------------------------------------------------------


def test_uploads_are_refused_and_nothing_is_kept(server):
    url, home, _ = server
    boundary = "----clone-test"
    payload = b"x" * 64_000  # small enough to be sent whole before the refusal closes the connection
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    assert status(f"{url}gradio_api/upload", "POST", body, headers) == 403
    assert not [p for p in files_under(home / "gradio-tmp") if p.name == "big.bin"]


@pytest.mark.parametrize("path", ["monitoring", "monitoring/summary"])
def test_monitoring_is_closed(server, path):
    url, _, _ = server
    assert status(f"{url}{path}") == 403


# --- per-client limits across sessions and routes -----------------------------------


def test_chat_limit_holds_across_sessions_over_the_api(server):
    url, _, _ = server
    results = [call(url, "chat", ["How big is your balcony?"]) for _ in range(6)]
    assert [event for event, _ in results[:4]] == ["complete"] * 4
    event, message = results[4]
    assert event == "error" and "Too many messages" in message and "try again in" in message


def test_inbox_limit_holds_across_sessions_over_the_rest_route(server):
    url, home, _ = server
    results = [call(url, "chat_leave_question", [f"Question {n} for the creator?", False, "", None]) for n in range(5)]
    assert [e for e, _ in results] == ["complete"] * 3 + ["error"] * 2
    assert "Too many questions" in results[3][1]
    assert len(InboxStore(home / "survey.sqlite3").open_questions()) == 3


def test_new_participants_are_limited_per_client(server):
    url, home, _ = server
    results = [call(url, "consent", [True, False, None]) for _ in range(5)]
    # Over the limit the consent step stays and says so in place (a survey step never ends in an error).
    assert [e for e, _ in results] == ["complete"] * 5
    said = [json.dumps(r) for _, r in results]
    assert not any("Too many" in m for m in said[:3]) and all("Too many new participants" in m for m in said[3:])
    assert len(SurveyStore(home / "survey.sqlite3").assignments()) == 3


def test_wrong_tokens_are_throttled_and_logged_in_one_line(server):
    url, _, log = server
    before = log.read_text()
    wrong = [call(url, "inbox", [f"guess-{n}"]) for n in range(3)]
    assert all(e == "error" and "not right" in m for e, m in wrong)
    # Over the limit, even the right token is refused for a while: guessing gets nowhere.
    event, message = call(url, "inbox", [CREATOR_TOKEN])
    assert event == "error" and "Too many wrong tokens" in message
    time.sleep(0.5)
    logged = log.read_text()[len(before) :]
    lines = logged.splitlines()
    assert sum(line.startswith("wrong CLONE_CREATOR_TOKEN for the inbox") for line in lines) == 3
    assert sum("locked out" in line for line in lines) == 1
    assert "Traceback" not in logged and "guess-" not in logged and CREATOR_TOKEN not in logged


def test_limits_are_shared_by_the_ui_and_the_api(handlers_with_limits):
    h = handlers_with_limits
    fan = SimpleNamespace(client=SimpleNamespace(host="203.0.113.7"), headers={})
    other = SimpleNamespace(client=SimpleNamespace(host="203.0.113.8"), headers={})
    for _ in range(2):
        h.chat.chat_api("How big is your balcony?", request=fan)
    with pytest.raises(gr.Error, match="Too many messages"):
        list(h.chat.respond("And your cat?", [], None, None, request=fan))
    assert list(h.chat.respond("And your cat?", [], None, None, request=other))  # another client is not held up


@pytest.fixture
def handlers_with_limits(demo_clone, settings):
    limited = replace(settings, chat_per_minute=2)
    return Screens.of(services_for(demo_clone, limited))


def test_the_limiter_keeps_no_address_and_stays_bounded():
    limit = RateLimit(2, 60, max_clients=100)
    for n in range(1000):
        limit.hit(client_key(f"198.51.100.{n % 256}.{n}"))
    assert len(limit) == 100
    assert all("198.51" not in key for key in limit._hits)
    assert client_key("198.51.100.1") != client_key("198.51.100.2")


def test_forwarded_addresses_count_only_behind_a_trusted_proxy():
    headers = {"x-forwarded-for": "6.6.6.6, 203.0.113.9"}  # the first one is whatever the client wrote
    assert client_address("10.0.0.1", headers, proxy_hops=0) == "10.0.0.1"
    assert client_address("10.0.0.1", headers, proxy_hops=1) == "203.0.113.9"
    assert client_address("10.0.0.1", {}, proxy_hops=1) == "10.0.0.1"


# --- tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["CLONE_CREATOR_TOKEN", "CLONE_RESEARCH_TOKEN"])
def test_short_tokens_are_refused_at_start(tmp_path, name):
    settings = make_settings(tmp_path, **{name: "x" * 15})
    with pytest.raises(ConfigError, match=f"{name} is 15 characters long; use at least 16"):
        create_app(settings)
    check_tokens(make_settings(tmp_path, **{name: "x" * 16}))  # 16 is enough; empty switches the feature off
    check_tokens(make_settings(tmp_path))


@pytest.mark.slow
def test_the_app_will_not_start_with_a_short_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"CLONE_HOME": str(tmp_path), "CLONE_CREATOR_TOKEN": "a", "CLONE_BACKEND": "extractive"}
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "Error: CLONE_CREATOR_TOKEN is 1 characters long" in done.stderr


# --- exports ------------------------------------------------------------------------


def test_an_export_is_removed_once_downloaded(roomy_server):
    url, _, _ = roomy_server
    event, data = call(url, "export_responses", [RESEARCH_TOKEN])
    assert event == "complete"
    files = data[0]
    assert {Path(f["path"]).name for f in files} >= {"study-wide.csv", "study-long.csv"}
    wide = next(f for f in files if f["path"].endswith("study-wide.csv"))
    link = wide["url"] or f"{url}gradio_api/file={urllib.parse.quote(wide['path'])}"
    with urllib.request.urlopen(link, timeout=30) as response:
        assert response.read().startswith(b"participant_id")
    deadline = time.monotonic() + 5  # removed once the response has gone out, a moment after the client read it
    while Path(wide["path"]).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(wide["path"]).exists(), link
    assert status(link) in (403, 404)


def test_exports_nobody_downloads_are_removed_after_the_set_time(handlers_with_limits, tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio-tmp"))
    h = handlers_with_limits
    h.services.settings = replace(h.services.settings, export_keep_minutes=0.01)
    paths = [Path(p) for p in h.research.export_files(RESEARCH_TOKEN)]
    assert all(p.exists() for p in paths)
    deadline = time.monotonic() + 10
    while any(p.exists() for p in paths) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(p.exists() for p in paths)


def test_the_sweep_keeps_fresh_exports_and_other_files(tmp_path):
    (tmp_path / "abc").mkdir()
    old, fresh, other = tmp_path / "abc" / "study-wide.csv", tmp_path / "study-long.csv", tmp_path / "avatar.png"
    for p in (old, fresh, other):
        p.write_text("x")
    os.utime(old, (time.time() - 700, time.time() - 700))
    assert sweep_exports([tmp_path], 600) == 1
    assert not old.exists() and not (tmp_path / "abc").exists() and fresh.exists() and other.exists()


# --- malformed arguments ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("chat", [5], "must be text"),
        ("chat", [["a", "b"]], "must be text"),
        ("chat", ["\ud800"], "not valid text"),
        ("verify", [5, "receipt"], "must be text"),
        ("verify", ["text", {"a": 1}], "must be text"),
        ("verify", ["\udfff", "receipt"], "not valid text"),
        ("chat_leave_question", ["\ud800?", False, "", None], "not valid text"),
        ("chat_leave_question", ["Fine?", True, "\ud800@x.org", None], "not valid text"),
        ("delete_answers", ["\udc00"], "not valid text"),
        ("consent", ["\ud800", False, None], "Please choose I agree"),
        # The default study asks 3 questions before the chat: /submit_pre takes their 3 answers (and the session).
        ("submit_pre", [1, 2], "/submit_pre takes 3 arguments"),
        ("submit_pre", [None, *["\ud800"] * 3], "is not one of the choices [1, 2, 3, 4, 5, 6, 7]"),
        ("submit_pre", [None, *[3] * 3], "agree to take part first"),
        ("inbox", [12345], "not right"),
        ("export_responses", ["\ud800"], "not right"),
    ],
)
def test_malformed_arguments_get_a_clear_error_and_no_traceback(roomy_server, name, data, message):
    url, _, log = roomy_server
    before = log.read_text()
    event, answer = call(url, name, data)
    if name in ("consent", "submit_pre") and event == "complete":  # the survey says it in place: no dead end
        answer = json.dumps(answer)
    else:
        assert event == "error"
    assert message in answer
    time.sleep(0.3)
    assert "Traceback" not in log.read_text()[len(before) :]


def test_none_and_huge_chat_messages_get_answers_not_errors(roomy_server):
    url, _, log = roomy_server
    before = log.read_text()
    assert call(url, "chat", [None])[1][0]["reason"] == "empty"
    assert call(url, "chat", ["x" * 100_000])[1][0]["reason"] == "too_long"
    assert "larger than 1,000,000 bytes" in call(url, "chat", ["x" * 2_000_000])[1]
    assert "Traceback" not in log.read_text()[len(before) :]


@pytest.fixture(scope="module")
def roomy_server(tmp_path_factory, demo_index_home):
    """The app with limits high enough that only the arguments decide; yields (url, home, log path)."""
    yield from demo_app(tmp_path_factory, demo_index_home, "roomy-home", CLONE_WRONG_TOKENS_PER_HOUR="1000")
