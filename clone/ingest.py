"""Content files -> LangChain Documents carrying their source metadata.

A content folder holds ``.md`` and ``.txt`` files. Markdown may open with YAML front matter
(``title``, ``url``, ``kind``, ``date``). A file that cannot be read (binary, not UTF-8,
empty, too large, broken front matter) is reported by name and skipped; the rest is ingested.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from clone.errors import ContentError

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
# Split at paragraphs, then lines, then sentence ends, so a chunk rarely cuts a sentence.
_SEPARATORS = ["\n\n", "\n", r"(?<=[.!?])\s+", " ", ""]


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of the index, and why."""

    path: str
    reason: str


@dataclass
class SourceFile:
    """One readable content file, before splitting."""

    path: str  # relative to the content folder, with forward slashes
    text: str
    sha256: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class ContentScan:
    """Everything found in a content folder."""

    files: list[SourceFile]
    skipped: list[SkippedFile]

    @property
    def fingerprint(self) -> str:
        """A hash of every readable file's path and bytes: it changes when the content does."""
        digest = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.path):
            digest.update(f"{f.path}\0{f.sha256}\n".encode())
        return digest.hexdigest()


def _title_from_name(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize() or path.name


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
    wanted = ("title", "url", "kind", "date")
    return {k: str(meta[k]).strip() for k in wanted if meta.get(k) not in (None, "")}, text[match.end() :]


def read_source(path: Path, root: Path, max_bytes: int) -> SourceFile:
    """Read one content file; raise ``ValueError`` with a human reason when it cannot be used."""
    rel = path.relative_to(root).as_posix()
    size = path.stat().st_size
    if size == 0:
        raise ValueError("the file is empty")
    if size > max_bytes:
        raise ValueError(f"the file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit (CLONE_MAX_FILE_MB)")
    raw = path.read_bytes()
    if b"\0" in raw[:8192]:
        raise ValueError("the file looks binary, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the file is not UTF-8 text (bad byte at position {exc.start}); save it as UTF-8") from None
    meta, body = _split_front_matter(text) if path.suffix.lower() != ".txt" else ({}, text)
    if not body.strip():
        raise ValueError("the file has no text")
    meta.setdefault("title", _title_from_name(path))
    meta.setdefault("url", "")
    meta.setdefault("kind", "document")
    return SourceFile(path=rel, text=body.strip(), sha256=hashlib.sha256(raw).hexdigest(), metadata=meta)


def scan_folder(folder: Path, *, max_file_mb: float = 20) -> ContentScan:
    """Read every supported file under ``folder`` (recursively, hidden files excluded)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ContentError(f"Content folder {folder} does not exist. Point to a folder of .md or .txt files.")
    root = folder.resolve()
    files: list[SourceFile] = []
    skipped: list[SkippedFile] = []
    for path in sorted(root.rglob("*")):
        rel_parts = path.relative_to(root).parts
        if any(part.startswith(".") for part in rel_parts) or not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(SkippedFile(rel, f"unsupported file type {path.suffix or '(none)'}; use .md or .txt"))
            continue
        try:
            files.append(read_source(path, root, int(max_file_mb * 1_000_000)))
        except (ValueError, OSError) as exc:
            skipped.append(SkippedFile(rel, str(exc)))
    return ContentScan(files=files, skipped=skipped)


def split_documents(files: list[SourceFile], *, chunk_size: int = 800, chunk_overlap: int = 120) -> list[Document]:
    """Split files into chunks that respect paragraphs and sentences, each with source metadata."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=_SEPARATORS,
        is_separator_regex=True,
        keep_separator=False,
    )
    docs: list[Document] = []
    for f in files:
        for n, chunk in enumerate(splitter.split_text(f.text)):
            meta = {**f.metadata, "source": f.path, "chunk": n, "id": f"{f.path}#{n}"}
            docs.append(Document(page_content=chunk, metadata=meta))
    return docs
