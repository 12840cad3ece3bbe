"""Embeddings + FAISS + BM25: build, update incrementally, swap in atomically, load, search.

An index lives in its own folder under ``CLONE_HOME/index``:

    manifest.json   embedding model id, dimensions, chunking settings, each document's hash
    chunks.jsonl    one chunk a line (id, text, metadata), in vector order
    vectors.npy     the chunk embeddings (float32, unit length)
    index.faiss     exact inner-product search below CLONE_ANN_THRESHOLD chunks, HNSW above it

None of these is a pickle, so loading an index can never run code. A ``CURRENT`` file, replaced
atomically, names the folder in use. A rebuild embeds only new or changed documents, reuses the
vectors of unchanged ones, writes a new folder and then switches ``CURRENT``: a crash or Ctrl-C
mid-ingest leaves the previous index intact and loadable. A change of embedding model or chunking
settings rebuilds everything, and says so.

What is embedded for a chunk is its document's title, a blank line, then its text (a "contextual
chunk header"): a question that names the video or the essay ("What did McKinley say...") finds
chunks whose own words never name it. BM25 indexes the title too. The stored chunk text is the
text alone, so replies never quote the title.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np
from tqdm import tqdm

from clone.config import Settings
from clone.embeddings import embedding_id, get_embeddings
from clone.errors import ContentError, IndexNotBuiltError
from clone.files import write_atomic
from clone.ingest import SkippedFile, SourceFile, scan_folder, split_documents
from clone.tokens import rare_words, tokenize

log = logging.getLogger(__name__)

# 3: chunks are embedded with their document's title in front (see chunk_text_to_embed).
INDEX_FORMAT = 3
EMBED_BATCH = 64
# Weighted reciprocal rank fusion: score = sum(weight / (RRF_K + rank)). BM25 counts less than the
# embeddings: it rescues exact names and rare words, but on paraphrased questions its top hits are
# noise (see benchmarks/retrieval_quality.py for the measurement behind these values).
RRF_K = 10
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 0.25
# A question that names a word rare in English found in at most this many chunks is answered from them even
# below the relevance floor (KnowledgeBase.naming_rare_words).
RARE_WORD_CHUNKS = 3
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


def embedder(settings: Settings):
    """The embeddings the settings ask for (LangChain ``Embeddings``), loaded once per process."""
    return get_embeddings(
        settings.embedding_model, settings.embedding_engine, settings.model_cache, settings.embedding_export
    )


_QUERY_CACHE_SIZE = 256
_query_cache: dict[tuple[int, str], tuple[object, np.ndarray]] = {}
_query_lock = threading.Lock()


def question_vector(embeddings, text: str) -> np.ndarray:
    """``embeddings.embed_query(text)`` as float32, remembered for the last few hundred questions.

    One reply embeds its question twice, for the search and again for the extractive backend's
    sentence scores: the second time is free. (The cached value keeps its embeddings object alive,
    so the ``id`` in the key cannot be reused by another one.)
    """
    key = (id(embeddings), text)
    with _query_lock:
        hit = _query_cache.get(key)
    if hit is not None:
        return hit[1]
    vector = np.asarray(embeddings.embed_query(text), dtype=np.float32)
    vector.setflags(write=False)  # shared between threads and callers
    with _query_lock:
        _query_cache[key] = (embeddings, vector)
        while len(_query_cache) > _QUERY_CACHE_SIZE:
            del _query_cache[next(iter(_query_cache))]  # oldest first (dicts keep insertion order)
    return vector


def chunk_text_to_embed(text: str, title: str) -> str:
    """What is embedded for a chunk: the document's title, a blank line, then the chunk's text."""
    return f"{title}\n\n{text}" if title.strip() else text


def embedding_key(settings: Settings) -> str:
    """The id of the embeddings the settings ask for (model and engine), as recorded in manifests."""
    return embedding_id(settings.embedding_model, settings.embedding_engine, settings.embedding_export)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its source and its cosine similarity to the question."""

    id: str
    text: str
    source: str
    title: str
    url: str
    score: float
    start: float | None = None
    page: int | None = None

    @classmethod
    def from_chunk(cls, chunk: dict, score: float) -> Passage:
        """Wrap a stored chunk."""
        m = chunk["metadata"]
        start = m.get("start")
        return cls(
            id=chunk["id"],
            text=chunk["text"],
            source=m["source"],
            title=m.get("title", m["source"]),
            url=m.get("url", ""),
            score=score,
            start=float(start) if start is not None else None,
            page=m.get("page"),
        )


class KnowledgeBase:
    """A loaded index over one creator's content: dense (FAISS) and lexical (BM25) search."""

    def __init__(self, path: Path, manifest: dict, chunks: list[dict], vectors: np.ndarray, index, embeddings):
        self.path = path
        self.manifest = manifest
        self.chunks = chunks
        self.vectors = vectors
        self.index = index
        self.embeddings = embeddings
        self._lock = threading.Lock()
        # BM25 with Lucene's idf, log(1 + (N - n + 0.5) / (n + 0.5)), never zero or negative (the classic
        # Okapi idf is zero for a word in half the chunks, so in a small collection a rare name could
        # score nothing). bm25s keeps the scores in a sparse matrix: a few ms per query at 100k chunks.
        self.bm25 = bm25s.BM25(method="lucene")
        words = [tokenize(f"{c['metadata'].get('title', '')}\n{c['text']}") for c in chunks]
        self.bm25.index(words, show_progress=False)
        # How many chunks hold each word: a rare word in few chunks marks what a question is about.
        self.chunks_with: Counter[str] = Counter(w for chunk in words for w in set(chunk))

    @property
    def size(self) -> int:
        """Number of chunks in the index."""
        return len(self.chunks)

    @property
    def index_type(self) -> str:
        """``flat`` (exact) or ``hnsw`` (approximate)."""
        return self.manifest.get("index_type", "flat")

    def dense(self, query_vector: np.ndarray, n: int) -> list[int]:
        """Positions of the ``n`` chunks nearest to the query vector, best first."""
        with self._lock:  # HNSW search parameters live on the shared index object
            _, ids = self.index.search(query_vector[None, :].astype(np.float32), min(n, self.size))
        return [int(i) for i in ids[0] if i >= 0]

    def lexical(self, query: str, n: int) -> list[int]:
        """Positions of the ``n`` best BM25 matches with a positive score, best first."""
        tokens = tokenize(query)
        if not tokens or not self.size:
            return []
        ids, scores = self.bm25.retrieve([tokens], k=min(n, self.size), show_progress=False)
        return [int(i) for i, score in zip(ids[0], scores[0], strict=True) if score > 0]

    def naming_rare_words(self, query: str, passages: list[Passage]) -> list[Passage]:
        """The passages holding a word of ``query`` rare in English and here (in at most RARE_WORD_CHUNKS chunks).

        "What is Bebung?" is short, so its cosine to any passage is low, but a passage that says "Bebung"
        is about what the fan asked; an off-topic question seldom names a rare word the creator used.
        """
        wanted = {w for w in rare_words(query) if 0 < self.chunks_with[w] <= RARE_WORD_CHUNKS}
        if not wanted:
            return []
        return [p for p in passages if wanted & set(tokenize(f"{p.title}\n{p.text}"))]

    def search(self, query: str, k: int = 4, *, mode: str = "hybrid") -> list[Passage]:
        """The ``k`` best passages, best first; each scored by its cosine similarity to the query.

        ``hybrid`` fuses dense and BM25 rankings with reciprocal rank fusion; ``dense`` and
        ``lexical`` use one ranking alone.
        """
        query_vector = question_vector(self.embeddings, query)
        depth = max(k * 5, 20)
        if mode == "dense":
            ranked = self.dense(query_vector, k)
        elif mode == "lexical":
            ranked = self.lexical(query, k)
        elif mode == "hybrid":
            fused: dict[int, float] = {}
            rankings = ((self.dense(query_vector, depth), DENSE_WEIGHT), (self.lexical(query, depth), BM25_WEIGHT))
            for ranking, weight in rankings:
                for rank, pos in enumerate(ranking):
                    fused[pos] = fused.get(pos, 0.0) + weight / (RRF_K + rank + 1)
            ranked = sorted(fused, key=lambda pos: -fused[pos])[:k]
        else:
            raise ValueError(f"unknown search mode {mode!r}")
        cosine = self.vectors[ranked] @ query_vector if ranked else []
        return [Passage.from_chunk(self.chunks[pos], float(c)) for pos, c in zip(ranked, cosine, strict=True)]


def _fingerprint(manifest: dict) -> str:
    key = {k: manifest[k] for k in ("format", "embedding", "chunk_size", "chunk_overlap", "index_type")}
    key["documents"] = {path: doc["sha256"] for path, doc in manifest["documents"].items()}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def current_name(index_dir: Path) -> str | None:
    """The name of the build ``CURRENT`` points at, or None before the first build."""
    pointer = index_dir / "CURRENT"
    return pointer.read_text().strip() if pointer.is_file() else None


def _read_build(path: Path) -> tuple[dict, list[dict], np.ndarray]:
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    with (path / "chunks.jsonl").open(encoding="utf-8") as fh:
        chunks = [json.loads(line) for line in fh]
    vectors = np.load(path / "vectors.npy", allow_pickle=False)
    return manifest, chunks, vectors


def load_index(index_dir: Path, settings: Settings) -> KnowledgeBase:
    """Load the index that ``CURRENT`` names; raise ``IndexNotBuiltError`` if there is none."""
    import faiss

    name = current_name(index_dir)
    if not name or not (index_dir / name / "manifest.json").is_file():
        raise IndexNotBuiltError(f"No index under {index_dir}. Run: python -m clone ingest <content folder>")
    path = index_dir / name
    try:
        manifest, chunks, vectors = _read_build(path)
    except (OSError, ValueError) as exc:
        raise IndexNotBuiltError(
            f"The index in {path} cannot be read ({exc}); run python -m clone ingest again."
        ) from None
    if manifest.get("format") != INDEX_FORMAT:
        raise IndexNotBuiltError(f"The index in {path} is from another version; run python -m clone ingest again.")
    index = faiss.read_index(str(path / "index.faiss"))
    if manifest.get("index_type") == "hnsw":
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return KnowledgeBase(path, manifest, chunks, vectors, index, embedder(settings))


def build_faiss(vectors: np.ndarray, index_type: str):
    """An exact (``flat``) or approximate (``hnsw``) inner-product index over ``vectors``."""
    import faiss

    dim = vectors.shape[1]
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def embed_texts(texts: list[str], embeddings, *, show_progress: bool = False) -> np.ndarray:
    """Embed ``texts`` in batches, with a tqdm progress bar (which the UI's progress tracks too)."""
    out = []
    with tqdm(total=len(texts), desc="Embedding", unit="chunk", disable=not show_progress) as bar:
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start : start + EMBED_BATCH]
            out.append(np.asarray(embeddings.embed_documents(batch), dtype=np.float32))
            bar.update(len(batch))
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)


@dataclass
class IngestReport:
    """What an ingest did."""

    kb: KnowledgeBase
    rebuilt: bool
    files: int
    chunks: int
    skipped: list[SkippedFile]
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    reused: int = 0
    full_rebuild_reason: str | None = None


def _previous(index_dir: Path) -> tuple[dict, list[dict], np.ndarray] | None:
    name = current_name(index_dir)
    if not name or not (index_dir / name / "manifest.json").is_file():
        return None
    try:
        return _read_build(index_dir / name)
    except (OSError, ValueError) as exc:
        log.warning("previous index unreadable, rebuilding: %s", exc)
        return None


def _full_rebuild_reason(previous: dict, wanted: dict) -> str | None:
    labels = {
        "format": "index format",
        "embedding": "embedding model",
        "chunk_size": "CLONE_CHUNK_SIZE",
        "chunk_overlap": "CLONE_CHUNK_OVERLAP",
        "dimensions": "embedding dimensions",
    }
    for key, label in labels.items():
        if key in wanted and previous.get(key) != wanted[key]:
            return f"The {label} changed ({previous.get(key)} -> {wanted[key]}): rebuilding the whole index."
    return None


def ensure_index(
    content_dir: Path,
    settings: Settings,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    show_progress: bool = False,
    extra: Sequence[SourceFile] = (),
) -> IngestReport:
    """Bring the index up to date with ``content_dir``, embedding only what is new or changed.

    ``extra`` adds documents that are not files in the folder: the creator's answers from the inbox.
    """
    say = progress or (lambda msg: log.info(msg))
    scan = scan_folder(
        content_dir,
        max_file_mb=settings.max_file_mb,
        max_zip_files=settings.max_zip_files,
        max_zip_mb=settings.max_zip_mb,
    )
    for skip in scan.skipped:
        say(f"Skipped {skip.path}: {skip.reason}")
    taken = {f.path for f in scan.files}
    for doc in extra:
        if doc.path in taken:
            say(f"Skipped {doc.path}: a content file has the same path")
            continue
        scan.files.append(doc)
    if not scan.files:
        raise ContentError(f"No readable content files in {content_dir}; nothing to index.")
    index_dir = settings.index_dir
    embeddings = embedder(settings)
    settings_part = {
        "format": INDEX_FORMAT,
        "embedding": embedding_key(settings),
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
    }
    previous = None if force else _previous(index_dir)
    reason = _full_rebuild_reason(previous[0], settings_part) if previous else None
    if reason:
        say(reason)
        previous = None
    old_docs = previous[0]["documents"] if previous else {}
    docs = {f.path: f for f in scan.files}
    added = sorted(p for p in docs if p not in old_docs)
    changed = sorted(p for p in docs if p in old_docs and old_docs[p]["sha256"] != docs[p].sha256)
    removed = sorted(p for p in old_docs if p not in docs)
    if previous and not (added or changed or removed):
        kb = load_index(index_dir, settings)
        return IngestReport(kb, False, len(docs), kb.size, scan.skipped, reused=kb.size)

    # Reuse the chunks and vectors of unchanged documents; embed the rest.
    kept: dict[str, list[tuple[dict, np.ndarray]]] = {}
    if previous:
        _, old_chunks, old_vectors = previous
        for chunk, vector in zip(old_chunks, old_vectors, strict=True):
            source = chunk["metadata"]["source"]
            if source in docs and source not in changed:
                kept.setdefault(source, []).append((chunk, vector))
    fresh_files: list[SourceFile] = [docs[p] for p in sorted(docs) if p not in kept]
    fresh = split_documents(fresh_files, chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)
    say(f"Embedding {len(fresh)} chunks from {len(fresh_files)} new or changed documents...")
    fresh_vectors = embed_texts(
        [chunk_text_to_embed(d.page_content, d.metadata.get("title", "")) for d in fresh],
        embeddings,
        show_progress=show_progress,
    )
    for doc, vector in zip(fresh, fresh_vectors, strict=True):
        chunk = {"id": doc.metadata["id"], "text": doc.page_content, "metadata": doc.metadata}
        kept.setdefault(doc.metadata["source"], []).append((chunk, vector))

    chunks = [chunk for path in sorted(kept) for chunk, _ in kept[path]]
    vectors = np.stack([vector for path in sorted(kept) for _, vector in kept[path]]).astype(np.float32)
    index_type = "hnsw" if len(chunks) >= settings.ann_threshold else "flat"
    manifest = {
        **settings_part,
        "dimensions": int(vectors.shape[1]),
        "index_type": index_type,
        "chunks": len(chunks),
        "documents": {
            p: {"sha256": docs[p].sha256, "chunks": len(kept[p]), "title": docs[p].metadata.get("title", "")}
            for p in sorted(kept)
        },
    }
    name = _fingerprint(manifest)
    index = build_faiss(vectors, index_type)
    _write_build(index_dir, name, manifest, chunks, vectors, index)
    reused = len(chunks) - len(fresh)
    say(
        f"Indexed {len(chunks)} chunks from {len(docs)} documents "
        f"({len(added)} added, {len(changed)} changed, {len(removed)} removed, {reused} chunks reused)."
    )
    kb = KnowledgeBase(index_dir / name, manifest, chunks, vectors, index, embeddings)
    return IngestReport(kb, True, len(docs), len(chunks), scan.skipped, added, changed, removed, reused, reason)


def _write_build(index_dir: Path, name: str, manifest: dict, chunks: list[dict], vectors: np.ndarray, index) -> None:
    """Write a complete build in a temporary folder, move it into place, then switch ``CURRENT``."""
    import faiss

    index_dir.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=index_dir))
    try:
        with (build / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(chunk, ensure_ascii=False) + "\n")
        np.save(build / "vectors.npy", vectors, allow_pickle=False)
        faiss.write_index(index, str(build / "index.faiss"))
        (build / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        final = index_dir / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(build, final)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    _swap_current(index_dir, name)


def _swap_current(index_dir: Path, name: str) -> None:
    """Point ``CURRENT`` at ``name`` atomically, then remove older builds."""
    write_atomic(index_dir / "CURRENT", name)
    for entry in index_dir.iterdir():
        if entry.is_dir() and entry.name != name and not entry.name.startswith(".build-"):
            shutil.rmtree(entry, ignore_errors=True)
