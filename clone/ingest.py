"""Content files -> LangChain Documents carrying their source metadata.

A content folder may hold, in any sub-folder:

- ``.md``/``.markdown`` and ``.txt``: Markdown may open with YAML front matter (``title``, ``url``,
  ``kind``, ``date``);
- ``.pdf`` (pypdf): text per page, page numbers kept;
- ``.html``/``.htm`` (BeautifulSoup): title from ``og:title`` or ``<title>``, url from
  ``<link rel="canonical">`` or ``og:url``; scripts, styles and navigation dropped;
- subtitles ``.srt`` (srt) and ``.vtt`` (webvtt-py), and YouTube transcript ``.json`` (a list of
  ``{"text", "start", "duration"}`` or ``{"title", "url", "transcript": [...]}``): timed documents;
- social posts exported as ``.csv`` or ``.json``: one document per post;
- ``.zip`` archives of any of these, read in memory (never unpacked to disk, never nested).

Metadata a file cannot carry itself comes from a sidecar ``<name>.meta.yaml`` (or ``.meta.yml``,
``.meta.json``) beside it: ``talk.srt.meta.yaml`` or ``talk.meta.yaml`` for ``talk.srt``. Its
``title``, ``url``, ``date`` and ``kind`` override what the file says; for an export of posts they
are defaults each post's own columns override.

One file may hold several documents (posts, zip members). Each document has a unique ``path``
relative to the content folder with forward slashes (``notes/faq.md``, ``posts.csv#post-17``,
``posts.csv#3``, ``archive.zip/videos/intro.srt``) and a ``sha256`` of its own text, timings and
metadata. Anything that cannot be used (binary, not UTF-8, empty, too large, malformed, unsafe
archive member...) is reported by name as a :class:`SkippedFile`; the rest is ingested.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import json
import math
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from clone import boundary

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


# ---------------------------------------------------------------------------------------------
# One reader per format: (document path, name in its container, bytes, sidecar metadata)
# -> documents, plus skipped documents for exports whose rows fail one by one.
# A reader raises ValueError with a human reason when the whole file cannot be used.

_Read = Iterator[SourceFile | SkippedFile]


def _read_text(path: str, name: str, data: bytes, sidecar: dict[str, str]) -> _Read:
    text = _decode(data)
    own, body = ({}, text) if name.lower().endswith(".txt") else _split_front_matter(text)
    if not body.strip():
        raise ValueError("the file has no text")
    yield _document(path, name, body, kind="document", own=own, sidecar=sidecar)


# pypdf raises its own errors for most damage, but a broken file can fail deep in the parser with
# any of these; they all mean "this PDF cannot be read".
def _pdf_errors() -> tuple[type[BaseException], ...]:
    from pypdf.errors import PyPdfError

    return (PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError, zlib.error)


def _pdf_page_text(text: str) -> str:
    # pypdf ends every printed line with a newline; join lines into paragraphs so chunks can end
    # on sentences, keeping a break after a line that ends a sentence or a heading's colon.
    lines = [line.strip() for line in text.splitlines()]
    out = ""
    for line in lines:
        if not line:
            out += "\n\n"
        elif not out or out.endswith("\n"):
            out += line
        else:
            out += ("\n" if re.search(r"[.!?:…]$", out) else " ") + line
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def _read_pdf(path: str, name: str, data: bytes, sidecar: dict[str, str]) -> _Read:
    from pypdf import PdfReader

    if b"%PDF-" not in data[:1024]:
        raise ValueError("the file is not a PDF (no %PDF- header)")
    pages: list[tuple[int, str]] = []
    title = ""
    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are encrypted with an empty user password only: those open as they are.
        locked = reader.is_encrypted and not reader.decrypt("")
        if not locked:
            pages = [(n, _pdf_page_text(page.extract_text() or "")) for n, page in enumerate(reader.pages, 1)]
            title = str((reader.metadata or {}).get("/Title") or "").strip()
    except _pdf_errors() as exc:
        raise ValueError(f"the PDF is damaged and cannot be read ({exc.__class__.__name__}: {_short(exc)})") from None
    if locked:
        raise ValueError("the PDF is password-protected; save a copy without a password")
    pages = [(n, text) for n, text in pages if text]
    if not pages:
        raise ValueError("the PDF has no extractable text (scanned images need OCR first)")
    own = {"title": title} if title else {}
    text = "\n\n".join(t for _, t in pages)
    yield _document(path, name, text, kind="document", own=own, sidecar=sidecar, pages=pages)


_HTML_DROP = ["script", "style", "noscript", "template", "svg", "canvas", "iframe", "nav", "form", "button"]
# Block elements start a paragraph (or a line, for items and cells); inline ones run on.
_HTML_PARAGRAPH = (
    "address article aside blockquote div dl figcaption figure footer header h1 h2 h3 h4 h5 h6 hr main ol p pre "
    "section table ul"
).split()
_HTML_LINE = "li tr dt dd td th caption".split()


def _html_meta(soup, *names: str) -> str:
    for key in names:
        tag = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
        tag = tag or soup.find("meta", attrs={"itemprop": key})
        if tag and str(tag.get("content") or "").strip():
            return str(tag["content"]).strip()
    return ""


def _read_html(path: str, name: str, data: bytes, sidecar: dict[str, str]) -> _Read:
    from bs4 import BeautifulSoup, NavigableString

    if b"\0" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError("the file looks binary, not text")
    # Bytes, not text: a saved web page declares its own encoding, which BeautifulSoup honours.
    soup = BeautifulSoup(data, "html.parser")
    title = _html_meta(soup, "og:title") or (soup.title.get_text(" ", strip=True) if soup.title else "")
    canonical = soup.find("link", rel="canonical")
    url = str(canonical.get("href") or "").strip() if canonical else ""
    if not url.startswith(("http://", "https://")):
        url = _html_meta(soup, "og:url")
    own = {"title": title, "url": url if url.startswith(("http://", "https://")) else ""}
    own["date"] = _html_meta(soup, "article:published_time", "datePublished", "date")
    for tag in soup(_HTML_DROP):
        tag.decompose()
    for tag in soup.select('[role="navigation"]'):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    for text in list(root.find_all(string=True)):
        if type(text) is NavigableString:  # not comments, doctypes or CDATA
            text.replace_with(re.sub(r"\s+", " ", str(text)))
    for br in root.find_all("br"):
        br.replace_with("\n")
    for tag in root.find_all(_HTML_PARAGRAPH):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    for tag in root.find_all(_HTML_LINE):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = [line.strip() for line in root.get_text().split("\n")]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if not body:
        raise ValueError("the page has no text")
    own = {k: v for k, v in own.items() if v}
    yield _document(path, name, body, kind="article", own=own, sidecar=sidecar)


def _segments(cues: list[tuple[float, str]]) -> list[Segment]:
    """Clean cue texts: drop tags, sound annotations and the repeated line of rolling captions."""
    out: list[Segment] = []
    previous: list[str] = []
    for start, raw in cues:
        lines = [re.sub(r"\s+", " ", _CUE_TAG.sub("", line)).strip() for line in raw.splitlines()]
        lines = [line for line in lines if line and not _ANNOTATION.match(line)]
        # YouTube's automatic captions roll: each cue repeats the last line of the one before.
        current = lines
        while lines and previous and lines[0] == previous[-1]:
            lines = lines[1:]
        previous = current or previous
        if lines:
            out.append(Segment(round(float(start), 3), " ".join(lines)))
    return out


def _timed_document(
    path: str, name: str, cues: list[tuple[float, str]], own: dict[str, str], sidecar: dict[str, str]
) -> SourceFile:
    segments = _segments(cues)
    if not segments:
        raise ValueError("the file has no cues with text")
    text = " ".join(s.text for s in segments)
    return _document(path, name, text, kind="video", own=own, sidecar=sidecar, segments=segments)


def _read_srt(path: str, name: str, data: bytes, sidecar: dict[str, str]) -> _Read:
    import srt

    text = _decode(data)
    try:
        subtitles = list(srt.parse(text))
    except (srt.SRTParseError, ValueError) as exc:
        raise ValueError(f"the file is not valid SRT ({_short(exc)})") from None
    for sub in subtitles:
        # A cue with a broken timing line is swallowed into the text of the one before it.
        if "-->" in sub.content:
            raise ValueError(f"the file is not valid SRT (cue {sub.index} holds an unreadable timing line)")
    cues = [(sub.start.total_seconds(), sub.content) for sub in subtitles]
    yield _timed_document(path, name, cues, {}, sidecar)


def _read_vtt(path: str, name: str, data: bytes, sidecar: dict[str, str]) -> _Read:
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    text = _decode(data)
    try:
        captions = webvtt.from_buffer(io.StringIO(text), format="vtt", strict=True)
        cues = [(c.start_time.in_milliseconds() / 1000, html.unescape(c.text)) for c in captions]
    except MalformedFileError:
        raise ValueError("the file is not valid WebVTT (it must start with WEBVTT)") from None
    except (MalformedCaptionError, ValueError) as exc:
        raise ValueError(f"the file is not valid WebVTT ({_short(exc)})") from None
    yield _timed_document(path, name, cues, {}, sidecar)


def _short(exc: BaseException, limit: int = 160) -> str:
    text = re.sub(r"\s+", " ", str(exc)).strip() or exc.__class__.__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds(value: object, where: str) -> float:
    try:
        seconds = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{where} has no valid start time in seconds")
    return seconds


def _transcript(path: str, name: str, cues: list, own: dict[str, str], sidecar: dict[str, str]) -> SourceFile:
    parsed = []
    for n, cue in enumerate(cues, 1):
        if not isinstance(cue, dict) or not isinstance(cue.get("text"), str):
            raise ValueError(f"the transcript is malformed: cue {n} is not an object with a text")
        parsed.append((_seconds(cue.get("start"), f"the transcript is malformed: cue {n}"), cue["text"]))
    return _timed_document(path, name, parsed, own, sidecar)


def _field(row: dict, names: tuple[str, ...]) -> str:
    """The first non-empty value among ``names`` (case-insensitive keys), as text."""
    lowered = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    for key in names:
        value = lowered.get(key)
        if value not in (None, "") and not isinstance(value, dict | list | bool):
            return str(value).strip()
    return ""


def _post_title(text: str) -> str:
    first = text.strip().splitlines()[0].strip()
    if len(first) <= 60:
        return first
    cut = first[:60].rsplit(" ", 1)[0].rstrip(",;:.")
    return f"{cut or first[:60]}…"


def _posts(path: str, rows: list[tuple[int, dict | str]], sidecar: dict[str, str]) -> _Read:
    """One document per post. ``rows`` are (post number, row or reason it is broken)."""
    if not rows:
        raise ValueError("the export has no posts")
    taken: set[str] = set()
    for n, row in rows:
        if isinstance(row, str):
            yield SkippedFile(f"{path}#{n}", row)
            continue
        text = _field(row, POST_TEXT_FIELDS)
        post_id = re.sub(r"[^A-Za-z0-9._~-]+", "-", _field(row, POST_ID_FIELDS)).strip("-")
        doc_path = f"{path}#post-{post_id}" if post_id and f"{path}#post-{post_id}" not in taken else f"{path}#{n}"
        taken.add(doc_path)
        if not text:
            yield SkippedFile(doc_path, f"post {n} has no text")
            continue
        date = _field(row, POST_DATE_FIELDS)
        columns = {"title": _field(row, ("title",)), "url": _field(row, POST_URL_FIELDS), "date": _date_str(date)}
        # The post's own columns win over the sidecar file's defaults; a title falls back to the first line.
        own = {"title": _post_title(text), **sidecar, **{k: v for k, v in columns.items() if v}}
        yield _document(doc_path, doc_path, text, kind="post", own=own)


def _read_json(path: str, name: str, data: bytes, sidecar: dict[str, str]) -> _Read:
    text = _decode(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the file is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise ValueError("the file is not valid JSON (nested too deeply)") from None
    if isinstance(value, dict) and "transcript" in value:
        if not isinstance(value["transcript"], list):
            raise ValueError('the transcript is malformed: "transcript" must be a list of {text, start} cues')
        own = _pick_metadata(value)
        if not own.get("url") and isinstance(value.get("video_id"), str) and value["video_id"].strip():
            own["url"] = f"https://www.youtube.com/watch?v={value['video_id'].strip()}"
        yield _transcript(path, name, value["transcript"], own, sidecar)
        return
    if isinstance(value, dict):
        lists = [value[k] for k in _POST_LIST_KEYS if isinstance(value.get(k), list)]
        value = lists[0] if lists else value
    if not isinstance(value, list):
        raise ValueError(
            "the JSON is neither a transcript (a list of {text, start, duration} cues, or an object with a"
            ' "transcript" list) nor an export of posts (a list of objects with a text)'
        )
    if value and isinstance(value[0], dict) and "start" in value[0]:
        yield _transcript(path, name, value, {}, sidecar)
        return
    rows = [(n, row if isinstance(row, dict) else f"post {n} is not an object") for n, row in enumerate(value, 1)]
    yield from _posts(path, rows, sidecar)


def _read_csv(path: str, name: str, data: bytes, sidecar: dict[str, str]) -> _Read:
    text = _decode(data)
    header = text.lstrip("\r\n").split("\n", 1)[0]
    # Spreadsheets export with commas, or semicolons where the comma is the decimal mark.
    delimiter = max(",;\t", key=header.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        table = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ValueError(f"the file is not valid CSV (line {reader.line_num}: {exc})") from None
    if not table:
        raise ValueError("the file has no text")
    columns = [c.strip().lower() for c in table[0]]
    if not set(columns) & set(POST_TEXT_FIELDS):
        raise ValueError(f"the CSV has no text column; name one of: {', '.join(POST_TEXT_FIELDS)}")
    rows: list[tuple[int, dict | str]] = []
    for n, cells in enumerate(table[1:], 1):
        if len(cells) > len(columns):
            rows.append((n, f"row {n} has {len(cells)} fields but the header has {len(columns)} (unquoted separator?)"))
        else:
            rows.append((n, dict(zip(columns, cells, strict=False))))
    yield from _posts(path, rows, sidecar)


_READERS: dict[str, Callable[[str, str, bytes, dict[str, str]], _Read]] = {
    ".md": _read_text,
    ".markdown": _read_text,
    ".txt": _read_text,
    ".pdf": _read_pdf,
    ".html": _read_html,
    ".htm": _read_html,
    ".srt": _read_srt,
    ".vtt": _read_vtt,
    ".json": _read_json,
    ".csv": _read_csv,
}


# ---------------------------------------------------------------------------------------------
# Containers: the content folder and zip archives


def _is_sidecar(name: str) -> bool:
    return name.lower().endswith(SIDECAR_SUFFIXES)


def _sidecar_for(name: str, sidecars: dict[str, _Entry]) -> str | None:
    """``talk.srt.meta.yaml`` first, then ``talk.meta.yaml``, for ``talk.srt``."""
    path = PurePosixPath(name)
    for base in (name, str(path.with_suffix("")) if path.suffix else None):
        for suffix in SIDECAR_SUFFIXES:
            if base and f"{base}{suffix}" in sidecars:
                return f"{base}{suffix}"
    return None


def _limit(limits: _Limits) -> str:
    return f"{limits.file_bytes / 1e6:g} MB limit"


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e6:.2g} MB"


def _scan_entries(
    entries: list[_Entry], prefix: str, limits: _Limits, *, in_archive: bool
) -> tuple[list[SourceFile], list[SkippedFile]]:
    """Read every entry of one container; ``prefix`` turns an entry name into a document path."""
    files: list[SourceFile] = []
    skipped: list[SkippedFile] = []
    sidecars = {e.name: e for e in entries if _is_sidecar(e.name)}
    documents = [e for e in entries if not _is_sidecar(e.name)]
    matched = {e.name: _sidecar_for(e.name, sidecars) for e in documents}
    for name in sorted(set(sidecars) - set(matched.values())):
        skipped.append(SkippedFile(prefix + name, "metadata file with no document of the same name beside it"))
    sidecar_cache: dict[str, dict[str, str]] = {}
    for entry in documents:
        path = prefix + entry.name
        suffix = PurePosixPath(entry.name).suffix.lower()
        try:
            # Databases, keys and .env files are never read, whatever their suffix.
            found = boundary.by_name(entry.name)
            if found:
                raise ValueError(found.reason)
            if suffix == ".zip":
                if in_archive:
                    raise ValueError("archives inside archives are not opened; unpack the inner one first")
                got = _read_zip(entry, path, limits)
            elif suffix not in _READERS:
                raise ValueError(
                    f"unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
                )
            else:
                if entry.size == 0:
                    raise ValueError("the file is empty")
                if entry.size > limits.file_bytes:
                    raise ValueError(f"the file is {_mb(entry.size)}, over the {_limit(limits)} (CLONE_MAX_FILE_MB)")
                data = entry.read()
                found = boundary.sensitive(entry.name, data)
                if found:  # a database or a secret under an innocent name: never indexed, never quoted
                    raise ValueError(found.reason)
                side = matched[entry.name]
                if side and side not in sidecar_cache:
                    if sidecars[side].size > limits.file_bytes:
                        raise ValueError(f"its metadata file {PurePosixPath(side).name} is over the {_limit(limits)}")
                    sidecar_cache[side] = _read_sidecar(side, sidecars[side].read())
                got = list(_READERS[suffix](path, entry.name, data, sidecar_cache.get(side or "", {})))
        except (ValueError, OSError) as exc:
            skipped.append(SkippedFile(path, str(exc)))
            continue
        files.extend(d for d in got if isinstance(d, SourceFile))
        skipped.extend(d for d in got if isinstance(d, SkippedFile))
    return files, skipped


def _unsafe_member(name: str) -> str | None:
    """Why a zip member's name could escape the folder it would be unpacked into, if it could."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in parts:
        return "a path that climbs out of the archive (..)"
    if "\0" in name:
        return "a name with a NUL byte"
    return None


def _read_zip(entry: _Entry, path: str, limits: _Limits) -> list[SourceFile | SkippedFile]:
    """Read an archive's members in memory, within the file-count and unpacked-size limits."""
    limit_mb = f"{limits.zip_bytes / 1e6:g} MB"
    if entry.size == 0:
        raise ValueError("the file is empty")
    if entry.size > limits.zip_bytes:
        raise ValueError(f"the archive is {_mb(entry.size)}, over the {limit_mb} limit (CLONE_MAX_ZIP_MB)")
    source = boundary.open_file(entry.path) if entry.path else io.BytesIO(entry.read())
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        source.close()
        raise ValueError(f"the file is not a readable zip archive ({_short(exc)})") from None
    with source, archive:
        members = [i for i in archive.infolist() if not i.is_dir()]
        if len(members) > limits.zip_files:
            raise ValueError(
                f"the archive holds {len(members)} files, over the limit of {limits.zip_files} (CLONE_MAX_ZIP_FILES)"
            )
        declared = sum(i.file_size for i in members)
        if declared > limits.zip_bytes:
            raise ValueError(f"the archive unpacks to {_mb(declared)}, over the {limit_mb} limit (CLONE_MAX_ZIP_MB)")
        left = [limits.zip_bytes]

        def reader(info: zipfile.ZipInfo) -> Callable[[], bytes]:
            def read() -> bytes:
                # Declared sizes can lie (zip bombs): count the bytes actually unpacked as well.
                cap = min(limits.file_bytes, left[0])
                try:
                    with archive.open(info) as fh:
                        data = fh.read(cap + 1)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                    raise ValueError(f"the archive member is damaged and cannot be unpacked ({_short(exc)})") from None
                if len(data) > left[0]:
                    raise _ArchiveTooLarge(f"the archive unpacks to more than {limit_mb} (CLONE_MAX_ZIP_MB)")
                left[0] -= len(data)
                if len(data) > limits.file_bytes:
                    raise ValueError(f"the file is over the {_limit(limits)} (CLONE_MAX_FILE_MB)")
                return data

            return read

        entries: list[_Entry] = []
        out: list[SourceFile | SkippedFile] = []
        for info in members:
            name = info.filename
            why = _unsafe_member(name)
            if not why and any(part.startswith(".") or part == "__MACOSX" for part in name.split("/")):
                continue  # hidden files and macOS resource forks, as in the content folder
            if why is None and stat.S_ISLNK(info.external_attr >> 16):
                why = "a symbolic link"
            if why is None and info.flag_bits & 0x1:
                why = "an encrypted member; unpack it with its password first"
            if why:
                out.append(SkippedFile(f"{path}/{name}", f"unsafe archive member: {why}; left out, nothing written"))
                continue
            entries.append(_Entry(name, info.file_size, reader(info)))
        try:
            files, skipped = _scan_entries(entries, f"{path}/", limits, in_archive=True)
        except _ArchiveTooLarge as exc:
            raise ValueError(str(exc)) from None
    return [*out, *files, *skipped]


def scan_folder(
    folder: Path, *, max_file_mb: float = 20, max_zip_files: int = 2000, max_zip_mb: float = 200
) -> ContentScan:
    """Read every supported file under ``folder`` (recursively, hidden files excluded) into documents.

    ``max_file_mb`` caps each file (and each archive member), ``max_zip_files`` the number of
    files in one zip archive and ``max_zip_mb`` what one archive unpacks to. Files and documents
    that cannot be used are listed in ``skipped`` with a reason; nothing is ever written.
    """
    folder = Path(folder)
    root = folder.resolve()
    limits = _Limits(int(max_file_mb * 1_000_000), int(max_zip_files), int(max_zip_mb * 1_000_000))
    # The folder is a boundary: links are reported and never followed, files are opened without following one.
    names, outside = boundary.walk(folder)
    entries = [
        _Entry(name, (root / name).stat().st_size, lambda p=root / name: boundary.read_bytes(p), root / name)
        for name in names
    ]
    files, skipped = _scan_entries(entries, "", limits, in_archive=False)
    skipped = [*(SkippedFile(name, reason) for name, reason in outside), *skipped]
    unique: list[SourceFile] = []
    seen: set[str] = set()
    for f in files:
        if f.path in seen:
            skipped.append(SkippedFile(f.path, "another document has the same path (a name repeated in an archive?)"))
            continue
        seen.add(f.path)
        unique.append(f)
    return ContentScan(files=unique, skipped=skipped)


# ---------------------------------------------------------------------------------------------
# Chunking


def _splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=_SEPARATORS,
        is_separator_regex=True,
        # Keep each separator at the end of its piece: with keep_separator=False the splitter
        # joins pieces back with the separator *pattern*, so "(?<=[.!?])\s+" leaked into chunks.
        keep_separator="end",
    )


def chunk_segments(segments: list[Segment], *, chunk_size: int = 800, chunk_overlap: int = 120) -> list[Segment]:
    """Group whole consecutive cues into chunks of up to ``chunk_size`` characters.

    A cue is never split, except one longer than ``chunk_size`` on its own, which is split at
    sentences (each part keeps the cue's start). A chunk ends after a cue that ends a sentence
    when one does in its second half. Neighbouring chunks share whole cues, up to
    ``chunk_overlap`` characters. Each chunk starts when its first cue does.
    """
    splitter = _splitter(chunk_size, 0)
    cues: list[Segment] = []
    for s in segments:
        parts = [s.text] if len(s.text) <= chunk_size else splitter.split_text(s.text)
        cues.extend(Segment(s.start, part) for part in parts)
    ends = [0]  # ends[k]: length of cues[0:k] joined with spaces, plus one
    for cue in cues:
        ends.append(ends[-1] + len(cue.text) + 1)

    def length(i: int, j: int) -> int:  # length of cues[i:j] joined with single spaces
        return ends[j] - ends[i] - 1

    chunks: list[Segment] = []
    i, done, n = 0, 0, len(cues)  # cues[:done] are in a chunk already
    while i < n:
        j = max(i + 1, done + 1)
        while j < n and length(i, j + 1) <= chunk_size:
            j += 1
        if j < n:  # prefer to stop at a sentence end, if there is one in the second half
            for k in range(j, done, -1):
                if length(i, k) < chunk_size // 2:
                    break
                if _SENTENCE_END.search(cues[k - 1].text):
                    j = k
                    break
        chunks.append(Segment(cues[i].start, " ".join(c.text for c in cues[i:j])))
        done = j
        if j >= n:
            break
        back = j  # the next chunk repeats whole cues from this one's end, and always moves on
        while back - 1 > i and length(back - 1, j) <= chunk_overlap and length(back - 1, j + 1) <= chunk_size:
            back -= 1
        i = back
    return chunks


def split_documents(files: list[SourceFile], *, chunk_size: int = 800, chunk_overlap: int = 120) -> list[Document]:
    """Split documents into chunks that respect paragraphs, sentences and cues, each with source metadata.

    Every chunk's metadata has exactly these keys:

    - ``source``: the document's path (its id); ``id``: ``"<source>#<chunk>"``; ``chunk``: 0, 1, ...
    - ``title``, ``kind``, ``date`` (``""`` when unknown);
    - ``url``: the citation link: for a timed chunk it points at the chunk's moment (YouTube
      ``t=123s``, elsewhere ``#t=123``), for a PDF chunk at its page (``#page=3``); ``""`` when the
      document has no URL. ``doc_url`` is the document's own URL, unchanged;
    - ``start``: float seconds of the chunk's first cue in subtitles and transcripts, ``None`` in
      every other document (the key is always there);
    - ``page``: 1-based page number of a PDF chunk, ``None`` in every other document.
    """
    splitter = _splitter(chunk_size, chunk_overlap)
    docs: list[Document] = []
    for f in files:
        if f.segments:
            pieces = [
                (c.start, None, c.text)
                for c in chunk_segments(f.segments, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
            ]
        elif f.pages:
            pieces = [(None, page, chunk) for page, text in f.pages for chunk in splitter.split_text(text)]
        else:
            pieces = [(None, None, chunk) for chunk in splitter.split_text(f.text)]
        doc_url = f.metadata.get("url", "")
        for n, (start, page, text) in enumerate(pieces):
            url = url_at_time(doc_url, start) if start is not None else doc_url
            url = url_at_page(doc_url, page) if page is not None else url
            meta = {
                **f.metadata,
                "source": f.path,
                "title": f.metadata.get("title", f.path),
                "url": url,
                "doc_url": doc_url,
                "kind": f.metadata.get("kind", "document"),
                "date": f.metadata.get("date", ""),
                "start": start,
                "page": page,
                "chunk": n,
                "id": f"{f.path}#{n}",
            }
            docs.append(Document(page_content=text, metadata=meta))
    return docs
