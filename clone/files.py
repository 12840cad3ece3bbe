"""Writing files so that a reader sees the old content or the new, never half: one helper for the whole project."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path | str, data: bytes | str, *, mode: int = 0o644, exclusive: bool = False) -> Path:
    """Write ``data`` to a fresh file beside ``path``, fsync it, then rename it over ``path``.

    ``mode`` is applied whatever the umask (``0o600`` for keys and tokens). With ``exclusive``, an
    existing ``path`` is never replaced: ``FileExistsError`` says another process wrote it first
    (the file is then left as that process made it). The temporary file is removed on any failure,
    Ctrl-C included.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(tmp, mode)
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)  # fails if path exists: the first writer wins
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def readable_by_others(path: Path | str) -> bool:
    """True when a POSIX file's group or other permission bits are set (a private file must have none)."""
    return os.name == "posix" and bool(Path(path).stat().st_mode & 0o077)
