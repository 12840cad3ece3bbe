"""Answering backends behind one registry.

``register(name, factory)`` adds one; ``get_backend(name, settings)`` builds it or raises
:class:`~clone.errors.UnknownBackendError`. The CLI, the UI and the tests all go through here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from clone.backends.base import AnswerRequest, Backend
from clone.config import Settings
from clone.errors import ConfigError, UnknownBackendError

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


# The LLM backends import their client libraries only when built (langchain-openai, huggingface_hub,
# transformers and torch are heavy), so naming one of them costs nothing until it is chosen.
def _openai(settings: Settings) -> Backend:
    from clone.backends.openai_compat import OpenAIBackend

    return OpenAIBackend(settings)


def _hf(settings: Settings) -> Backend:
    from clone.backends.hf_inference import HFBackend

    return HFBackend(settings)


def _transformers(settings: Settings) -> Backend:
    from clone.backends.transformers_local import TransformersBackend

    return TransformersBackend(settings)


def auto_choice(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """The backend ``auto`` stands for: ``hf`` when ``HF_TOKEN`` is set, else ``openai`` when
    ``CLONE_OPENAI_BASE_URL`` or ``OPENAI_API_KEY`` is, else the offline ``extractive``."""
    env = os.environ if env is None else env
    if env.get("HF_TOKEN", "").strip():
        return "hf"
    if settings.openai_base_url or env.get("OPENAI_API_KEY", "").strip():
        return "openai"
    return "extractive"


_AUTO_REASON = {"hf": "HF_TOKEN is set", "openai": "CLONE_OPENAI_BASE_URL or OPENAI_API_KEY is set"}


def _auto(settings: Settings) -> Backend:
    # Builds the concrete backend, so ``backend.name`` (shown in the app's footer) says which one answers.
    name = auto_choice(settings)
    try:
        return get_backend(name, settings)
    except ConfigError as exc:
        raise ConfigError(
            f"CLONE_BACKEND=auto chose {name} because {_AUTO_REASON[name]}. {exc} "
            "Or set CLONE_BACKEND=extractive to answer offline."
        ) from None


register("openai", _openai)
register("hf", _hf)
register("transformers", _transformers)
register("auto", _auto)

__all__ = ["AnswerRequest", "Backend", "auto_choice", "available", "get_backend", "register"]
