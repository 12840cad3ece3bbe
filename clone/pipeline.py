"""The one place that connects the stages: check -> retrieve -> backend -> citations -> reply."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from clone.backends import AnswerRequest, Backend, get_backend
from clone.config import Settings
from clone.errors import BackendError, CloneError
from clone.guardrails import check_message, check_reply, clean_passages, prompt
from clone.index import (
    IngestReport,
    KnowledgeBase,
    Passage,
    current_name,
    embedding_key,
    ensure_index,
    load_index,
)
from clone.ingest import SourceFile
from clone.intents import IntentClassifier, classifier_for
from clone.memory import MAX_TURNS, standalone_query
from clone.persona import Persona, load_persona
from clone.trust.killswitch import KillSwitch
from clone.trust.receipts import Notary

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\s?\[(\d{1,2})\]")
# How often a clone checks whether another process (a replica) switched the shared index.
INDEX_CHECK_SECONDS = 5.0
# Once one passage clears the relevance floor, others down to this fraction of it are kept too.
RELATED_FRACTION = 0.5


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
        text = _MARKER.sub(
            lambda m: (
                f" [[{m.group(1)}]]({self.sources[int(m.group(1)) - 1].url or '#'})"
                if 0 < int(m.group(1)) <= len(self.sources)
                else ""
            ),
            self.text,
        )
        lines = [f"{n}. [{s.label}]({s.url})" if s.url else f"{n}. {s.label}" for n, s in enumerate(self.sources, 1)]
        return text + "\n\n**Sources**\n" + "\n".join(lines)

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
        """The reply as a fan reads and copies it: no citation markers. This is what receipts sign."""
        return plain(self.text)


def cite(text: str, passages: list[Passage]) -> tuple[str, list[Source]]:
    """Keep only citation markers that point at retrieved passages, renumbered per source.

    Passages of one document share a source, except passages with their own link (a moment of a
    video, a page of a PDF), which cite that.

    A marker naming a passage that was not retrieved is removed, so no citation reaches a fan
    unless its passage was actually given to the backend.
    """
    sources: list[Source] = []
    number: dict[tuple[str, str], int] = {}

    def swap(m: re.Match) -> str:
        n = int(m.group(1))
        if not 1 <= n <= len(passages):
            return ""
        p = passages[n - 1]
        key = (p.source, p.url)
        if key not in number:
            sources.append(Source(p.source, p.title, p.url, p.start, p.page))
            number[key] = len(sources)
        return f" [{number[key]}]"

    return _MARKER.sub(swap, text).strip(), sources


@cache
def _instruction_lines() -> tuple[str, ...]:
    """Fixed sentences of the LLM system prompt: a reply that repeats one is leaking its instructions."""
    pieces = re.split(r"\{\{.*?\}\}|\{%.*?%\}|\n", prompt("llm_system"))
    pieces = (re.sub(r"^[\W\d]*(?=[A-Za-z])", "", piece.strip()) for piece in pieces)
    return tuple(piece[:60] for piece in pieces if len(piece) >= 40)


class Clone:
    """A creator's clone: persona, knowledge base and backend, ready to answer fans."""

    def __init__(
        self,
        settings: Settings,
        persona: Persona,
        kb: KnowledgeBase,
        backend: Backend,
        content_dir: Path | None = None,
        *,
        killswitch: KillSwitch | None = None,
        notary: Notary | None = None,
        extra_documents: Callable[[], list[SourceFile]] | None = None,
    ):
        self.settings = settings
        self.persona = persona
        self.kb = kb  # replaced whole by reindex(); readers take one reference per question
        self.backend = backend
        self.content_dir = Path(content_dir or settings.creator_dir / "content")
        self.killswitch = killswitch or KillSwitch.from_settings(settings, settings.creator_dir)
        self.notary = notary or Notary.load(settings.home)
        # Documents that are not files in the content folder (the creator's inbox answers), read at each re-index.
        self.extra_documents = extra_documents or list
        self._index_checked = time.monotonic()
        self._reload_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        content_dir: Path | None = None,
        persona: Persona | None = None,
        progress: Callable[[str], None] | None = None,
        extra_documents: Callable[[], list[SourceFile]] | None = None,
    ) -> Clone:
        """Load the persona, build or reuse the index, and pick the backend named in the settings.

        ``extra_documents`` returns documents indexed beside the content folder's files (the inbox's answers).
        """
        persona = persona or load_persona(settings.creator_dir)
        content_dir = content_dir or settings.creator_dir / "content"
        backend = get_backend(settings.backend, settings)  # a missing key fails before minutes of indexing
        extra = extra_documents() if extra_documents else []
        report = ensure_index(content_dir, settings, progress=progress, extra=extra)
        clone = cls(settings, persona, report.kb, backend, content_dir, extra_documents=extra_documents)
        clone.guard_classifier()  # trained or loaded now, not while the first fan waits
        return clone

    def guard_classifier(self) -> IntentClassifier:
        """The guard intents classifier over this clone's embeddings (built once per process)."""
        cache, key = self.settings.model_cache, embedding_key(self.settings)
        return classifier_for(self.kb.embeddings, cache_dir=cache, embedding_id=key)

    def reindex(self, *, progress: Callable[[str], None] | None = None, show_progress: bool = False) -> IngestReport:
        """Bring the index up to date with the content folder and start answering from it."""
        report = ensure_index(
            self.content_dir,
            self.settings,
            progress=progress,
            show_progress=show_progress,
            extra=self.extra_documents(),
        )
        self.kb = report.kb
        return report

    def retrieve(self, question: str) -> list[Passage]:
        """The best passages, or none when not one of them clears the relevance floor.

        The floor is on cosine similarity, whichever ranking (dense or BM25) found the passage:
        a shared word alone never makes an off-topic question look answerable. Passages far
        below the floor are dropped even when another one clears it.
        """
        floor = self.settings.relevance_floor
        self.follow_index()
        kb = self.kb  # one snapshot, even if a re-index swaps it meanwhile
        hits = kb.search(question, k=self.settings.top_k, mode=self.settings.retrieval)
        if not any(p.score >= floor for p in hits):
            return []
        return [p for p in hits if p.score >= floor * RELATED_FRACTION]

    def follow_index(self, every: float = INDEX_CHECK_SECONDS) -> bool:
        """Load the index another process built (a replica's re-index), if ``CURRENT`` moved on.

        Replicas share one index folder: the one that re-indexes writes a new build and switches
        ``CURRENT``; the others notice within ``every`` seconds (one small file read) and swap it in.
        Returns whether a new index was loaded.
        """
        now = time.monotonic()
        if now - self._index_checked < every:
            return False
        self._index_checked = now
        name = current_name(self.settings.index_dir)
        if not name or name == self.kb.path.name or not self._reload_lock.acquire(blocking=False):
            return False
        try:
            if current_name(self.settings.index_dir) == self.kb.path.name:
                return False
            self.kb = load_index(self.settings.index_dir, self.settings)
            log.info("loaded the index %s built by another process", self.kb.path.name)
            return True
        except CloneError as exc:  # a build being replaced as we read it: keep the one we have
            log.warning("could not load the new index: %s", exc)
            return False
        finally:
            self._reload_lock.release()

    def stream(self, message: str | None, history: list[tuple[str, str]] | None = None) -> Iterator[Reply]:
        """Yield growing partial replies, then the final one (``done=True``), signed with a receipt.

        A revoked clone (the kill switch) answers nothing: every message gets the notice.
        """
        revoked = self.killswitch.revoked()
        if revoked:
            notice = self.killswitch.notice(self.persona.name)
            final = Reply(text=notice, backend=self.backend.name, refused=True, abstained=True, reason="revoked")
            yield self._sign(final)
            return
        for reply in self._compose(message, history):
            yield self._sign(reply) if reply.done else reply

    def _sign(self, reply: Reply) -> Reply:
        receipt = self.notary.sign(
            reply.plain_text, self.persona.id, [s.path for s in reply.sources], reply.backend or self.backend.name
        )
        return replace(reply, receipt=receipt.as_dict())

    def _compose(self, message: str | None, history: list[tuple[str, str]] | None) -> Iterator[Reply]:
        """The reply without its receipt: guardrails, retrieval, backend, citations.

        Guardrails run before retrieval (on the message), on the retrieved passages (injected
        instructions removed) and on the backend's output as it streams (a reply that claims to be
        human, leaks instructions or speaks for the creator beyond the passages is replaced).
        A refusal is recorded on the reply as ``refused=True`` with its ``reason``; it also counts
        as ``abstained``, since the clone gave no answer from the content.
        """
        base = Reply(text="", backend=self.backend.name, done=False)
        name = self.persona.name
        verdict = check_message(
            message,
            name=name,
            max_chars=self.settings.max_message_chars,
            topics_to_avoid=self.persona.topics_to_avoid,
            aliases=self.persona.aliases,
            classifier=self.guard_classifier(),
        )
        if not verdict.ok:
            refused = verdict.refused
            yield replace(
                base, text=verdict.reply, reason=verdict.reason, refused=refused, abstained=refused, done=True
            )
            return
        query = standalone_query(verdict.text, history)
        passages = clean_passages(self.retrieve(query))
        if not passages:
            yield replace(
                base, text=self.persona.no_answer_message, abstained=True, reason="no_relevant_content", done=True
            )
            return
        request = AnswerRequest(
            question=verdict.text,
            passages=passages,
            persona=self.persona,
            history=list(history or [])[-MAX_TURNS:],
            retrieval_query=query if query != verdict.text else "",
        )
        said = "\n".join(p.text for p in passages)
        raw = ""
        try:
            for piece in self.backend.stream(request):
                raw += piece
                text, sources = cite(raw, passages)
                check = check_reply(text, name=name, passages_text=said, secrets=_instruction_lines())
                if not check.ok:
                    yield self._replaced(base, check)
                    return
                yield replace(base, text=text, sources=sources)
        except BackendError as exc:
            log.warning("backend %s failed: %s", self.backend.name, exc)
            yield replace(base, text=prompt("backend_error"), reason="backend_error", done=True)
            return
        text, sources = cite(raw, passages)
        if not text or not sources:
            # A reply that cites nothing we retrieved is not grounded: say so instead of guessing.
            yield replace(base, text=self.persona.no_answer_message, abstained=True, reason="ungrounded", done=True)
            return
        yield replace(base, text=text, sources=sources, done=True)

    @staticmethod
    def _replaced(base: Reply, check) -> Reply:
        log.warning("reply replaced by a guardrail: %s", check.reason)
        return replace(base, text=check.reply, reason=check.reason, refused=True, abstained=True, done=True)

    def answer(self, message: str | None, history: list[tuple[str, str]] | None = None) -> Reply:
        """The final reply to ``message`` (the last item of :meth:`stream`)."""
        *_, final = self.stream(message, history)
        return final
