"""How a reply is shown and read back: chat Markdown with the AI mark and receipt, and pasted text for Verify."""

from __future__ import annotations

import re

from clone.pipeline import plain

MAX_PASTE = 20_000


def reply_markdown(reply, show_citations: bool = True) -> str:
    """A reply as shown in the chat: text, sources, and the AI-generated mark with its receipt."""
    mark = "AI-generated reply"
    if reply.receipt:
        summary = f"{mark} · receipt <code>{reply.receipt['code']}</code>"
        details = f"\n\n<details><summary>{summary}</summary>\n\n`{reply.receipt['receipt']}`\n\n</details>"
    else:
        details = f"\n\n<sub>{mark}</sub>"
    return reply.markdown(show_citations=show_citations) + details


def pasted_reply(text: str) -> str:
    """What a fan pasted, reduced to the signed reply text: no source list, mark, or citation links."""
    text = (text or "")[:MAX_PASTE]
    text = re.split(r"\n\s*(?:\*\*)?Sources(?:\*\*)?\s*\n|\n\s*AI-generated reply", text)[0]
    return plain(text)
