"""Survey instruments as data files (YAML), validated with pydantic.

Each item gets a stable column name ``<instrument>_<subscale>_<nn>``, numbered inside its
subscale, with an ``R`` suffix for reverse-scored items.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from clone.config import ASSETS_DIR
from clone.errors import SurveyError

DEFAULT_INSTRUMENT = ASSETS_DIR / "instruments" / "clone_reactions.yaml"
_SLUG = r"^[a-z][a-z0-9]*$"


class Scale(BaseModel):
    """A numeric response scale with labelled anchors."""

    model_config = ConfigDict(extra="forbid")
    min: int = 1
    max: int = Field(7, le=11)
    anchors: dict[int, str]

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


class Question(BaseModel):
    """An item with its resolved column name."""

    column: str
    item: Item


class Instrument(BaseModel):
    """A set of items on one scale, with its provenance."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=_SLUG)
    title: str
    version: str = "1.0"
    validated: bool
    citation: str = Field(min_length=1)
    scale: Scale
    items: list[Item] = Field(min_length=1, max_length=100)

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


def load_instrument(path: Path = DEFAULT_INSTRUMENT) -> Instrument:
    """Read and validate an instrument file; errors name the file and the bad field."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return Instrument.model_validate(data)
    except OSError as exc:
        raise SurveyError(f"Cannot read instrument file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SurveyError(f"Instrument file {path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SurveyError(f"Instrument file {path} has invalid fields: {problems}") from None
