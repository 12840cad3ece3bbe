"""The one small interface every answering backend implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from clone.index import Passage
from clone.persona import Persona


@dataclass(frozen=True)
class AnswerRequest:
    """What a backend gets: the fan's question, the relevant passages (numbered from 1), the persona.

    ``history`` holds this fan's earlier (question, reply) turns; ``retrieval_query`` is the
    standalone form of a follow-up question that retrieval used (empty: the question itself).
    """

    question: str
    passages: list[Passage]
    persona: Persona
    history: list[tuple[str, str]] = field(default_factory=list)
    retrieval_query: str = ""


@runtime_checkable
class Backend(Protocol):
    """Turns an :class:`AnswerRequest` into reply text, streamed in pieces.

    The text cites passages with markers ``[1]``, ``[2]`` ... (1-based positions in
    ``request.passages``); the pipeline checks the markers and turns them into sources.
    """

    name: str

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        """Yield the reply in pieces; joined, they are the whole reply."""
        ...
