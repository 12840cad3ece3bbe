"""Hugging Face Inference: Inference Providers by model id, or a dedicated endpoint by URL.

Talks through huggingface_hub's ``InferenceClient.chat_completion(..., stream=True)``. With
``CLONE_HF_BASE_URL`` it speaks the same OpenAI-style chat-completions protocol to that URL
(an Inference Endpoint, or text-generation-inference running anywhere).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

from clone.backends.base import AnswerRequest
from clone.backends.chat import MALFORMED, PLACEHOLDER_KEY, guarded, messages
from clone.backends.secrets import resolve_secret
from clone.config import Settings
from clone.errors import ConfigError

TOKEN_VARIABLE = "HF_TOKEN"


def make_client(settings: Settings, token: str | None = None) -> Any:
    """An ``InferenceClient`` for the endpoint (or Inference Providers) and timeout in ``settings``."""
    try:
        from huggingface_hub import InferenceClient
    except ImportError:
        raise ConfigError(
            "The hf backend needs huggingface_hub: pip install -r requirements.txt (or pip install huggingface_hub)."
        ) from None
    base_url = settings.hf_base_url or None
    if not base_url and not settings.hf_model:
        raise ConfigError(
            "Set CLONE_HF_MODEL to the Hugging Face model to chat with (e.g. meta-llama/Llama-3.1-8B-Instruct), "
            "or CLONE_HF_BASE_URL to your Inference Endpoint."
        )
    token = resolve_secret(
        TOKEN_VARIABLE,
        token,
        # A self-hosted TGI server needs no token. Without this placeholder the client would send
        # the token saved by `hf auth login` to whatever URL is configured.
        placeholder=PLACEHOLDER_KEY if base_url else None,
        hint="The hf backend needs a Hugging Face access token (https://huggingface.co/settings/tokens) "
        "with permission to call Inference Providers.",
    )
    if base_url:
        return InferenceClient(base_url=base_url, token=token, timeout=settings.backend_timeout)
    return InferenceClient(token=token, timeout=settings.backend_timeout)


class HFBackend:
    """Replies from Hugging Face Inference, streamed token by token."""

    name = "hf"

    def __init__(self, settings: Settings, client: Any | None = None, *, token: str | None = None):
        self.settings = settings
        self.client = client or make_client(settings, token)

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        """Yield the reply as the server streams it; any client error becomes ``BackendError``."""
        import httpx

        client = self.client
        if isinstance(getattr(client, "exit_stack", None), contextlib.ExitStack):
            # InferenceClient keeps every streamed response open on its exit stack until the
            # client is closed. A shallow copy with its own stack, closed when this reply ends,
            # frees the connection per reply without closing other fans' streams.
            client = copy.copy(client)
            client.exit_stack = contextlib.ExitStack()
        with contextlib.ExitStack() as cleanup:
            if client is not self.client:
                cleanup.callback(client.exit_stack.close)
            yield from guarded(
                lambda: client.chat_completion(
                    messages(request),
                    model=self.settings.hf_model or None,
                    stream=True,
                    max_tokens=self.settings.max_new_tokens,
                ),
                _delta,
                backend=self.name,
                errors=(httpx.HTTPError, httpx.StreamError, OSError, *MALFORMED),
                secrets=(getattr(client, "token", None) or "",),
            )


def _delta(chunk: Any) -> str | None:
    """The text of one streamed chunk (none for chunks that only carry a role or usage)."""
    if not chunk.choices:
        return None
    return chunk.choices[0].delta.content
