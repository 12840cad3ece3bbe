"""Any OpenAI-compatible chat server: OpenAI itself, Ollama, vLLM, llama.cpp's server, LM Studio.

Talks through langchain-openai's ``ChatOpenAI`` and streams the reply as the server sends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from clone.backends.base import AnswerRequest
from clone.backends.chat import MALFORMED, PLACEHOLDER_KEY, guarded, messages
from clone.backends.secrets import resolve_secret
from clone.config import Settings
from clone.errors import ConfigError

KEY_VARIABLE = "OPENAI_API_KEY"


def make_client(settings: Settings, api_key: str | None = None) -> Any:
    """A streaming ``ChatOpenAI`` for the server, model, timeout and token limit in ``settings``."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError:
        raise ConfigError(
            "The openai backend needs langchain-openai: pip install -r requirements.txt "
            "(or pip install langchain-openai)."
        ) from None
    if not settings.openai_model:
        raise ConfigError("Set CLONE_OPENAI_MODEL to the model the server should use, e.g. gpt-4o-mini or llama3.2.")
    base_url = settings.openai_base_url or None
    key = resolve_secret(
        KEY_VARIABLE,
        api_key,
        # A local server usually needs no key; OpenAI's own API always does.
        placeholder=PLACEHOLDER_KEY if base_url else None,
        hint="The openai backend needs an OpenAI API key, or set CLONE_OPENAI_BASE_URL to a local "
        "OpenAI-compatible server (Ollama, vLLM, llama.cpp) that needs none.",
    )
    limit: dict[str, Any] = {"max_tokens": settings.max_new_tokens}
    if base_url:
        # ChatOpenAI sends OpenAI's newer "max_completion_tokens"; compatible servers all read
        # "max_tokens", and some only that, so it goes in the body unchanged.
        limit = {"extra_body": {"max_tokens": settings.max_new_tokens}}
    return ChatOpenAI(
        model=settings.openai_model,
        api_key=key,
        base_url=base_url,
        timeout=settings.backend_timeout,
        # No retries: a fan is waiting, and the apology asks them to try again.
        max_retries=0,
        streaming=True,
        **limit,
    )


class OpenAIBackend:
    """Replies from an OpenAI-compatible chat-completions server, streamed token by token."""

    name = "openai"

    def __init__(self, settings: Settings, client: Any | None = None, *, api_key: str | None = None):
        self.settings = settings
        self.client = client or make_client(settings, api_key)

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        """Yield the reply as the server streams it; any client error becomes ``BackendError``."""
        import httpx
        import openai

        key = self.client.openai_api_key.get_secret_value() if getattr(self.client, "openai_api_key", None) else ""
        yield from guarded(
            lambda: self.client.stream(messages(request)),
            lambda chunk: chunk.text,
            backend=self.name,
            errors=(openai.OpenAIError, httpx.HTTPError, httpx.StreamError, OSError, *MALFORMED),
            secrets=(key,),
        )
