"""One reader per content format: text and Markdown, PDF, HTML, subtitles, YouTube transcripts, posts."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import zlib
from collections.abc import Callable, Iterator

from clone.ingest.documents import (
    _ANNOTATION,
    _CUE_TAG,
    _POST_LIST_KEYS,
    POST_DATE_FIELDS,
    POST_ID_FIELDS,
    POST_TEXT_FIELDS,
    POST_URL_FIELDS,
    Segment,
    SkippedFile,
    SourceFile,
    _date_str,
    _decode,
    _document,
    _pick_metadata,
    _split_front_matter,
)

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
