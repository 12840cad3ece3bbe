"""Console tokens: made on first start when none is set, checked in constant time, asked for once per page session."""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from pathlib import Path

import gradio as gr

from clone.config import Settings
from clone.errors import ConfigError
from clone.files import readable_by_others, write_atomic
from clone.ratelimit import RateLimit, wait_text
from clone.ui.limits import Limits

log = logging.getLogger(__name__)

# The consoles' tokens, by the setting that holds each.
CONSOLES = {"CLONE_CREATOR_TOKEN": "creator", "CLONE_RESEARCH_TOKEN": "research"}


def token_file(settings: Settings, setting: str) -> Path:
    """Where the token made for ``setting`` on first start is kept (``CLONE_HOME/tokens/<console>.token``)."""
    return settings.home / "tokens" / f"{CONSOLES[setting]}.token"


def ensure_tokens(settings: Settings) -> tuple[Settings, dict[str, Path]]:
    """Settings with a creator and a research token, and the files of those made here.

    A token set in the environment (or ``.env``) wins. Otherwise the one kept under ``CLONE_HOME`` is
    read, or a long random one is made there (mode 0600), so a newcomer can open both consoles
    after the README's two commands. A token file others can read is refused, like a private key.
    """
    made: dict[str, Path] = {}
    values = {}
    for setting, console in CONSOLES.items():
        field = f"{console}_token"
        if getattr(settings, field):
            continue
        path = token_file(settings, setting)
        if not path.is_file():
            try:
                write_atomic(path, secrets.token_urlsafe(32) + "\n", mode=0o600, exclusive=True)
            except FileExistsError:
                pass  # another replica made it first: use that one
        if readable_by_others(path):
            raise ConfigError(f"{path} can be read by other users; run: chmod 600 {path}")
        values[field] = path.read_text(encoding="utf-8").strip()
        made[setting] = path
    return replace(settings, **values), made


def check(token: str | None, expected: str) -> bool:
    """True when ``token`` is the expected one (constant-time comparison; an empty expected token never matches)."""
    given = token.strip().encode("utf-8", "replace") if isinstance(token, str) else b""
    return bool(expected) and secrets.compare_digest(given, expected.encode())


def require(
    token: str | None,
    expected: str,
    setting: str,
    what: str,
    *,
    client: str | None = None,
    wrong: RateLimit | None = None,
) -> None:
    """Raise ``gr.Error`` unless ``token`` matches the protected feature's setting.

    A wrong token is logged in one line (no traceback) and counted against ``client`` in ``wrong``; a client
    over that limit is refused whatever token it sends, until its wrong tries age out of the window.
    """
    if not expected:
        raise gr.Error(f"{what} is disabled: set {setting} and restart the app.", print_exception=False)
    if client and wrong is not None:
        wait = wrong.blocked(client)
        if wait:
            log.warning("token refused: client %s is locked out after too many wrong %s", client[:8], setting)
            raise gr.Error(
                f"Too many wrong tokens from your connection; try again in {wait_text(wait)}.", print_exception=False
            )
    if not check(token, expected):
        if client and wrong is not None:
            wrong.hit(client)
        log.warning("wrong %s for %s from client %s", setting, what.lower(), (client or "direct call")[:8])
        raise gr.Error("That token is not right.", print_exception=False)


def gate(expected: str, setting: str, label: str, elem_prefix: str, limits: Limits) -> tuple[gr.Textbox, gr.Column]:
    """A token form in front of a console: the console's body shows once the right token is given.

    Returns the token box (kept, hidden, as the input of every console event: the API takes the
    token as an argument too) and the body column to build the console in. A wrong token is said
    once, beside the field, and cleared on success.
    """
    with gr.Column(elem_id=f"{elem_prefix}-login") as login:
        token = gr.Textbox(label=label, type="password", max_lines=1, elem_id=f"{elem_prefix}-token")
        enter = gr.Button("Open", variant="primary", elem_id=f"{elem_prefix}-open")
        said = gr.Markdown(elem_id=f"{elem_prefix}-login-result")
    body = gr.Column(visible=False, elem_id=f"{elem_prefix}-body")

    def open_console(value: str, request: gr.Request) -> tuple:
        if not isinstance(value, str) or not value.strip():  # nothing typed yet: not a wrong token
            return (
                gr.update(visible=True),
                gr.update(visible=False),
                f"Please paste the {label.lower()} first (it is in `CLONE_HOME/tokens/`, or set by `{setting}`).",
            )
        try:
            require(value, expected, setting, label, client=limits.client(request), wrong=limits.wrong_tokens)
        except gr.Error as exc:
            return gr.update(visible=True), gr.update(visible=False), str(exc.message)
        return gr.update(visible=False), gr.update(visible=True), ""

    for trigger in (enter.click, token.submit):
        trigger(open_console, token, [login, body, said], api_visibility="private")
    return token, body
