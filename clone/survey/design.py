"""A study's design: a list of conditions, or factors with levels crossed into cells (a factorial design).

Each cell says what the chat does for a participant assigned to it: citations shown or hidden, the creator's
avatar shown or hidden, which registered backend answers, a tone line added to the persona's tone (with its own
greeting), and the wording of the chat's AI disclosure. No cell is without an AI disclosure: a wording must say
"AI". Cell ids name every level (``citations=shown|tone=warm``); they are the ``condition`` of the assignments
table and of the exports.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from clone.errors import SurveyError


class Condition(BaseModel):
    """One arm of the study. The AI disclosure is never a condition: every arm shows it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    show_citations: bool = True


# The factors a factorial design may cross, and the levels each takes. ``tone`` and ``disclosure`` levels other
# than ``default`` / ``standard`` are defined in study.yaml (``tones:``, ``disclosures:``); ``backend`` levels
# are registered backend names (clone.backends). There is no level without an AI disclosure.
FACTORS = ("citations", "tone", "avatar", "backend", "disclosure")
SHOWN_HIDDEN = ("shown", "hidden")
DEFAULT_TONE = "default"
STANDARD_DISCLOSURE = "standard"
_LEVEL = r"^[a-z][a-z0-9_-]*$"
_SAYS_AI = re.compile(r"\bAI\b")


class Tone(BaseModel):
    """A persona tone level: a line added to the persona's tone in the prompt, and optionally its own greeting."""

    model_config = ConfigDict(extra="forbid")
    line: str = Field(min_length=1, max_length=300)
    greeting: str = Field("", max_length=500)


class Cell(Condition):
    """One cell of a factorial design (every factor at one level), or one arm of a ``conditions:`` list.

    ``id`` is the cell id, e.g. ``citations=shown|tone=warm``; ``levels`` the level of each factor. What the
    chat does for the participant: ``show_citations``, ``show_avatar``, ``backend`` ("" keeps the deployment's),
    ``tone_line`` (added to the persona's tone) with ``greeting`` ("" keeps the persona's), and ``disclosure``
    (the wording of the chat's AI disclosure; "" is the standard one). Every cell shows an AI disclosure.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*(=[a-z0-9_-]+(\|[a-z][a-z0-9_]*=[a-z0-9_-]+)*)?$")
    levels: dict[str, str] = Field(default_factory=dict)
    show_avatar: bool = True
    backend: str = ""
    tone_line: str = ""
    greeting: str = ""
    disclosure: str = ""


def cell_id(levels: dict[str, str]) -> str:
    """A cell's id: ``factor=level`` pairs in the design's factor order, joined by ``|``."""
    return "|".join(f"{factor}={level}" for factor, level in levels.items())


def parse_cell(cell: str) -> dict[str, str]:
    """The levels of a cell id (``{}`` for the id of a ``conditions:`` arm)."""
    if "=" not in cell:
        return {}
    return dict(part.split("=", 1) for part in cell.split("|"))


def check_factors(factors: dict[str, list], tones: dict[str, Tone], disclosures: dict[str, str]) -> None:
    """Every factor known, its levels distinct names it allows, every disclosure wording saying "AI" (else
    ``ValueError``, which pydantic reports as a problem of study.yaml)."""
    if not factors:
        raise ValueError("factors needs at least one factor")
    for name, levels in factors.items():
        if name not in FACTORS:
            raise ValueError(f"unknown factor {name!r}; use one of: {', '.join(FACTORS)}")
        if not levels or len(set(levels)) != len(levels):
            raise ValueError(f"factor {name} needs one or more distinct levels")
        for level in levels:
            if not isinstance(level, str):
                raise ValueError(
                    f"level {level!r} of factor {name} is not a name: YAML reads on, off, yes and no as true "
                    "or false; use names like shown and hidden (or quote them)"
                )
            if not re.match(_LEVEL, level):
                raise ValueError(f"level {level!r} of factor {name} must be a lower-case name like warm")
        allowed = {
            "citations": set(SHOWN_HIDDEN),
            "avatar": set(SHOWN_HIDDEN),
            "tone": {DEFAULT_TONE, *tones},
            "disclosure": {STANDARD_DISCLOSURE, *disclosures},
        }.get(name)
        unknown = [level for level in levels if allowed is not None and level not in allowed]
        if unknown:
            where = {"tone": " (define it under tones:)", "disclosure": " (define it under disclosures:)"}
            raise ValueError(
                f"factor {name} has unknown levels {unknown}; use {', '.join(sorted(allowed))}{where.get(name, '')}"
            )
    if DEFAULT_TONE in tones or STANDARD_DISCLOSURE in disclosures:
        raise ValueError("tones cannot redefine 'default', nor disclosures 'standard'")
    for level, wording in disclosures.items():
        # A disclosure level changes the wording, never removes it: every wording must say it is an AI.
        if not wording.strip() or not _SAYS_AI.search(wording):
            raise ValueError(f"disclosure wording {level!r} must be non-empty and say 'AI'")


def cells(
    conditions: list[Condition] | None,
    factors: dict[str, list] | None,
    tones: dict[str, Tone],
    disclosures: dict[str, str],
) -> list[Cell]:
    """The design's cells: the conditions as they are, or every crossing of the factors' levels."""
    if factors is None:
        return [Cell(id=c.id, show_citations=c.show_citations) for c in conditions or []]
    out = []
    names = list(factors)
    for combination in itertools.product(*factors.values()):
        levels = dict(zip(names, combination, strict=True))
        tone = tones.get(levels.get("tone", DEFAULT_TONE))
        out.append(
            Cell(
                id=cell_id(levels),
                levels=levels,
                show_citations=levels.get("citations", "shown") == "shown",
                show_avatar=levels.get("avatar", "shown") == "shown",
                backend=levels.get("backend", ""),
                tone_line=tone.line if tone else "",
                greeting=tone.greeting if tone else "",
                disclosure=disclosures.get(levels.get("disclosure", STANDARD_DISCLOSURE), ""),
            )
        )
    return out


def check_backends(path: Path, factors: dict[str, list[str]]) -> None:
    """A ``backend`` factor's levels must be registered backends (``SurveyError`` naming the file if not)."""
    from clone.backends import available

    unknown = [level for level in factors.get("backend", []) if level not in available()]
    if unknown:
        raise SurveyError(
            f"Study file {path}: factor backend has unknown levels {unknown}; use registered backends: "
            f"{', '.join(available())}."
        )
