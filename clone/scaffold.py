"""A new creator folder: persona card, consent manifest, content folder and ``.env.example``.

``python -m clone init DIR --name NAME`` calls :func:`scaffold`; the creator then copies their
transcripts, posts and FAQs into ``DIR/content/`` and runs ``python -m clone serve DIR``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from clone.config import SETTINGS
from clone.errors import ConfigError
from clone.persona import PERSONA_FILE, Persona
from clone.trust.consent import InitResult, init_consent

MAX_NAME = 100


def slug(name: str) -> str:
    """A persona id from a name: ``"Sam Berg"`` -> ``"sam-berg"``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64] or "creator"


@dataclass(frozen=True)
class Scaffold:
    """What :func:`scaffold` made."""

    folder: Path
    persona: Persona
    consent: InitResult


def scaffold(
    folder: Path,
    name: str,
    *,
    bio: str | None = None,
    key_path: Path | None = None,
    channels: Sequence[str] = (),
) -> Scaffold:
    """Create a creator folder for ``name``; refuse to touch a folder that already holds a persona card.

    ``channels`` are where the creator's consent lets the clone answer (default: ``web`` only).
    """
    folder = Path(folder)
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise ConfigError(f"--name must be 1 to {MAX_NAME} characters.")
    if (folder / PERSONA_FILE).exists():
        raise ConfigError(f"{folder / PERSONA_FILE} already exists; edit it, or pick a new folder.")
    persona = Persona(
        id=slug(name),
        name=name,
        bio=bio or f"{name} is a content creator. (Edit this bio in persona.yaml.)",
        tone="Friendly and direct. (Describe how you talk.)",
        greeting=f"Hi! I'm the AI clone of {name}. Ask me about what {name} has published, and I'll link the source.",
        no_answer_message=f"I haven't talked about that, so I'd rather not guess. Ask {name} directly!",
        topics_to_avoid=["politics"],
    )
    (folder / "content").mkdir(parents=True, exist_ok=True)
    card = yaml.safe_dump(persona.model_dump(exclude_defaults=True), sort_keys=False, allow_unicode=True)
    (folder / PERSONA_FILE).write_text(
        "# Persona card: see 'Persona card' in the README. Validated when the app starts.\n" + card, encoding="utf-8"
    )
    (folder / ".env.example").write_text(env_example(folder), encoding="utf-8")
    consent = init_consent(folder, key_path=key_path, channels=channels)
    return Scaffold(folder, persona, consent)


def env_example(folder: Path) -> str:
    """Every setting with its default and help, commented out, for a creator to copy to ``.env``."""
    lines = ["# Copy to .env and uncomment what you change. Keys and tokens belong in .env, never in git.", ""]
    for s in SETTINGS:
        default = str(folder) if s.name == "CLONE_CREATOR_DIR" else s.default
        lines += [f"# {s.help}", f"# {s.name}={default}", ""]
    lines += ["# Keys for hosted backends (read from the environment only):", "# HF_TOKEN=", "# OPENAI_API_KEY=", ""]
    return "\n".join(lines)
