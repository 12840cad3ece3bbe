"""Verify: check that a reply someone shows you really came from this clone, word for word."""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from clone.services import Services
from clone.trust.receipts import NEEDS_RECEIPT

VERDICT_LABELS = {
    "genuine": "Genuine: this reply came from this clone, word for word.",
    "altered": "Altered: the receipt is real, but the text was changed.",
    "unknown": "Not confirmed: this clone cannot confirm this receipt.",
}
NEEDS_RECEIPT_LABEL = "Almost there: Verify needs the full receipt, not only the short code."


@dataclass
class VerifyHandlers:
    """The Verify tab and the ``/verify`` API."""

    services: Services

    def verify_api(self, text: str, receipt: str) -> dict:
        """Check pasted reply text against its receipt: status genuine, altered or unknown, with the sources."""
        return self.services.notary.verify(text or "", (receipt or "").strip()).as_dict()

    def verify(self, text: str, receipt: str) -> str:
        """The Verify tab: the result of :meth:`verify_api` as Markdown."""
        result = self.services.notary.verify(text or "", (receipt or "").strip())
        if result.needs_receipt:  # not a failure: the person pasted what the reply shows first
            return f"### {NEEDS_RECEIPT_LABEL}\n\n{NEEDS_RECEIPT}"
        lines = [f"### {VERDICT_LABELS[result.status]}", result.message]
        if result.time:
            lines.append(
                f"Signed {result.time} by this deployment's key `{result.signed_by}`, backend `{result.backend}`."
            )
        if result.sources:
            lines.append("Sources it was built from: " + ", ".join(f"`{s}`" for s in result.sources))
        if result.cited and result.genuine:
            lines.append(
                "The source list it was signed with:\n\n"
                + "\n".join(
                    f"{n}. {html.escape(c.label)}" + (f" ({html.escape(c.url)})" if c.url else "")
                    for n, c in enumerate(result.cited, 1)
                )
            )
        return "\n\n".join(lines)


def build(h: VerifyHandlers) -> None:
    """The Verify tab: pasted text and receipt in, the verdict out."""
    gr.Markdown(
        "Check that this clone really gave a reply, word for word. Paste the reply (the copy button on the "
        "reply copies it with its receipt) and, if it is not in the text, its receipt: press **Copy receipt** "
        "beside the code under the reply. The short code alone is for comparing at a glance."
    )
    pasted = gr.Textbox(label="Reply text", lines=5, elem_id="verify-text")
    receipt = gr.Textbox(
        label="Receipt, or the short code if the reply text carries its receipt", lines=2, elem_id="verify-receipt"
    )
    check = gr.Button("Verify", elem_id="verify-button")
    verdict = gr.Markdown(elem_id="verify-result")
    check.click(h.verify, [pasted, receipt], verdict, api_name="verify_tab", api_visibility="private")
