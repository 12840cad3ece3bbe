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

The package: ``documents`` (what a file becomes), ``formats`` (one reader per format), ``folder`` (the
content folder and zip archives), ``chunks`` (passages for the index).
"""

from clone.ingest.chunks import (
    chunk_segments,
    split_documents,
)
from clone.ingest.documents import (
    METADATA_FIELDS,
    POST_DATE_FIELDS,
    POST_ID_FIELDS,
    POST_TEXT_FIELDS,
    POST_URL_FIELDS,
    SIDECAR_SUFFIXES,
    SUPPORTED_SUFFIXES,
    ContentScan,
    Segment,
    SkippedFile,
    SourceFile,
    url_at_page,
    url_at_time,
)
from clone.ingest.folder import (
    scan_folder,
)

__all__ = [
    "ContentScan",
    "METADATA_FIELDS",
    "POST_DATE_FIELDS",
    "POST_ID_FIELDS",
    "POST_TEXT_FIELDS",
    "POST_URL_FIELDS",
    "SIDECAR_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "Segment",
    "SkippedFile",
    "SourceFile",
    "chunk_segments",
    "scan_folder",
    "split_documents",
    "url_at_page",
    "url_at_time",
]
