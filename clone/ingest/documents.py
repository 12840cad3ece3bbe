"""Documents and their metadata: what a content file becomes, links to a moment or a page, and the small
helpers every reader shares (titles, decoding, front matter, sidecars, document hashes)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml

SUPPORTED_SUFFIXES = (
    ".md",
    ".markdown",
    ".txt",
    ".pdf",
    ".html",
    ".htm",
    ".srt",
    ".vtt",
    ".json",
    ".csv",
    ".zip",
)
SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml", ".meta.json")
METADATA_FIELDS = ("title", "url", "kind", "date")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
# Split at paragraphs, then lines, then sentence ends, so a chunk rarely cuts a sentence.
_SEPARATORS = ["\n\n", "\n", r"(?<=[.!?])\s+", " ", ""]
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_CUE_TAG = re.compile(r"<[^>\n]*>|\{\\[^}\n]*\}")  # <i>, <font ...>, <00:01.000>; SSA {\an8}
# A whole cue line that is only a sound annotation carries nothing to retrieve: [Music], (laughs), ♪♪
_ANNOTATION = re.compile(r"^(?:\[[^\]]*\]|\([^)]*\)|[♪♫\s]+)$")
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be"}

# Accepted column (or key) names in exports of social posts, first match wins.
POST_TEXT_FIELDS = ("text", "content", "caption", "body", "message", "full_text")
POST_URL_FIELDS = ("url", "link", "permalink", "permalink_url", "post_url")
POST_DATE_FIELDS = ("date", "created_at", "timestamp", "published", "published_at", "created_time")
POST_ID_FIELDS = ("id", "post_id")
_POST_LIST_KEYS = ("posts", "items", "data")


@dataclass(frozen=True)
class SkippedFile:
    """A file (or document inside a file) left out of the index, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Segment:
    """One timed piece of a transcript or subtitle file: where it starts, in seconds, and what is said."""

    start: float
    text: str


@dataclass
class SourceFile:
    """One document before splitting: a file, one post of an export, or one member of a zip archive.

    ``segments`` is set for timed documents (subtitles, transcripts) and ``pages`` for PDFs, as
    ``(page number, text)`` pairs; ``text`` always holds the whole text.
    """

    path: str  # the document id: relative to the content folder, forward slashes
    text: str
    sha256: str
    metadata: dict[str, str] = field(default_factory=dict)
    segments: list[Segment] | None = None
    pages: list[tuple[int, str]] | None = None


@dataclass
class ContentScan:
    """Everything found in a content folder."""

    files: list[SourceFile]
    skipped: list[SkippedFile]

    @property
    def fingerprint(self) -> str:
        """A hash of every document's path and hash: it changes when the content does."""
        digest = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.path):
            digest.update(f"{f.path}\0{f.sha256}\n".encode())
        return digest.hexdigest()


@dataclass(frozen=True)
class _Limits:
    file_bytes: int
    zip_files: int
    zip_bytes: int


@dataclass
class _Entry:
    """A file inside a container (the content folder or a zip archive), not read yet."""

    name: str  # relative to its container, forward slashes
    size: int  # bytes on disk, or as the archive declares them
    read: Callable[[], bytes]
    path: Path | None = None  # a file on disk: only zips at the top level are opened from it


class _ArchiveTooLarge(Exception):
    """An archive unpacks to more than CLONE_MAX_ZIP_MB: the whole archive is left out."""


# ---------------------------------------------------------------------------------------------
# Links to a moment or a page


def url_at_time(url: str, seconds: float) -> str:
    """Link to ``seconds`` into the media at ``url``: ``t=123s`` on YouTube, the ``#t=123`` media fragment elsewhere.

    An empty ``url`` stays empty.
    """
    if not url:
        return url
    parts = urlsplit(url)
    whole = int(max(seconds, 0))
    if parts.hostname and parts.hostname.lower() in _YOUTUBE_HOSTS:
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        query.append(("t", f"{whole}s"))
        return urlunsplit(parts._replace(query=urlencode(query)))
    return urlunsplit(parts._replace(fragment=f"t={whole}"))


def url_at_page(url: str, page: int) -> str:
    """Link to ``page`` of the PDF at ``url`` (the ``#page=N`` open parameter). An empty ``url`` stays empty."""
    return urlunsplit(urlsplit(url)._replace(fragment=f"page={page}")) if url else url


# ---------------------------------------------------------------------------------------------
# Small helpers shared by the readers


def _title_from_name(name: str) -> str:
    path = PurePosixPath(name)
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize() or path.name


def _decode(data: bytes) -> str:
    """Bytes -> text: UTF-8 (a BOM is fine) or UTF-16 with a BOM; anything else is refused with a reason."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ValueError("the file starts like UTF-16 text but is not; save it as UTF-8") from None
    if b"\0" in data[:8192]:
        raise ValueError("the file looks binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the file is not UTF-8 text (bad byte at position {exc.start}); save it as UTF-8") from None


def _date_str(value: object) -> str:
    """A date as text: ISO for YAML dates and Unix timestamps (seconds or milliseconds), as written otherwise."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        seconds = value / 1000 if value > 1e11 else value
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).isoformat().replace("+00:00", "Z")
    text = str(value).strip()
    if re.fullmatch(r"\d{9,13}", text):
        return _date_str(int(text))
    return text


def _pick_metadata(meta: dict) -> dict[str, str]:
    """Keep the metadata fields this project reads, as non-empty strings."""
    out = {}
    for key in METADATA_FIELDS:
        value = meta.get(key)
        if value in (None, "") or isinstance(value, dict | list):
            continue
        out[key] = _date_str(value) if key == "date" else str(value).strip()
    return {k: v for k, v in out.items() if v}


def _document_hash(
    text: str, metadata: dict[str, str], segments: list[Segment] | None, pages: list[tuple[int, str]] | None
) -> str:
    payload = {
        "text": text,
        "metadata": metadata,
        "segments": [[s.start, s.text] for s in segments] if segments else None,
        "pages": [list(p) for p in pages] if pages else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _document(
    path: str,
    name: str,
    text: str,
    *,
    kind: str,
    own: dict[str, str] | None = None,
    sidecar: dict[str, str] | None = None,
    segments: list[Segment] | None = None,
    pages: list[tuple[int, str]] | None = None,
) -> SourceFile:
    """Build a document: defaults < what the file says about itself < its sidecar metadata file."""
    meta = {"title": _title_from_name(name), "url": "", "kind": kind, **(own or {}), **(sidecar or {})}
    text = text.strip()
    return SourceFile(path, text, _document_hash(text, meta, segments, pages), meta, segments, pages)


def _split_front_matter(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"front matter is not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict):
        raise ValueError("front matter must be a YAML mapping (title: ..., url: ...)")
    return _pick_metadata(meta), text[match.end() :]


def _read_sidecar(name: str, data: bytes) -> dict[str, str]:
    """Parse a ``.meta.yaml`` / ``.meta.json`` file into title/url/date/kind."""
    short = PurePosixPath(name).name
    try:
        text = _decode(data)
        meta = json.loads(text) if name.lower().endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"its metadata file {short} cannot be read ({exc.__class__.__name__}: {exc})") from None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ValueError(f"its metadata file {short} must be a mapping (title: ..., url: ..., date: ...)")
    return _pick_metadata(meta)
