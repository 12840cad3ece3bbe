"""One harness for the tests and the benchmarks: start a process that serves the app on 127.0.0.1, wait until
it answers, stop it; and a light client for Gradio's REST protocol (a POST, then the server-sent result).

Servers bind 127.0.0.1 only. Benchmarks import this module too (``python -m benchmarks.NAME`` from the root).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from clone import rest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(home: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment for ``python app.py`` on 127.0.0.1:``port`` with its state under ``home``.

    The offline backend and no database server unless ``extra`` says otherwise: a test server never
    writes to a database the machine happens to have set.
    """
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return env | {
        "CLONE_HOME": str(home),
        "CLONE_BACKEND": "extractive",
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        **extra,
    }


def wait_until_serving(proc: subprocess.Popen, url: str, log: Path | None = None, timeout: float = 180) -> float:
    """Seconds until ``url`` answers HTTP; fails with the server's log if it exits or takes too long."""
    start = time.perf_counter()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early (code {proc.returncode}):\n{_tail(log)}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return time.perf_counter() - start
        except OSError:
            if time.perf_counter() - start > timeout:
                stop(proc)
                raise RuntimeError(f"the server did not answer within {timeout:g} s:\n{_tail(log)}") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server (and wait for it); kill it if it does not stop within 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def running(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    cwd: Path = PROJECT_ROOT,
    timeout: float = 180,
    port: int | None = None,
) -> Iterator[str]:
    """Run ``command`` (a server listening on ``port``, default ``env``'s ``GRADIO_SERVER_PORT``), yield its URL
    once it answers, stop it afterwards. Its output goes to ``log_path``."""
    url = f"http://127.0.0.1:{port or env['GRADIO_SERVER_PORT']}/"
    with Path(log_path).open("w") as log:
        proc = subprocess.Popen(list(command), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(proc, url, Path(log_path), timeout)
            yield url
        finally:
            stop(proc)


@contextmanager
def serving_app(home: Path, log_path: Path, **env: str) -> Iterator[str]:
    """``python app.py`` on a free port of 127.0.0.1 with ``CLONE_HOME=home``; yields its URL, stops it after."""
    with running([sys.executable, "app.py"], env=app_env(home, free_port(), **env), log_path=log_path) as url:
        yield url


def gradio_call(
    base: str, name: str, data: list, session: str | None = None, timeout: float = 60
) -> tuple[str, object]:
    """One call over Gradio's REST protocol: POST the inputs to ``/gradio_api/call/NAME``, read the event stream.

    Returns ("complete", outputs) or ("error", message). Each call is a new session unless ``session`` is given,
    as a script would do. Far lighter than gradio_client, so load tests measure the server, not the client.
    """
    try:
        result = rest.call(base, name, data, session=session or uuid.uuid4().hex, timeout=timeout)
    except urllib.error.HTTPError as err:  # refused before it reached the queue
        return "error", json.load(err)["error"]
    if result is None:
        raise AssertionError(f"no result from {name}")
    event, payload = result
    return event, (payload or {}).get("error") if event == "error" else payload


def _tail(log: Path | None, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log is not None and log.is_file() else "(no log)"


# One app replica: its own process, engine and connection pool. It waits for the go file so that all replicas
# assign at the same moment, then takes slots from 4 threads and prints each participant id it got.
_REPLICA = """
import os, sys, threading, time
from clone.survey import SurveyStore, load_study
study = load_study(sys.argv[4]) if sys.argv[4] else load_study()
store = SurveyStore(sys.argv[1])
print("ready", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.01)
lock = threading.Lock()
def work():
    for _ in range(int(sys.argv[3])):
        a = store.assign(study, consent_version="1", transcript_opt_in=False, persona_id="p", app_version="1",
                         backend="extractive")
        with lock:
            print(a.participant_id, flush=True)
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def race_replicas(database: str | Path, folder: Path, per_thread: int, study: Path | None = None) -> list[list[str]]:
    """Two replica processes assigning participants of ``study`` (default: the default study) at the same
    moment, 4 threads of ``per_thread`` each; the participant ids each replica got."""
    go = folder / "go"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    argv = [sys.executable, "-c", _REPLICA, str(database), str(go), str(per_thread), str(study or "")]
    replicas = [subprocess.Popen(argv, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    for proc in replicas:
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    got = []
    for proc in replicas:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        got.append(out.split())
    return got
