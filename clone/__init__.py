"""An AI clone of a content creator: consented, labelled as AI, grounded in their own content.

The public names below are imported on first use (PEP 562), so ``import clone`` or
``import clone.errors`` stays light: no LangChain, pydantic, NumPy or Gradio until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "Clone": "clone.pipeline",
    "CloneError": "clone.errors",
    "Persona": "clone.persona",
    "Reply": "clone.reply",
    "Settings": "clone.config",
    "Source": "clone.reply",
    "load_persona": "clone.persona",
    "load_settings": "clone.config",
}

__all__ = [
    "Clone",
    "CloneError",
    "Persona",
    "Reply",
    "Settings",
    "Source",
    "__version__",
    "load_persona",
    "load_settings",
]

if TYPE_CHECKING:  # for type checkers and editors; never run
    from clone.config import Settings, load_settings
    from clone.errors import CloneError
    from clone.persona import Persona, load_persona
    from clone.pipeline import Clone
    from clone.reply import Reply, Source


def __getattr__(name: str):
    """Import a public name from its module the first time it is asked for."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clone' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
