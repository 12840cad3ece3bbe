"""What every page shares: the AI banner no setting can remove, the kill-switch notice, the avatar, the stylesheet."""

from __future__ import annotations

import html
import json
from pathlib import Path

import gradio as gr

from clone.config import ASSETS_DIR, Settings
from clone.guardrails import disclosure, prompt
from clone.persona import Persona
from clone.services import Services

CSS_PATH = ASSETS_DIR / "style.css"
KILL_SWITCH_POLL_SECONDS = 2.0

# Phone rules for what lies outside the app's own container, which Gradio scopes the stylesheet to: less
# padding around the page, and no clipping that would stop the banner from sticking to the top.
PAGE_HEAD = (
    "<style>@media (max-width: 640px) {"
    " .gradio-container > .main { padding: 4px 6px !important; }"
    " .gradio-container { overflow: clip !important; }"
    "}</style>"
)

# Inline styles: the banner stays readable even without the app's stylesheet.
_BANNER_STYLE = "background:#1f2a44;color:#ffffff;border-radius:8px;padding:10px 14px;font-size:15px;line-height:1.45"
_WHITE = "color:#ffffff"
_TAG_STYLE = "background:#ffcc00;color:#1f2a44;border-radius:4px;padding:1px 6px;margin-right:6px;font-weight:700"


def banner_html(persona: Persona) -> str:
    """The AI disclosure banner. Built from the persona alone: no setting or flag is consulted.

    On a wide screen it reads in full. On a phone the stylesheet shows one line (``banner_short``: an AI
    clone, not the real person) and a "more" that opens the full text; both say it is an AI, and the banner
    itself is never hidden. Without the stylesheet the full text shows (the phone parts are hidden inline).
    """
    full = disclosure(persona.name).replace("**", "")
    text = html.escape(full)
    short = html.escape(prompt("banner_short").format(name=persona.name))
    fictional = f"{html.escape(persona.name)} is a fictional creator made up for this demo."
    small = f"{_WHITE};margin:4px 0 0;font-size:13px"
    return (
        f"<div id='ai-banner' class='clone-banner' role='note' aria-label='AI disclosure' style='{_BANNER_STYLE}'>"
        f"<strong class='clone-ai-tag' style='{_TAG_STYLE}'>AI</strong> "
        f"<span class='clone-banner-full' style='{_WHITE}'>{text}</span>"
        f"<span class='clone-banner-short' style='{_WHITE};display:none'>{short}</span>"
        f"<details class='clone-banner-more' style='{_WHITE};display:none'><summary style='{_WHITE}'>more</summary>"
        f"<p style='{_WHITE};margin:4px 0 0'>{text}</p>"
        + (f"<p class='clone-fictional' style='{small}'>{fictional}</p>" if persona.fictional else "")
        + "</details>"
        + (f"<p class='clone-fictional clone-banner-wide' style='{small}'>{fictional}</p>" if persona.fictional else "")
        + "</div>"
    )


def notice_html(text: str) -> str:
    """The kill-switch notice as a high-contrast block."""
    return (
        "<div id='revoked-notice' role='alert' style='background:#7a1f1f;color:#ffffff;border-radius:8px;"
        f"padding:10px 14px;font-size:15px'>{html.escape(text)}</div>"
    )


def avatar_path(settings: Settings) -> str | None:
    """The creator's avatar (``avatar.png`` in the creator folder), if there is one."""
    path = Path(settings.creator_dir) / "avatar.png"
    return str(path) if path.is_file() else None


def page_script(persona: Persona) -> str:
    """Browser code for the chat pages, run once as the banner loads.

    - Names the chat's avatar images for screen readers: Gradio labels them "bot avatar"; they show the
      creator's picture beside the clone's replies, so they are named for what they are.
    - When a fan sends a message, scrolls the conversation (not the page) so that message is at the top: the
      reply then streams in below it, its first line in view however slow the backend (the chat's own
      scroll-to-bottom is off, see clone/ui/chat.py).
    It watches the page because every message brings new elements.
    """
    alt = json.dumps(f"Avatar of {persona.name}'s AI clone")
    return (
        "const counts = new WeakMap();"
        " const tidy = () => {"
        "  document.querySelectorAll('img.avatar-image').forEach((img) => {"
        f"   if (img.alt !== {alt}) img.alt = {alt}; }});"
        "  document.querySelectorAll('#clone-chat [role=log], #widget-chat [role=log]').forEach((log) => {"
        "   const users = log.querySelectorAll('[data-testid=user]');"
        "   if (users.length > (counts.get(log) ?? users.length)) {"
        "    const last = users[users.length - 1];"
        "    log.scrollTop += last.getBoundingClientRect().top - log.getBoundingClientRect().top - 8; }"
        "   counts.set(log, users.length); }); };"
        " tidy(); new MutationObserver(tidy).observe(document.body, {childList: true, subtree: true});"
    )


def revocation_notice(services: Services, channel: str = "web") -> dict:
    """The kill-switch or consent notice for a page, polled every few seconds; hidden while the clone answers.

    Shown when the clone is revoked, its consent expired or is gone, or ``channel`` is not in its scope.
    """
    shut = services.clone.closed(channel)
    if shut:
        return gr.update(value=notice_html(shut[1]), visible=True)
    return gr.update(value="", visible=False)


def header(services: Services, channel: str = "web") -> tuple[gr.HTML, object]:
    """The banner and the kill-switch notice, at the top of every fan-facing page.

    The notice is polled every few seconds; returns it and its poll function so the page can also
    fill it as it loads (``app.load``).
    """
    gr.HTML(
        banner_html(services.persona),
        elem_id="page-banner" if channel == "web" else "widget-banner",
        js_on_load=page_script(services.persona),
        head=PAGE_HEAD,
    )
    notice = gr.HTML(visible=False, elem_id="revoked-notice-box" if channel == "web" else f"{channel}-notice-box")

    def poll() -> dict:
        return revocation_notice(services, channel)

    gr.Timer(KILL_SWITCH_POLL_SECONDS).tick(poll, None, notice, api_visibility="private")
    return notice, poll
