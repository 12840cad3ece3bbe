"""The persona card: who the clone speaks for, and how.

A card is a YAML file validated with pydantic; a bad card fails with a message that names
the field to fix.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clone.errors import PersonaError

PERSONA_FILE = "persona.yaml"


class ExamplePair(BaseModel):
    """A question and the answer the creator would give, to show tone."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=2000)


class Persona(BaseModel):
    """A creator's persona card."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=64, description="Stable identifier, lowercase letters, digits, dashes.")
    name: str = Field(min_length=1, max_length=100)
    aliases: list[str] = Field(
        default_factory=list, max_length=20, description="Other names fans use for the creator, e.g. a handle."
    )
    bio: str = Field(min_length=1, max_length=1000)
    fictional: bool = Field(False, description="True for a made-up demo creator; the UI says so.")
    tone: str = Field("", max_length=500)
    greeting: str = Field(min_length=1, max_length=500)
    no_answer_message: str = Field(min_length=1, max_length=500)
    topics_to_avoid: list[str] = Field(default_factory=list, max_length=50)
    catchphrases: list[str] = Field(default_factory=list, max_length=20)
    lead_ins: list[str] = Field(
        default_factory=list, max_length=20, description="Short openers in the creator's voice, e.g. 'Good question!'"
    )
    examples: list[ExamplePair] = Field(default_factory=list, max_length=20)
    links: dict[str, str] = Field(default_factory=dict, max_length=20)
    support_links: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="The creator's own support or shop pages (https). The only payment links a reply may carry: "
        "any other, and any request for money, codes or personal data found in content, is never repeated.",
    )

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", value):
            raise ValueError("use lowercase letters, digits and dashes, e.g. 'rosa-lindqvist'")
        return value

    @field_validator("support_links")
    @classmethod
    def _https(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.fullmatch(r"https://[^\s/]+\.[^\s/]+(?:/\S*)?", value):
                raise ValueError(f"{value!r} is not a web address; write it in full, e.g. https://ko-fi.com/rosa")
        return values

    @property
    def allowed_links(self) -> list[str]:
        """The links a reply may carry even where they take money: the card's ``links`` and ``support_links``."""
        return [*self.links.values(), *self.support_links]

    @property
    def display_name(self) -> str:
        """The name as fans see it, with a '(fictional)' label for demo creators."""
        return f"{self.name} (fictional)" if self.fictional else self.name


def load_persona(path: Path) -> Persona:
    """Read and validate a persona card (a YAML file, or a creator folder holding ``persona.yaml``)."""
    path = Path(path)
    if path.is_dir():
        path = path / PERSONA_FILE
    if not path.is_file():
        raise PersonaError(f"No persona card at {path}. Create one (see 'Persona card' in the README).")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PersonaError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PersonaError(f"{path} must be a YAML mapping with fields such as name, bio, greeting.")
    try:
        return Persona.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(card)'}: {err['msg']}" for err in exc.errors()
        )
        raise PersonaError(f"{path} has invalid fields: {problems}") from None
