"""An AI clone of a content creator: consented, labelled as AI, grounded in their own content."""

__version__ = "0.1.0"

from clone.config import Settings, load_settings  # noqa: E402
from clone.errors import CloneError  # noqa: E402
from clone.persona import Persona, load_persona  # noqa: E402
from clone.pipeline import Clone, Reply, Source  # noqa: E402

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
