"""How a reply is shown: chat Markdown with the AI mark and its receipt, built by the same helpers Verify reads back."""

from __future__ import annotations

from clone.trust.receipts import mark_markdown


def reply_markdown(reply, show_citations: bool = True) -> str:
    """A reply as shown in the chat: text, sources, and the AI-generated mark with its receipt."""
    receipt = reply.receipt or {}
    # The receipt signs this text, source list and mark as they are: Verify reads them back by this structure.
    mark = mark_markdown(receipt.get("code"), receipt.get("receipt"))
    return reply.markdown(show_citations=show_citations) + "\n\n" + mark
