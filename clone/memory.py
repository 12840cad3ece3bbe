"""Conversation memory: turn a follow-up ("why?", "what about the second one?") into a standalone query.

Retrieval sees one question at a time, so a follow-up that leans on the conversation is
rewritten by adding the fan's previous question to it. The rule is deterministic and needs no
model, so it works the same for every backend. History itself is kept per fan session by the
UI (never shared between fans) and bounded to ``MAX_TURNS``.
"""

from __future__ import annotations

import re

from clone.tokens import tokenize

MAX_TURNS = 10
# Words that point back into the conversation.
_REFERENCE = re.compile(
    r"\b(it|its|it's|that|that's|this|these|those|them|they|their|he|she|him|her|one|ones|"
    r"first|second|third|fourth|fifth|last|latter|former|other|others|same|else|more|again|also|too|"
    r"why|how come|what about|how about|and then|instead)\b",
    re.I,
)
_STARTS_LIKE_FOLLOW_UP = re.compile(r"^\s*(and|but|so|or|also|then|what about|how about|why|how come)\b", re.I)
SHORT = 6  # content words: a question this short that points back is a follow-up


def is_follow_up(question: str) -> bool:
    """True when ``question`` only makes sense with the conversation before it."""
    words = tokenize(question)
    if not words:
        return True  # "why?", "how so?", "and then?"
    if _STARTS_LIKE_FOLLOW_UP.search(question):
        return len(words) <= SHORT
    return len(words) <= SHORT and bool(_REFERENCE.search(question))


def standalone_query(question: str, history: list[tuple[str, str]] | None) -> str:
    """The query to retrieve with: the question itself, or the previous question plus this follow-up."""
    if not history or not is_follow_up(question):
        return question
    for previous_question, _ in reversed(history):
        if previous_question and previous_question.strip():
            return f"{previous_question.strip()} {question.strip()}"
    return question


def bounded(history: list[tuple[str, str]], turn: tuple[str, str]) -> list[tuple[str, str]]:
    """``history`` with ``turn`` appended, keeping the last ``MAX_TURNS`` turns."""
    return (list(history) + [turn])[-MAX_TURNS:]
