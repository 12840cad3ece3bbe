"""What the web server refuses or removes before Gradio sees a request.

* Uploads are closed: the app has no file inputs, so ``/gradio_api/upload`` (and Gradio's audio
  ``process_recording``) answer 403 instead of keeping any file of any size from anyone.
* ``/monitoring`` (Gradio's traffic dashboard and its public summary) is closed.
* A study export served by Gradio (``/gradio_api/file=…/study-*``) is deleted once it has been
  downloaded; :func:`sweep_exports` removes the ones nobody downloaded after ``CLONE_EXPORT_KEEP_MINUTES``.
"""

from __future__ import annotations

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
        for path in folder.rglob(f"{EXPORT_PREFIX}*"):
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
