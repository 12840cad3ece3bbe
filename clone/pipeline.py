"""The one place that connects the stages: check -> retrieve -> backend -> citations -> reply."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
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
from clone.intents import IntentClassifier, classifier_for, weights_dir
from clone.memory import MAX_TURNS, standalone_query
from clone.persona import Persona, load_persona
from clone.planted import secrets as marked_secrets
from clone.reply import Reply, cite
from clone.trust.killswitch import KillSwitch
from clone.trust.receipts import Notary
from clone.trust.running import ConsentGuard

log = logging.getLogger(__name__)

# How often a clone checks whether another process (a replica) switched the shared index.
INDEX_CHECK_SECONDS = 5.0
# Once one passage clears the relevance floor, others down to this fraction of it are kept too.
RELATED_FRACTION = 0.5


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
        consent: ConsentGuard | None = None,
    ):
        self.settings = settings
        self.persona = persona
        self.kb = kb  # replaced whole by reindex(); readers take one reference per question
        self.backend = backend
        self.content_dir = Path(content_dir or settings.creator_dir / "content")
        self.killswitch = killswitch or KillSwitch.from_settings(settings, settings.creator_dir)
        self.notary = notary or Notary.load(settings.home)
        # The creator's signed consent, checked on every message (expiry, channels). None: not checked here,
        # for library, CLI and evaluation use; the app always sets it (see ui.create_app).
        self.consent = consent
        # Documents that are not files in the content folder (the creator's inbox answers), read at each re-index.
        self.extra_documents = extra_documents or list
        self._index_checked = time.monotonic()
        self._reload_lock = threading.Lock()
        # Other backends a study's design names (a ``backend`` factor), built once each by name.
        self._backends: dict[str, Backend] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        content_dir: Path | None = None,
        persona: Persona | None = None,
        progress: Callable[[str], None] | None = None,
        extra_documents: Callable[[], list[SourceFile]] | None = None,
        consent: ConsentGuard | None = None,
    ) -> Clone:
        """Load the persona, build or reuse the index, and pick the backend named in the settings.

        ``extra_documents`` returns documents indexed beside the content folder's files (the inbox's answers);
        ``consent`` checks the creator's manifest on every message.
        """
        persona = persona or load_persona(settings.creator_dir)
        content_dir = content_dir or settings.creator_dir / "content"
        backend = get_backend(settings.backend, settings)  # a missing key fails before minutes of indexing
        extra = extra_documents() if extra_documents else []
        report = ensure_index(content_dir, settings, progress=progress, extra=extra)
        clone = cls(
            settings, persona, report.kb, backend, content_dir, extra_documents=extra_documents, consent=consent
        )
        clone.guard_classifier()  # trained or loaded now, not while the first fan waits
        return clone

    def guard_classifier(self) -> IntentClassifier:
        """The guard intents classifier over this clone's embeddings (built once per process)."""
        cache = weights_dir(self.settings.model_cache, self.settings.embedding_export)
        return classifier_for(self.kb.embeddings, cache_dir=cache, embedding_id=embedding_key(self.settings))

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
        a shared everyday word alone never makes an off-topic question look answerable. Passages far
        below the floor are dropped even when another one clears it. Below the floor, the passages
        that hold a word of the question rare in English and in this content still answer it.
        """
        floor = self.settings.relevance_floor
        self.follow_index()
        kb = self.kb  # one snapshot, even if a re-index swaps it meanwhile
        hits = kb.search(question, k=self.settings.top_k, mode=self.settings.retrieval)
        if not any(p.score >= floor for p in hits):
            # A short question about a term of art or a name ("What is Bebung?") scores low against any
            # passage; the passages that name it answer it.
            return kb.naming_rare_words(question, hits)
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

    def backend_named(self, name: str) -> Backend:
        """The backend registered as ``name``, built once and kept ("" or this clone's own: its backend).

        A study's ``backend`` factor answers each participant with their cell's backend; the services build
        every one at start, so a missing key fails then, not when a participant writes.
        """
        if not name or name == self.backend.name:
            return self.backend
        if name not in self._backends:
            self._backends[name] = get_backend(name, self.settings)
        return self._backends[name]

    def closed(self, channel: str | None = None) -> tuple[str, str] | None:
        """``(reason, notice)`` when the clone may not answer on ``channel`` now; ``None`` when it may.

        Revoked by the kill switch, or no valid consent (expired, removed, badly signed): reason "revoked"
        and the kill switch's notice, the same for both. A channel the manifest does not list (``web``,
        ``embed``, ``api``): reason "channel_closed". ``channel=None`` checks no channel.
        """
        name = self.persona.name
        if self.killswitch.revoked():
            return "revoked", self.killswitch.notice(name)
        shut = self.consent.closed(channel) if self.consent is not None else None
        if shut is None:
            return None
        if shut.reason == "channel":
            return "channel_closed", prompt("channel_closed").format(name=name, channel=channel)
        return "revoked", self.killswitch.notice(name)

    def stream(
        self,
        message: str | None,
        history: list[tuple[str, str]] | None = None,
        *,
        channel: str | None = None,
        backend: str = "",
        tone_line: str = "",
    ) -> Iterator[Reply]:
        """Yield growing partial replies, then the final one (``done=True``), signed with a receipt.

        ``channel`` is where the fan asks (``web``, ``embed``, ``api``). A revoked clone (the kill switch), one
        whose consent expired or is gone, and a channel the consent does not list answer nothing: every
        message gets the notice (see :meth:`closed`). A study participant's cell may name another registered
        ``backend`` and a ``tone_line`` added to the persona's tone in the prompt; guardrails are the same.
        """
        answering = self.backend_named(backend)
        shut = self.closed(channel)
        if shut:
            reason, notice = shut
            final = Reply(text=notice, backend=answering.name, refused=True, abstained=True, reason=reason)
            yield self._sign(final)
            return
        persona = self.persona
        if tone_line:
            persona = persona.model_copy(update={"tone": f"{persona.tone} {tone_line}".strip()})
        for reply in self._compose(message, history, answering, persona):
            yield self._sign(reply) if reply.done else reply

    def _sign(self, reply: Reply) -> Reply:
        # Signed: the text with its markers and the numbered source list (labels and links) they point at.
        receipt = self.notary.sign(reply.text, self.persona.id, reply.cited, reply.backend or self.backend.name)
        return replace(reply, receipt=receipt.as_dict())

    def _compose(
        self,
        message: str | None,
        history: list[tuple[str, str]] | None,
        backend: Backend | None = None,
        persona: Persona | None = None,
    ) -> Iterator[Reply]:
        """The reply without its receipt: guardrails, retrieval, backend, citations.

        Guardrails run before retrieval (on the message), on the retrieved passages (injected
        instructions removed) and on the backend's output as it streams (a reply that claims to be
        human, leaks instructions or speaks for the creator beyond the passages is replaced).
        A refusal is recorded on the reply as ``refused=True`` with its ``reason``; it also counts
        as ``abstained``, since the clone gave no answer from the content.
        """
        backend = backend or self.backend
        persona = persona or self.persona
        base = Reply(text="", backend=backend.name, done=False)
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
        retrieved = self.retrieve(query)
        links = self.persona.allowed_links
        passages = clean_passages(retrieved, allowed_links=links)
        # Strings the content marks as secret, from everything retrieved (removed sentences included):
        # a reply carrying one is replaced, whichever sentence or backend it came from.
        hidden = marked_secrets("\n".join(p.text for p in retrieved))
        if not passages:
            yield replace(
                base, text=self.persona.no_answer_message, abstained=True, reason="no_relevant_content", done=True
            )
            return
        request = AnswerRequest(
            question=verdict.text,
            passages=passages,
            persona=persona,
            history=list(history or [])[-MAX_TURNS:],
            retrieval_query=query if query != verdict.text else "",
        )
        said = "\n".join(p.text for p in passages)
        raw = ""
        try:
            for piece in backend.stream(request):
                raw += piece
                text, sources = cite(raw, passages)
                check = check_reply(
                    text,
                    name=name,
                    passages_text=said,
                    secrets=_instruction_lines(),
                    content_secrets=hidden,
                    allowed_links=links,
                )
                if not check.ok:
                    yield self._replaced(base, check)
                    return
                # A word still arriving is held back: a code or link is shown only once it is whole and checked.
                cut = max(raw.rfind(" "), raw.rfind("\n"))
                if cut > 0:
                    shown, shown_sources = cite(raw[:cut], passages)
                    yield replace(base, text=shown, sources=shown_sources)
        except BackendError as exc:
            log.warning("backend %s failed: %s", backend.name, exc)
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

    def answer(
        self, message: str | None, history: list[tuple[str, str]] | None = None, *, channel: str | None = None
    ) -> Reply:
        """The final reply to ``message`` on ``channel`` (the last item of :meth:`stream`)."""
        *_, final = self.stream(message, history, channel=channel)
        return final
