"""The kill switch: the creator switches their clone off, and a running app notices within a second.

The clone is revoked while any of these holds:

- the setting ``CLONE_REVOKED=true`` (a Space can be switched off from its settings page);
- ``CLONE_HOME/revoked.json`` exists (the running app's own data folder);
- ``<creator folder>/revoked.json`` exists (it travels with the folder, so a clone revoked before it
  is deployed stays off once deployed).

``python -m clone consent revoke`` writes both files; ``consent restore`` removes both. A file holds
``{"revoked_at": "<ISO-8601 UTC>", "reason": "<text>"}``.

Fails closed: a revocation file that exists but is empty, malformed, unreadable or not even a file
still counts as revoked. Only its absence brings the clone back.

The reason is kept for the creator's own records; fans see only :meth:`KillSwitch.notice`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clone.config import Settings
from clone.files import write_atomic
from clone.guardrails import prompt

REVOCATION_FILE = "revoked.json"
MAX_REASON = 500
SETTING = "CLONE_REVOKED"


@dataclass(frozen=True)
class Revocation:
    """Why the clone is off: when (if the file says), the creator's reason, and what switched it off."""

    revoked_at: datetime | None
    reason: str
    source: str  # the revocation file's path, or "CLONE_REVOKED"
    malformed: bool = False  # the file exists but could not be read; it still counts


def revocation_paths(creator_dir: Path, home: Path | None) -> list[Path]:
    """Where revocation files are looked for: ``home/revoked.json`` (if a home is given), then the creator folder's."""
    paths = [Path(home) / REVOCATION_FILE] if home is not None else []
    return [*paths, Path(creator_dir) / REVOCATION_FILE]


def read_revocation(path: Path) -> Revocation | None:
    """The revocation in ``path``, ``None`` when there is no such file; a file that cannot be parsed still counts."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError):
        return Revocation(None, "", str(path), malformed=True)
    if not isinstance(data, dict):
        return Revocation(None, "", str(path), malformed=True)
    reason = data.get("reason")
    try:
        revoked_at = datetime.fromisoformat(data["revoked_at"])
    except (KeyError, TypeError, ValueError):
        return Revocation(None, reason if isinstance(reason, str) else "", str(path), malformed=True)
    if revoked_at.tzinfo is None:
        revoked_at = revoked_at.replace(tzinfo=UTC)
    return Revocation(revoked_at, reason if isinstance(reason, str) else "", str(path), malformed=False)


def revoke(creator_dir: Path, home: Path | None = None, reason: str = "", now: datetime | None = None) -> list[Path]:
    """Switch the clone off: write ``revoked.json`` into ``home`` (if given) and ``creator_dir``; return the paths.

    Each file is written atomically. Revoking an already revoked clone rewrites the files with the new reason.
    """
    reason = reason.strip()[:MAX_REASON]
    when = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    text = json.dumps({"revoked_at": when.isoformat().replace("+00:00", "Z"), "reason": reason}, ensure_ascii=False)
    written = []
    for path in revocation_paths(creator_dir, home):
        written.append(write_atomic(path, text + "\n"))
    return written


def restore(creator_dir: Path, home: Path | None = None) -> list[Path]:
    """Switch the clone back on: remove the revocation files; return those removed (empty: it was not revoked).

    ``CLONE_REVOKED=true`` is a setting, not a file: the caller tells the creator to unset it.
    """
    removed = []
    for path in revocation_paths(creator_dir, home):
        if path.is_file() or path.is_symlink():
            path.unlink()
            removed.append(path)
    return removed


class KillSwitch:
    """Answers "is this clone switched off?" cheaply enough to ask on every chat message.

    The answer is cached for at most ``max_age`` seconds (then the files are stat'ed again and
    re-read only when they changed), so a revocation reaches a running app within that time.
    Thread-safe: Gradio calls it from many worker threads.
    """

    def __init__(self, paths: Sequence[Path], *, setting: bool = False, max_age: float = 0.5):
        self.paths = [Path(p) for p in paths]
        self.setting = setting
        self.max_age = max_age
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._state: Revocation | None = None
        self._seen: dict[Path, tuple[tuple[int, int, int], Revocation | None]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, creator_dir: Path | None = None) -> KillSwitch:
        """The switch for the app: ``CLONE_REVOKED``, ``CLONE_HOME/revoked.json`` and the creator folder's file."""
        return cls(revocation_paths(creator_dir or settings.creator_dir, settings.home), setting=settings.revoked)

    def revoked(self) -> Revocation | None:
        """The revocation in force, or ``None`` when the clone may answer."""
        with self._lock:
            now = time.monotonic()
            if self._checked_at is None or now - self._checked_at >= self.max_age:
                self._state = self._check()
                self._checked_at = now
            return self._state

    def _check(self) -> Revocation | None:
        if self.setting:
            return Revocation(None, "", SETTING)
        for path in self.paths:
            try:
                st = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                self._seen.pop(path, None)
                continue
            except OSError:
                return Revocation(None, "", str(path), malformed=True)  # there, but unreadable: fail closed
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            seen = self._seen.get(path)
            if seen is None or seen[0] != stamp:
                seen = (stamp, read_revocation(path))
                self._seen[path] = seen
            if seen[1] is not None:
                return seen[1]
        return None

    def notice(self, persona_name: str) -> str:
        """What fans see instead of a reply: "<name> has switched this AI clone off. ..." (``prompts/revoked.md``)."""
        return prompt("revoked").format(name=persona_name)
