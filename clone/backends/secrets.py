"""The one place a backend's secret (an API key or token) is resolved.

Order: an explicit argument, then the environment (which ``load_settings`` has already filled
from ``.env``), then a :class:`~clone.errors.ConfigError` naming the variable to set. Secrets
never go into :class:`~clone.config.Settings`, so they are never printed with it or logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from clone.errors import ConfigError


def resolve_secret(
    variable: str,
    value: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    placeholder: str | None = None,
    hint: str = "",
) -> str:
    """The secret from ``value``, else ``env[variable]`` (default ``os.environ``), else ``placeholder``.

    ``placeholder`` is for servers that need no key (a local Ollama or llama.cpp server): the
    client library still wants a non-empty string. Without one, a missing secret raises a
    :class:`ConfigError` that names ``variable`` and adds ``hint``.
    """
    if value and value.strip():
        return value.strip()
    found = (os.environ if env is None else env).get(variable, "").strip()
    if found:
        return found
    if placeholder is not None:
        return placeholder
    raise ConfigError(f"Set {variable}: it is missing or empty. {hint}".strip())


def redact(text: str, *secrets: str) -> str:
    """``text`` with every secret in ``secrets`` replaced by ``***`` (for error messages and logs)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
