"""A reply and everything about how it is shown and read back, in one place: the reply and its sources,
citations, the chat's Markdown with the AI mark and receipt, plain text, and the parsing of pasted text that
Verify checks against a receipt. Used by the pipeline, the UI, the API and Verify alike."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type hints only: importing the index would load FAISS and the embedding stack
    from clone.index import Passage

AI_MARK = "AI-generated reply"
SOURCES_HEADING = "**Sources**"
# A citation marker as the pipeline writes it, with the space before it: "metres [1]."
_MARKER = re.compile(r"\s?\[(\d{1,2})\]")


@dataclass(frozen=True)
class Cited:
    """One entry of a reply's numbered source list: the document's id, its label as shown, and its link."""

    id: str
    label: str
    url: str = ""

    def as_dict(self) -> dict[str, str]:
        """The entry as signed in a version 2 payload."""
        return {"id": self.id, "label": self.label, "url": self.url}


def strip_markers(text: str) -> str:
    """``text`` without its ``[n]`` citation markers (and the space before each)."""
    return _MARKER.sub("", text)


def source_lines(sources: Sequence[Cited], *, links: bool = True) -> list[str]:
    """The numbered source list as the chat shows it: ``1. [label](url)``, or ``1. label`` without links."""
    return [f"{n}. [{s.label}]({s.url})" if links and s.url else f"{n}. {s.label}" for n, s in enumerate(sources, 1)]


def mark_markdown(code: str | None = None, token: str | None = None) -> str:
    """The AI mark under a reply: with its receipt (short code, and the token to copy) when there is one."""
    if code and token:
        return f"<details><summary>{AI_MARK} · receipt <code>{code}</code></summary>\n\n`{token}`\n\n</details>"
    return f"<sub>{AI_MARK}</sub>"


def normalize_text(text: str) -> str:
    """The reply text as it is hashed: NFC, whitespace runs collapsed to one space, ends trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


@dataclass(frozen=True)
class Source:
    """A document a reply drew on: path relative to the content folder, title and link."""

    path: str
    title: str
    url: str
    start: float | None = None
    page: int | None = None

    @property
    def label(self) -> str:
        """The title, with the moment in a video ("Title, at 2:05") or the page of a PDF ("Title, p. 3")."""
        if self.start is not None:
            return f"{self.title}, at {format_time(self.start)}"
        return f"{self.title}, p. {self.page}" if self.page is not None else self.title


def plain(text: str) -> str:
    """Reply text without citation markers or their Markdown links (``[1]``, ``[[1]](url)``)."""
    text = re.sub(r"\s?\[\[\d{1,2}\]\]\([^)]*\)", "", text)
    return _MARKER.sub("", text).strip()


def format_time(seconds: float) -> str:
    """``125`` -> ``"2:05"``; ``3725`` -> ``"1:02:05"``."""
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


@dataclass(frozen=True)
class Reply:
    """A reply to a fan, with everything needed to show it honestly."""

    text: str
    sources: list[Source] = field(default_factory=list)
    abstained: bool = False
    refused: bool = False
    reason: str | None = None
    backend: str = ""
    done: bool = True
    ai_generated: bool = True  # always: machine-readable marking of AI output
    receipt: dict | None = None  # signature by the deployment's key: {"receipt", "code", "signed_by", "algorithm"}

    def markdown(self, *, show_citations: bool = True) -> str:
        """The reply as chat Markdown: numbered citation links and a source list."""
        if not show_citations or not self.sources:
            return _MARKER.sub("", self.text)

        def link(m: re.Match) -> str:
            n = int(m.group(1))
            if not 0 < n <= len(self.sources):
                return ""
            # A source without a link (a creator's own answer) keeps its plain marker: never a dead "#" link.
            url = self.sources[n - 1].url
            return f" [[{n}]]({url})" if url else f" [{n}]"

        text = _MARKER.sub(link, self.text)
        return text + f"\n\n{SOURCES_HEADING}\n" + "\n".join(source_lines(self.cited))

    @property
    def cited(self) -> list[Cited]:
        """The numbered source list as shown and signed: id (path), label and link of each source."""
        return [Cited(s.path, s.label, s.url) for s in self.sources]

    def to_dict(self) -> dict:
        """A JSON-ready form for the API.

        Sources name their file under ``document`` (a ``path`` key would make gradio_client
        mistake them for files to download).
        """
        return {
            "text": self.text,
            "sources": [
                {"document": s.path, "title": s.title, "url": s.url, "start": s.start, "page": s.page}
                for s in self.sources
            ],
            "abstained": self.abstained,
            "refused": self.refused,
            "reason": self.reason,
            "backend": self.backend,
            "ai_generated": self.ai_generated,
            "receipt": self.receipt,
        }

    @property
    def unanswered(self) -> bool:
        """The content had no answer (not a refusal): a question the creator may want to answer."""
        return self.abstained and not self.refused

    @property
    def plain_text(self) -> str:
        """The reply as a fan reads it without citations: no markers (a receipt verifies it, or the marked text)."""
        return plain(self.text)


def cite(text: str, passages: list[Passage]) -> tuple[str, list[Source]]:
    """Keep only citation markers that point at retrieved passages, renumbered per source.

    Passages of one document share a source, except passages with their own moment of a video or
    page of a PDF, which cite that (with or without a link).

    A marker naming a passage that was not retrieved is removed, so no citation reaches a fan
    unless its passage was actually given to the backend.
    """
    sources: list[Source] = []
    number: dict[tuple, int] = {}

    def swap(m: re.Match) -> str:
        n = int(m.group(1))
        if not 1 <= n <= len(passages):
            return ""
        p = passages[n - 1]
        key = (p.source, p.url, p.start, p.page)
        if key not in number:
            sources.append(Source(p.source, p.title, p.url, p.start, p.page))
            number[key] = len(sources)
        return f" [{number[key]}]"

    return _MARKER.sub(swap, text).strip(), sources


def reply_markdown(reply: Reply, show_citations: bool = True) -> str:
    """A reply as shown in the chat: text, sources, and the AI-generated mark with its receipt."""
    receipt = reply.receipt or {}
    # The receipt signs this text, source list and mark as they are: Verify reads them back by this structure.
    return (
        reply.markdown(show_citations=show_citations)
        + "\n\n"
        + mark_markdown(receipt.get("code"), receipt.get("receipt"))
    )


def signed_part(text: str, cited: Sequence[Cited], code: str, token: str) -> str:
    """The pasted ``text`` reduced, by its structure, to the reply body a version 2 receipt signs.

    Read from the end: one AI mark line (any form the chat shows, for this receipt's ``code`` and
    ``token``), then the whole source list if it equals ``cited`` (Markdown links, plain titles, with or
    without numbers); then in the body each ``[[n]](url)`` whose ``url`` is source ``n``'s signed link
    becomes ``[n]``. Nothing is cut: text that is not exactly one of these parts stays in the body, where
    it fails the hash. The result is normalised (:func:`normalize_text`).
    """
    body = normalize_text(text)
    marks = [
        normalize_text(mark_markdown(code, token)),
        f"{AI_MARK} · receipt {code} {token}",
        f"{AI_MARK} · receipt {code}",
        normalize_text(mark_markdown()),
        AI_MARK,
    ]
    body = _drop_tail(body, marks)
    if cited:
        styles = (source_lines(cited), source_lines(cited, links=False), [c.label for c in cited])
        blocks = [normalize_text("\n".join([h, *lines])) for h in (SOURCES_HEADING, "Sources") for lines in styles]
        body = _drop_tail(body, blocks)
    for n, c in enumerate(cited, 1):
        body = body.replace(f"[[{n}]]({c.url or '#'})", f"[{n}]")
    return body


def _drop_tail(text: str, tails: Sequence[str]) -> str:
    """``text`` without the first of ``tails`` it ends with (as a whole part, after a space)."""
    for tail in tails:
        if text == tail:
            return ""
        if text.endswith(" " + tail):
            return text[: -len(tail) - 1]
    return text
