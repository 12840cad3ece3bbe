"""The content folder is a boundary: what may be read from it, and what must never leave it.

:func:`walk` lists the regular files under a folder without ever following a symbolic link (a link
to ``~/.env`` or to a folder elsewhere is reported by name, never read), and :func:`read_bytes`
opens each one refusing a link that appeared since. :func:`sensitive` recognises files that must
never be indexed, quoted or deployed, by name and by content, whatever they are called: SQLite
databases, private keys, ``.env``-style files of secrets and well-known token shapes.

Ingest (and so serve, re-index and the inbox) and deploy all read the content folder through here.
Hard links cannot be told from ordinary files by their path and are not detected.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from clone.errors import ContentError

#: Names that are databases, keys or secrets files whatever they hold (matched case-insensitively).
_DATABASE_NAME = re.compile(r"\.(db|db3|sqlite|sqlite3|sqlitedb)(-journal|-wal|-shm)?$|\.sqlite3?-", re.IGNORECASE)
_KEY_NAME = re.compile(r"\.(pem|key|ed25519|p12|pfx|jks|keystore|ppk)$|^id_(rsa|dsa|ecdsa|ed25519)$", re.IGNORECASE)
_ENV_NAME = re.compile(r"(^|\.)env(\.[^.]+)?$", re.IGNORECASE)  # .env, .env.local, prod.env, env
_SQLITE_MAGIC = b"SQLite format 3\x00"
# The BEGIN line of an RSA, EC, OpenSSH, PKCS#8 or PGP private key. Spelled with a character class
# so that this file, which a Space carries, does not match itself.
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVAT[E] KEY")
#: Well-known token shapes: Hugging Face, OpenAI/Anthropic, GitHub, AWS, Slack, GitLab.
_TOKENS = re.compile(
    rb"(?<![A-Za-z0-9_-])(?:"
    rb"hf_[A-Za-z0-9]{30,}"
    rb"|sk-(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}"
    rb"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"
    rb"|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,}"
    rb")"
)
_ASSIGNMENT = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$")
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|PWD|CREDENTIAL|PRIVATE|AUTH(?!OR)|DATABASE_URL|DSN", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^(<.*>|\.\.\.|x+|your[-_ ].*|changeme|change-me|todo|none|null|example.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    """Why a file must never be indexed or deployed.

    ``secret`` is true when its *content* holds a secret (a key, a token, a file of passwords) under
    a name that does not say so: deploy refuses those rather than quietly leaving them behind.
    """

    reason: str
    secret: bool = False


def walk(folder: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The regular files under ``folder`` (relative, forward slashes, sorted), and what was left out, with why.

    Hidden files and folders (a name starting with ``.``) are left out silently. Symbolic links to
    files or folders, and anything that is not a regular file (a pipe, a device), are left out and
    reported: nothing outside ``folder`` is ever reached. ``folder`` itself must not be a link.
    """
    folder = Path(folder)
    if folder.is_symlink():
        raise ContentError(
            f"Content folder {folder} is a symbolic link (to {os.path.realpath(folder)}). Links are not followed: "
            "move or copy the files into a real folder."
        )
    if not folder.is_dir():
        raise ContentError(f"Content folder {folder} does not exist. Point to a folder of content files.")
    root = folder.resolve()
    files: list[str] = []
    skipped: list[tuple[str, str]] = []
    for here, dirs, names in os.walk(root, followlinks=False):
        rel_here = Path(here).relative_to(root)
        for name in sorted(dirs):
            if name.startswith(".") or not os.path.islink(os.path.join(here, name)):
                continue
            skipped.append(((rel_here / name).as_posix(), _link_reason(Path(here) / name, root, folder=True)))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(here, d)))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(here) / name
            rel = (rel_here / name).as_posix()
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                skipped.append((rel, _link_reason(path, root, folder=False)))
            elif not stat.S_ISREG(mode):
                skipped.append((rel, "not a regular file (a pipe, socket or device); left out"))
            elif not path.resolve().is_relative_to(root):  # belt and braces: no link was followed above
                skipped.append((rel, "it resolves to a path outside the content folder; left out, not read"))
            else:
                files.append(rel)
    return sorted(files), sorted(skipped)


def _link_reason(path: Path, root: Path, *, folder: bool) -> str:
    what = "a folder" if folder else "a file"
    inside = Path(os.path.realpath(path)).is_relative_to(root)
    where = "" if inside else " outside the content folder"
    return f"a symbolic link to {what}{where}; links are not followed, so it was left out and not read"


def open_file(path: Path) -> BinaryIO:
    """Open a regular file for reading, refusing (OSError) a symbolic link, even one put there after the listing."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    fh = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        fh.close()
        raise OSError(f"{Path(path).name} is not a regular file")
    return fh


def read_bytes(path: Path) -> bytes:
    """The bytes of a regular file, refusing (OSError) a symbolic link: see :func:`open_file`."""
    with open_file(path) as fh:
        return fh.read()


def by_name(name: str) -> Finding | None:
    """A database, key or secrets file recognised by its name (``name`` may be a relative path)."""
    base = PurePosixPath(name).name
    if _DATABASE_NAME.search(base):
        return Finding("a database file; databases are never content, so it was left out")
    if _KEY_NAME.search(base):
        return Finding("a key file; keys are never content, so it was left out")
    if _ENV_NAME.search(base):
        return Finding("a file of settings or secrets (.env); left out, never quoted")
    return None


def sensitive(name: str, data: bytes) -> Finding | None:
    """Why the file ``name`` holding ``data`` must never be indexed or deployed, or None if it may be."""
    if data.startswith(_SQLITE_MAGIC):
        return Finding("an SQLite database (by its content); databases are never content, so it was left out")
    found = by_name(name)
    if found:
        return found
    if _PRIVATE_KEY.search(data):
        return Finding("it holds a private key (a BEGIN ... PRIVATE KEY line); left out, never quoted", secret=True)
    token = _TOKENS.search(data)
    if token:
        shape = token.group(0)[:4].decode("ascii", "replace")
        return Finding(f"it holds what looks like an access token ({shape}...); left out, never quoted", secret=True)
    if _looks_like_dotenv(data):
        return Finding("it looks like a .env file of secrets (NAME=value lines); left out, never quoted", secret=True)
    return None


def _looks_like_dotenv(data: bytes) -> bool:
    """Mostly ``NAME=value`` lines, at least one naming a key, token or password with a real-looking value."""
    if len(data) > 1_000_000 or b"\0" in data[:8192]:
        return False
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    matches = [m for m in map(_ASSIGNMENT.match, lines) if m]
    if not matches or len(matches) < 0.6 * len(lines):
        return False
    for m in matches:
        value = m.group(2).strip().strip("\"'")
        if _SECRET_NAME.search(m.group(1)) and len(value) >= 8 and " " not in value and not _PLACEHOLDER.match(value):
            return True
    return False
