"""What a public endpoint accepts: text arguments checked, and per-client limits on chat, inbox questions,
new participants and wrong tokens (in memory, by a salted hash of the address; see :mod:`clone.ratelimit`)."""

from __future__ import annotations

import functools
import inspect
import logging
from dataclasses import dataclass

import gradio as gr

from clone.config import Settings
from clone.ratelimit import RateLimit, client_address, client_key, wait_text
from clone.services import Services

log = logging.getLogger(__name__)

CHAT_LIMIT_TEXT = "messages"


class Limits:
    """The per-client limits of one app process, in memory, from the settings."""

    def __init__(self, settings: Settings):
        self.proxy_hops = settings.proxy_hops
        self.chat = RateLimit(settings.chat_per_minute, 60)
        self.questions = RateLimit(settings.questions_per_hour, 3600)
        self.feedback = RateLimit(settings.feedback_per_minute, 60)
        self.participants = RateLimit(settings.participants_per_hour, 3600)
        self.wrong_tokens = RateLimit(settings.wrong_tokens_per_hour, 3600)

    def client(self, request: gr.Request | None) -> str | None:
        """The keyed hash of the request's client address; None for a direct call (library code, no request)."""
        if request is None:
            return None
        host = getattr(getattr(request, "client", None), "host", None)
        return client_key(client_address(host, getattr(request, "headers", None), self.proxy_hops))

    def check(self, limit: RateLimit, request: gr.Request | None, what: str) -> None:
        """Count one hit for the request's client; over the limit, a ``gr.Error`` that says how long to wait."""
        key = self.client(request)
        if key is None:
            return
        wait = limit.hit(key)
        if wait:
            log.info("rate limit: too many %s from client %s", what, key[:8])
            raise gr.Error(
                f"Too many {what} from your connection in a short time; please try again in {wait_text(wait)}.",
                print_exception=False,
            )


@dataclass
class Screen:
    """What every screen's handler object holds: the services, and the per-client limits it shares with
    the other screens of this process (made from the settings when not given)."""

    services: Services
    limits: Limits | None = None

    def __post_init__(self) -> None:
        self.limits = self.limits or Limits(self.services.settings)

    @property
    def settings(self):
        """The settings the services were opened with."""
        return self.services.settings


def checked_text(value, what: str) -> str:
    """A text argument as the handlers expect it: None is empty; anything but valid text is a clear error."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise gr.Error(f"{what} must be text, not {type(value).__name__}.", print_exception=False)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise gr.Error(
            f"{what} holds characters that are not valid text (a lone surrogate); please type it again.",
            print_exception=False,
        ) from None
    return value


def text_arguments(fn):
    """``fn`` with every argument checked by :func:`checked_text` first: for API endpoints that take text only, so
    a number, a list or a lone surrogate gets a clear error instead of an exception inside ``fn``."""
    names = list(inspect.signature(fn).parameters)

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        args = [checked_text(a, f"`{name}`") for a, name in zip(args, names, strict=False)]
        kwargs = {k: checked_text(v, f"`{k}`") for k, v in kwargs.items()}
        return fn(*args, **kwargs)

    return checked
