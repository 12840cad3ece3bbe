"""Chunking: documents split into passages, timed cues kept whole with their start times."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from clone.ingest.documents import (
    _SENTENCE_END,
    _SEPARATORS,
    Segment,
    SourceFile,
    url_at_page,
    url_at_time,
)

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
