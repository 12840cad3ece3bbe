"""Checks enforced in code, around every backend: pure functions, no model involved.

The AI disclosure lives here too: its copy is a data file, and nothing in the settings or the
persona card can switch it off.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources


@cache
def prompt(name: str) -> str:
    """The text of ``clone/prompts/<name>.md``."""
    return resources.files("clone.prompts").joinpath(f"{name}.md").read_text(encoding="utf-8").strip()


def disclosure(name: str) -> str:
    """The banner shown at the top of every view: this is an AI clone of ``name``, not the person."""
    return prompt("banner").format(name=name)


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check on a fan's message: either the cleaned text, or a reply to give instead."""

    text: str
    reply: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when the message may go on to retrieval and the backend."""
        return self.reply is None


def clean_message(text: str | None) -> str:
    """Normalise a fan's message: Unicode NFKC, no control characters, trimmed."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return text.strip()


# "Are you real?", "am I talking to a bot", "is this actually Rosa?", "r u human"
_IDENTITY = re.compile(
    r"\b(are|r)\s+(you|u)\s+(a\s+|an\s+)?(real|human|person|bot|robot|ai|a\.i\.|machine|alive|actually|really)\b"
    r"|\b(talking|chatting|speaking)\s+(to|with)\s+(a\s+|an\s+)?(real|human|person|bot|robot|ai|machine)\b"
    r"|\bis\s+this\s+(really|actually|the\s+real)\b"
    r"|\bare\s+you\s+(the\s+)?(real|actual)\b",
    re.I,
)


def is_identity_question(text: str) -> bool:
    """True when the fan asks whether they are talking to a person, a bot, or the real creator."""
    return bool(_IDENTITY.search(text))


def check_message(text: str | None, *, name: str, max_chars: int) -> Verdict:
    """Validate a fan's message before anything else sees it."""
    cleaned = clean_message(text)
    if not cleaned:
        return Verdict(cleaned, prompt("empty_message").format(name=name), "empty")
    if len(cleaned) > max_chars:
        return Verdict(cleaned, prompt("too_long").format(length=len(cleaned), limit=max_chars), "too_long")
    if is_identity_question(cleaned):
        return Verdict(cleaned, prompt("identity").format(name=name), "identity")
    return Verdict(cleaned)
