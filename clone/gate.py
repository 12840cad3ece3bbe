"""What the web server refuses or removes before Gradio sees a request.

* Uploads are closed: the app has no file inputs, so ``/gradio_api/upload`` (and Gradio's audio
  ``process_recording``) answer 403 instead of keeping any file of any size from anyone.
* ``/monitoring`` (Gradio's traffic dashboard and its public summary) is closed.
* A call to an event (``/gradio_api/call/<name>``, ``/gradio_api/queue/join``) whose body is not JSON, is
  larger than :data:`MAX_BODY`, or has too few arguments gets a one-line JSON error (4xx) here, instead of
  a traceback in Gradio's log and an empty error for the client.
* A study export served by Gradio (``/gradio_api/file=…/study-*``) is deleted once it has been
  downloaded; :func:`sweep_exports` removes the ones nobody downloaded after ``CLONE_EXPORT_KEEP_MINUTES``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from gradio.utils import get_upload_folder

log = logging.getLogger(__name__)

# The name every study export file has (see clone.survey.export.write_study_export).
EXPORT_PREFIX = "study-"
_CLOSED = {
    re.compile(r"(^|/)gradio_api/(upload|upload_progress|process_recording)/?$"): (
        "File uploads are switched off on this app: nothing here takes a file."
    ),
    re.compile(r"(^|/)monitoring(/.*)?$"): "Monitoring is switched off on this app.",
}
_FILE = re.compile(r"(^|/)gradio_api/file=(?P<path>.+)$")
_CALL = re.compile(r"(^|/)gradio_api/(call/(?P<name>[^/]+)|queue/join)/?$")
_FINE = object()
# The largest request body an event call may have: far above the longest message (CLONE_MAX_MESSAGE_CHARS).
MAX_BODY = 1_000_000


def export_file(served: str) -> Path | None:
    """The study export a ``/file=`` path points at, if it is one inside Gradio's cache folder."""
    try:
        path = Path(served).resolve()
        cache = Path(get_upload_folder()).resolve()
    except (OSError, ValueError):
        return None
    if path.name.startswith(EXPORT_PREFIX) and path.is_relative_to(cache):
        return path
    return None


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
        if path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()  # Gradio's per-file hash folder
    except OSError as exc:
        log.warning("could not remove the export %s: %s", path.name, exc.__class__.__name__)


class Gate:
    """ASGI middleware: closed routes answer 403; a study export is removed after one full download."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        for pattern, why in _CLOSED.items():
            if pattern.search(path):
                await _plain(send, 403, why)
                return
        call = _CALL.search(path) if scope.get("method") == "POST" else None
        if call:
            await self._checked_call(scope, receive, send, call["name"])
            return
        match = _FILE.search(path)
        export = export_file(match["path"]) if match and scope.get("method") == "GET" else None
        if export is None:
            await self.app(scope, receive, send)
            return
        status = {"code": 0, "done": False}

        async def watch(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                status["done"] = True
            await send(message)

        await self.app(scope, receive, watch)
        if status["code"] == 200 and status["done"]:
            _remove(export)

    async def _checked_call(self, scope, receive, send, name: str | None) -> None:
        """Read the call's body (at most :data:`MAX_BODY`), check it, then hand it on unchanged."""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                await _json(send, 413, f"The request is larger than {MAX_BODY:,} bytes.")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = call_problem(scope.get("app"), name, body)
        if problem:
            log.info("refused a malformed call to %s: %s", name or "queue/join", problem)
            await _json(send, 422, problem)
            return
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def call_problem(app, name: str | None, body: bytes) -> str | None:
    """What is wrong with an event call's body, in words for the caller; None when Gradio can take it."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return 'The body must be JSON, like {"data": [...]}.'
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        return 'The body must be a JSON object with a list of arguments under "data".'
    blocks = getattr(app, "blocks", None) if app is not None else None
    fns = getattr(blocks, "fns", None) or {}
    if name is not None:
        fn = next((f for f in fns.values() if f.api_name == name), None)
    else:
        index = payload.get("fn_index")
        fn = fns.get(index) if isinstance(index, int) and not isinstance(index, bool) else None
    if fn is None:
        return None  # Gradio answers unknown endpoints itself, without a traceback
    data = payload["data"]
    if name is not None:
        # /call/<name> takes the arguments without the session-state ones (Gradio fills those in), or all of them.
        api_inputs = [block for block in fn.inputs if not getattr(block, "skip_api", False)]
        if len(data) == len(api_inputs) != len(fn.inputs):
            given = iter(data)
            data = [None if getattr(block, "skip_api", False) else next(given) for block in fn.inputs]
        elif len(data) < len(fn.inputs):
            return f'/{name} takes {len(api_inputs)} arguments in "data"; {len(data)} were given.'
    elif len(data) < len(fn.inputs):
        return f'This event takes {len(fn.inputs)} arguments in "data"; {len(data)} were given.'
    # Gradio refuses a value outside a Radio's or Dropdown's choices too, but with a traceback in the log.
    for component, value in zip(fn.inputs, data, strict=False):
        choices = getattr(component, "choices", None)
        if not choices or value is None or getattr(component, "allow_custom_value", False):
            continue
        allowed = [choice[1] if isinstance(choice, tuple | list) else choice for choice in choices]
        values = value if isinstance(value, list) else [value]
        wrong = next((v for v in values if v not in allowed), _FINE)
        if wrong is not _FINE:
            return f"{wrong!r} is not one of the choices {allowed} (or null) for /{fn.api_name or 'this event'}."
    return None


async def _json(send, code: int, text: str) -> None:
    body = json.dumps({"error": text}).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _plain(send, code: int, text: str) -> None:
    body = text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def sweep_exports(folders: Iterable[Path], keep_seconds: float, now: float | None = None) -> int:
    """Remove study export files older than ``keep_seconds`` under ``folders``; returns how many went."""
    now = time.time() if now is None else now
    removed = 0
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in list(folder.rglob(f"{EXPORT_PREFIX}*")):
            try:
                old = path.is_file() and now - path.stat().st_mtime >= keep_seconds
            except OSError:
                continue
            if old:
                _remove(path)
                removed += 1
    return removed


def sweep_later(folders: Iterable[Path], keep_seconds: float) -> threading.Timer:
    """Run :func:`sweep_exports` once ``keep_seconds`` from now, in a daemon thread."""
    folders = list(folders)
    timer = threading.Timer(keep_seconds + 0.5, sweep_exports, (folders, keep_seconds))
    timer.daemon = True
    timer.start()
    return timer
