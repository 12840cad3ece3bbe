"""Survey instruments as data files (YAML), validated with pydantic.

Each item gets a stable column name ``<instrument>_<subscale>_<nn>``, numbered inside its
subscale, with an ``R`` suffix for reverse-scored items.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from clone.config import ASSETS_DIR
from clone.errors import SurveyError
from clone.survey.design import Cell, Condition, Tone, cells, check_backends, check_factors

DEFAULT_STUDY = ASSETS_DIR / "instruments" / "study.yaml"
# The full battery of the first version, for researchers who select it (CLONE_STUDY); the default is short.
FULL_STUDY = ASSETS_DIR / "instruments" / "study_full.yaml"
PHASES = ("pre", "post")
_SLUG = r"^[a-z][a-z0-9]*$"


class Scale(BaseModel):
    """A numeric response scale with labelled anchors."""

    model_config = ConfigDict(extra="forbid")
    min: int = 1
    max: int = Field(7, le=11)
    anchors: dict[int, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _anchors_in_range(self) -> Scale:
        if self.min >= self.max:
            raise ValueError("scale.min must be below scale.max")
        bad = [k for k in self.anchors if not self.min <= k <= self.max]
        if bad:
            raise ValueError(f"anchors {bad} lie outside {self.min}..{self.max}")
        return self

    def label(self, value: int) -> str:
        """``"5 - Somewhat agree"``, or just the number where no anchor is set."""
        return f"{value} - {self.anchors[value]}" if value in self.anchors else str(value)


class Item(BaseModel):
    """One question of an instrument."""

    model_config = ConfigDict(extra="forbid")
    subscale: str = Field(pattern=_SLUG)
    text: str = Field(min_length=1, max_length=500)
    reverse: bool = False
    # Semantic differentials label the ends per item (e.g. {1: Fake, 5: Natural}); else the scale's anchors.
    anchors: dict[int, str] | None = None
    # Instructed-response attention check: the answer the item asks for. Such items get no subscale mean.
    attention: int | None = None
    # Where the item comes from in the original scale, e.g. "Jian et al. item 9".
    source: str = ""
    # Manipulation check: what it checks, ``disclosure`` (shown in every condition) or a condition setting
    # (``show_citations``). As expected: above the scale's middle where that is on, below it where off.
    # Such items get no subscale mean.
    manipulation: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$")

    @model_validator(mode="after")
    def _one_kind_of_check(self) -> Item:
        if self.attention is not None and self.manipulation is not None:
            raise ValueError("an item is an attention check or a manipulation check, not both")
        return self

    @property
    def scored(self) -> bool:
        """Whether the item counts in its subscale's mean (checks do not)."""
        return self.attention is None and self.manipulation is None


class Question(BaseModel):
    """An item with its resolved column name."""

    column: str
    item: Item

    def anchors(self, scale: Scale) -> dict[int, str]:
        """The item's own anchors, or the scale's."""
        return self.item.anchors if self.item.anchors is not None else scale.anchors

    def label(self, scale: Scale, value: int) -> str:
        """``"5 - Somewhat agree"``, or just the number where no anchor is set."""
        anchors = self.anchors(scale)
        return f"{value} - {anchors[value]}" if value in anchors else str(value)


class Instrument(BaseModel):
    """A set of items on one scale, with its provenance."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=_SLUG)
    title: str
    version: str = "1.0"
    validated: bool
    citation: str = Field(min_length=1)
    # How the items were changed from the published scale ("robot" -> "AI clone", which items were kept).
    adaptation: str = ""
    # When it is asked: before the chat, after it, or both (a repeated measure, columns ``_pre`` / ``_post``).
    phase: Literal["pre", "post", "both"] = "post"
    scale: Scale
    items: list[Item] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _item_values_in_range(self) -> Instrument:
        for n, item in enumerate(self.items, 1):
            values = list((item.anchors or {}).keys()) + ([item.attention] if item.attention is not None else [])
            if any(not self.scale.min <= v <= self.scale.max for v in values):
                raise ValueError(
                    f"item {n} has an anchor or attention answer outside {self.scale.min}..{self.scale.max}"
                )
        return self

    def asked_in(self, phase: str) -> bool:
        """Whether this instrument is asked in ``phase`` (``pre`` or ``post``)."""
        return self.phase in (phase, "both")

    @field_validator("items")
    @classmethod
    def _unique_texts(cls, items: list[Item]) -> list[Item]:
        texts = [i.text for i in items]
        if len(set(texts)) != len(texts):
            raise ValueError("two items have the same text")
        return items

    @cached_property
    def questions(self) -> list[Question]:
        """Items with their column names, in file order."""
        counts: dict[str, int] = {}
        out = []
        for item in self.items:
            counts[item.subscale] = counts.get(item.subscale, 0) + 1
            column = f"{self.id}_{item.subscale}_{counts[item.subscale]:02d}{'R' if item.reverse else ''}"
            out.append(Question(column=column, item=item))
        return out

    @property
    def columns(self) -> list[str]:
        """Column names of every item, in order."""
        return [q.column for q in self.questions]


def _load(model: type[BaseModel], path: Path, what: str = "Instrument"):
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return model.model_validate(data)
    except OSError as exc:
        raise SurveyError(f"Cannot read {what.lower()} file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SurveyError(f"{what} file {path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SurveyError(f"{what} file {path} has invalid fields: {problems}") from None


class ConsentText(BaseModel):
    """The versioned consent text a participant agrees to."""

    model_config = ConfigDict(extra="forbid")
    file: str
    version: str = Field(min_length=1, max_length=40)


class Panel(BaseModel):
    """Where a participant who came from a paid panel (Prolific or another) goes at the end.

    ``{code}`` in a URL is replaced by its code, e.g. Prolific's
    ``https://app.prolific.com/submissions/complete?cc={code}`` with ``completion_code: C1ABC23``.
    """

    model_config = ConfigDict(extra="forbid")
    completion_code: str = Field("", max_length=100, pattern=r"^[A-Za-z0-9_-]*$")
    completion_url: str = Field("", max_length=500, pattern=r"^(https://\S+)?$")
    screen_out_code: str = Field("", max_length=100, pattern=r"^[A-Za-z0-9_-]*$")
    screen_out_url: str = Field("", max_length=500, pattern=r"^(https://\S+)?$")

    @model_validator(mode="after")
    def _codes_have_urls(self) -> Panel:
        for kind in ("completion", "screen_out"):
            url, code = getattr(self, f"{kind}_url"), getattr(self, f"{kind}_code")
            if "{code}" in url and not code:
                raise ValueError(f"{kind}_url has {{code}} but {kind}_code is empty")
        return self

    def link(self, kind: str) -> str:
        """The ``completion`` or ``screen_out`` URL with its code filled in ("" when none is set)."""
        url, code = getattr(self, f"{kind}_url"), getattr(self, f"{kind}_code")
        return url.replace("{code}", code)


class Block(BaseModel):
    """An instrument file in ``study.yaml`` written as a mapping, to shuffle its items for each participant."""

    model_config = ConfigDict(extra="forbid")
    file: str
    shuffle_items: bool = False


class StudyFile(BaseModel):
    """``study.yaml`` as written: the files and settings that make up a study."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str = "1.0"
    consent: ConsentText
    # Each entry a file name, or {file: …, shuffle_items: true} to shuffle that block's items per participant.
    instruments: list[str | Block] = Field(min_length=1)
    # Shuffle the order of the blocks (instruments) of each phase per participant.
    shuffle_blocks: bool = False
    # The design: a list of conditions, or factors with levels crossed into cells (one of the two).
    conditions: list[Condition] | None = Field(None, min_length=1)
    # Levels are names; a bare on/off/yes/no reaches here as a YAML boolean and is refused with a hint.
    factors: dict[str, list[str | bool | int | float]] | None = None
    # What each tone level other than ``default`` means, and each disclosure wording other than ``standard``.
    tones: dict[str, Tone] = Field(default_factory=dict)
    disclosures: dict[str, str] = Field(default_factory=dict)
    # How many times each condition (cell) is in every randomisation block.
    block_repeats: int = Field(2, ge=1, le=10)
    demographics: dict[str, list[str]] = Field(default_factory=dict)
    # Each demographic question as a participant reads it (a sentence), by its name; else its name in words.
    demographic_questions: dict[str, str] = Field(default_factory=dict)
    # Replies a participant must get before "I have finished chatting" is enabled (0: none needed).
    min_turns: int = Field(0, ge=0, le=50)
    # Where participants from a paid panel go at the end (completion) or on declining / failing a check.
    panel: Panel = Field(default_factory=Panel)

    @model_validator(mode="after")
    def _unique(self) -> StudyFile:
        if (self.conditions is None) == (self.factors is None):
            raise ValueError("give either conditions (a list) or factors (with levels), not both and not neither")
        ids = [c.id for c in self.conditions or []]
        if len(set(ids)) != len(ids):
            raise ValueError("two conditions have the same id")
        if self.factors is not None:
            check_factors(self.factors, self.tones, self.disclosures)
        for name in self.demographics:
            if not name.isidentifier() or not name.islower():
                raise ValueError(f"demographic {name!r} must be a lower-case name like age_band")
        unknown = sorted(set(self.demographic_questions) - set(self.demographics))
        if unknown:
            raise ValueError(f"demographic_questions names {unknown}, which are not in demographics")
        return self


class Column(BaseModel):
    """One item column of the wide file: the question, its instrument and its phase."""

    name: str
    phase: str
    instrument: Instrument
    question: Question


# Items per page after the chat: about two phone screens of one-row scales (see assets/style.css).
MAX_ITEMS_PER_PAGE = 12


def pages(columns: list[Column], size: int = MAX_ITEMS_PER_PAGE) -> list[list[Column]]:
    """The post-chat items in pages of at most ``size``, an instrument kept on one page where it fits."""
    out: list[list[Column]] = []
    by_instrument: list[list[Column]] = []
    for c in columns:
        if by_instrument and by_instrument[-1][0].instrument.id == c.instrument.id:
            by_instrument[-1].append(c)
        else:
            by_instrument.append([c])
    for group in by_instrument:
        for start in range(0, len(group), size):
            part = group[start : start + size]
            if out and len(out[-1]) + len(part) <= size:
                out[-1].extend(part)
            else:
                out.append(list(part))
    return out


class Study(BaseModel):
    """A loaded study: consent text, instruments in order, conditions, demographic questions."""

    id: str
    version: str
    consent_version: str
    consent_text: str
    instruments: list[Instrument]
    # The cells participants are randomised over (a ``conditions:`` list is a design of one factor).
    conditions: list[Cell]
    # The factors and their levels, in study.yaml's order ({} for a ``conditions:`` list).
    factors: dict[str, list[str]] = Field(default_factory=dict)
    block_repeats: int = 2
    demographics: dict[str, list[str]]
    demographic_questions: dict[str, str] = Field(default_factory=dict)
    min_turns: int = 0
    panel: Panel = Field(default_factory=Panel)
    # Order randomisation: the blocks of each phase, and the items of the instruments named here.
    shuffle_blocks: bool = False
    shuffle_items: list[str] = Field(default_factory=list)
    # What the study was loaded from, for its package (clone.survey.package): study.yaml's settings but the
    # panel's (codes and links differ between sites and must not be published), and each instrument's file
    # name and sha256 by instrument id.
    spec: dict = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)
    file_hashes: dict[str, str] = Field(default_factory=dict)

    def demographic_question(self, name: str) -> str:
        """The demographic question ``name`` as a participant reads it (from ``demographic_questions``)."""
        return self.demographic_questions.get(name) or name.replace("_", " ").capitalize() + "?"

    def phase(self, phase: str) -> list[Instrument]:
        """The instruments asked in ``phase``, in study order."""
        return [i for i in self.instruments if i.asked_in(phase)]

    def columns(self, phase: str) -> list[Column]:
        """Item columns of one phase: ``instrument_subscale_nn[R]_<phase>``."""
        return [
            Column(name=f"{q.column}_{phase}", phase=phase, instrument=inst, question=q)
            for inst in self.phase(phase)
            for q in inst.questions
        ]

    @property
    def shuffled(self) -> bool:
        """Whether participants see blocks or items in an order of their own."""
        return self.shuffle_blocks or bool(self.shuffle_items)

    def draw_order(self, rng: random.Random | None = None) -> dict[str, list[str]]:
        """A participant's order: for each phase, the item columns (``…_pre``) in the order they are shown.

        Blocks keep the file's order unless ``shuffle_blocks``; items keep it unless their instrument is in
        ``shuffle_items``. Drawn with ``secrets`` unless an ``rng`` is given (tests, simulations).
        """
        rng = rng or secrets.SystemRandom()
        out = {}
        for phase in PHASES:
            blocks = self.phase(phase)
            if self.shuffle_blocks:
                rng.shuffle(blocks)
            names: list[str] = []
            for instrument in blocks:
                columns = [c.name for c in self.columns(phase) if c.instrument.id == instrument.id]
                if instrument.id in self.shuffle_items:
                    rng.shuffle(columns)
                names += columns
            out[phase] = names
        return out

    def shown(self, phase: str, order: dict[str, list[str]] | None) -> list[Column]:
        """The item columns of ``phase`` in a participant's ``order`` (the file's order where it has none)."""
        columns = self.columns(phase)
        names = (order or {}).get(phase) or []
        by_name = {c.name: c for c in columns}
        if sorted(names) != sorted(by_name):  # none drawn, or drawn for an earlier version of the study
            return columns
        return [by_name[n] for n in names]

    def as_expected(self, question: Question, scale: Scale, condition_id: str, value: int) -> int | None:
        """A manipulation check's answer scored: 1 if on the side the condition calls for (above the scale's
        middle where what it checks is on, below it where off), else 0; None for other items or unknown ids."""
        what = question.item.manipulation
        if what is None:
            return None
        try:
            # The AI disclosure is never a condition: every condition shows it.
            on = True if what == "disclosure" else bool(getattr(self.condition(condition_id), what))
        except SurveyError:
            return None
        middle = (scale.min + scale.max) / 2
        return int(value > middle if on else value < middle)

    def condition(self, condition_id: str) -> Cell:
        """A condition by id (``SurveyError`` for one the study does not have)."""
        for c in self.conditions:
            if c.id == condition_id:
                return c
        raise SurveyError(f"Unknown condition {condition_id!r}.")


def load_study(path: Path = DEFAULT_STUDY) -> Study:
    """Read ``study.yaml`` and every file it names (paths relative to it); errors name the file."""
    path = Path(path)
    spec: StudyFile = _load(StudyFile, path, "Study")
    # Each instrument file is validated on its own, so an error names the file and the bad field.
    blocks = [b if isinstance(b, Block) else Block(file=b) for b in spec.instruments]
    instruments = [_load(Instrument, path.parent / b.file) for b in blocks]
    ids = [i.id for i in instruments]
    if len(set(ids)) != len(ids):
        raise SurveyError(f"Study file {path} lists two instruments with the same id: {', '.join(ids)}.")
    shuffle_items = [i.id for i, b in zip(instruments, blocks, strict=True) if b.shuffle_items]
    checkable = {"disclosure"} | {name for name, f in Condition.model_fields.items() if f.annotation is bool}
    if spec.factors and "avatar" in spec.factors:
        checkable.add("show_avatar")
    check_backends(path, spec.factors or {})
    for b, instrument in zip(blocks, instruments, strict=True):
        for n, item in enumerate(instrument.items, 1):
            if item.manipulation is not None and item.manipulation not in checkable:
                raise SurveyError(
                    f"Instrument file {path.parent / b.file}: item {n} checks {item.manipulation!r}, which is neither "
                    f"the disclosure nor a condition setting; use one of: {', '.join(sorted(checkable))}."
                )
    consent_path = path.parent / spec.consent.file
    try:
        consent_text = consent_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SurveyError(f"Cannot read the consent text {consent_path}: {exc.strerror}") from None
    return Study(
        id=spec.id,
        version=spec.version,
        consent_version=spec.consent.version,
        consent_text=consent_text,
        instruments=instruments,
        conditions=cells(spec.conditions, spec.factors, spec.tones, spec.disclosures),
        factors=spec.factors or {},
        block_repeats=spec.block_repeats,
        demographics=spec.demographics,
        demographic_questions=spec.demographic_questions,
        min_turns=spec.min_turns,
        panel=spec.panel,
        shuffle_blocks=spec.shuffle_blocks,
        shuffle_items=shuffle_items,
        spec=_spec(spec),
        files={i.id: b.file for i, b in zip(instruments, blocks, strict=True)},
        file_hashes={
            i.id: hashlib.sha256((path.parent / b.file).read_bytes()).hexdigest()
            for i, b in zip(instruments, blocks, strict=True)
        },
    )


# study.yaml settings added with factorial designs, kept out of a study's package while unset, so a study
# written before them keeps its package (and its hash).
_NEWER_SETTINGS = ("factors", "tones", "disclosures", "block_repeats")


def _spec(spec: StudyFile) -> dict:
    """study.yaml's settings for the package: all but the panel's, the newer ones only where set."""
    out = spec.model_dump(mode="json", exclude={"panel"})
    for name in _NEWER_SETTINGS:
        if name not in spec.model_fields_set:
            out.pop(name)
    if out.get("conditions") is None:
        out.pop("conditions")
    return out
