"""Answering backends behind one registry.

``register(name, factory)`` adds one; ``get_backend(name, settings)`` builds it or raises
:class:`~clone.errors.UnknownBackendError`. The CLI, the UI and the tests all go through here.
"""

from __future__ import annotations

from collections.abc import Callable

from clone.backends.base import AnswerRequest, Backend
from clone.config import Settings
from clone.errors import UnknownBackendError

BackendFactory = Callable[[Settings], Backend]
_REGISTRY: dict[str, BackendFactory] = {}


def register(name: str, factory: BackendFactory) -> None:
    """Make a backend available under ``name`` (as ``CLONE_BACKEND=name``)."""
    _REGISTRY[name] = factory


def available() -> list[str]:
    """Names of every registered backend."""
    return sorted(_REGISTRY)


def get_backend(name: str, settings: Settings) -> Backend:
    """Build the backend called ``name`` with ``settings``."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownBackendError(
            f"CLONE_BACKEND={name!r} is not a known backend; choose one of: {', '.join(available())}."
        ) from None
    return factory(settings)


def _extractive(settings: Settings) -> Backend:
    from clone.backends.extractive import ExtractiveBackend

    return ExtractiveBackend(settings)


register("extractive", _extractive)

__all__ = ["AnswerRequest", "Backend", "available", "get_backend", "register"]
