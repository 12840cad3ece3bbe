"""The offline default: answer with the creator's own sentences.

It picks the sentences most similar to the question across the retrieved passages (not whole
chunks), keeps them in the order they were said, and adds a lead-in from the persona card.
Every word it outputs is the creator's or the persona card's: it cannot invent a fact.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from clone.backends.base import AnswerRequest
from clone.index import get_embeddings

# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket) before white space.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
# Sentences that lean on the one before them ("It ...", "That's why ...") need it for sense.
_BACK_REFERENCE = re.compile(
    r"^(it|its|it's|that|that's|this|these|those|they|them|so|but|and|also|then|which)\b", re.I
)
MAX_SENTENCES = 3
MAX_CHARS = 650
# Sentences scoring within this margin of the best one are kept too.
KEEP_MARGIN = 0.10


@dataclass(frozen=True)
class _Sentence:
    passage: int  # 0-based position in request.passages
    position: int  # order inside the passage
    text: str


def split_sentences(text: str) -> list[str]:
    """Split a passage into sentences, line by line, dropping Markdown headings and list markers."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"^([-*+]|\d+[.)])\s+", "", line)
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def _usable(sentence: str) -> bool:
    """Whole statements only: no questions, fragments or walls of text."""
    return len(sentence.split()) >= 4 and not sentence.rstrip("\"')").endswith("?") and len(sentence) <= 500


class ExtractiveBackend:
    """Sentence-level extractive answers; needs no key and no network."""

    name = "extractive"

    def __init__(self, embedding_model: str = ""):
        self.embedding_model = embedding_model

    def select(self, request: AnswerRequest) -> list[_Sentence]:
        """The sentences that answer the question, in the order they will be said."""
        by_passage = [split_sentences(p.text) for p in request.passages]
        candidates: list[_Sentence] = []
        seen: set[str] = set()
        for pi, sentences in enumerate(by_passage):
            for si, sentence in enumerate(sentences):
                key = re.sub(r"\W+", " ", sentence.lower()).strip()
                if _usable(sentence) and key not in seen:
                    seen.add(key)
                    candidates.append(_Sentence(pi, si, sentence))
        if not candidates:
            return []
        embeddings = get_embeddings(self.embedding_model)
        vectors = np.asarray(embeddings.embed_documents([c.text for c in candidates]))
        query = np.asarray(embeddings.embed_query(request.question))
        similarity = vectors @ query
        passage_score = np.array([request.passages[c.passage].score for c in candidates])
        score = 0.7 * similarity + 0.3 * passage_score
        order = np.argsort(-score)
        best = score[order[0]]
        chosen: list[_Sentence] = []
        passage_best: dict[int, float] = {}
        length = 0
        for i in order:
            if len(chosen) >= MAX_SENTENCES or score[i] < best - KEEP_MARGIN:
                break
            c = candidates[i]
            if length + len(c.text) > MAX_CHARS and chosen:
                continue
            chosen.append(c)
            passage_best.setdefault(c.passage, float(score[i]))
            length += len(c.text)
        # Give a sentence that refers back ("It stays damp...") the sentence it refers to.
        for c in list(chosen):
            if _BACK_REFERENCE.match(c.text) and c.position > 0:
                prev = by_passage[c.passage][c.position - 1]
                if _usable(prev) and all(x.text != prev for x in chosen):
                    chosen.append(_Sentence(c.passage, c.position - 1, prev))
        # Best passage first; inside a passage, the order the creator said things in.
        return sorted(chosen, key=lambda c: (-passage_best[c.passage], c.position))

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        """Yield the lead-in, then each group of sentences followed by its citation marker."""
        chosen = self.select(request)
        if not chosen:
            return
        lead = _lead_in(request)
        if lead:
            yield lead + " "
        groups: list[tuple[int, list[str]]] = []
        for c in chosen:
            if groups and groups[-1][0] == c.passage:
                groups[-1][1].append(c.text)
            else:
                groups.append((c.passage, [c.text]))
        for n, (passage, texts) in enumerate(groups):
            yield ("" if n == 0 else " ") + " ".join(texts) + f" [{passage + 1}]"


def _lead_in(request: AnswerRequest) -> str:
    """A lead-in from the persona card, chosen stably per question so replies are reproducible."""
    options = request.persona.lead_ins
    if not options:
        return ""
    pick = int(hashlib.sha256(request.question.encode()).hexdigest(), 16) % len(options)
    return options[pick]
