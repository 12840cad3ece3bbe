"""Verify: check that a reply someone shows you really came from this clone, word for word."""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from clone.services import Services

VERDICT_LABELS = {
    "genuine": "Genuine: this reply came from this clone, word for word.",
    "altered": "Altered: the receipt is real, but the text was changed.",
    "unknown": "Unknown: this receipt was not issued by this clone.",
}


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
        "Paste a reply and its receipt (open *AI-generated reply* under the reply and copy the code "
        "block) to check that this clone really said it, word for word."
    )
    pasted = gr.Textbox(label="Reply text", lines=5, elem_id="verify-text")
    receipt = gr.Textbox(label="Receipt", lines=2, elem_id="verify-receipt")
    check = gr.Button("Verify", elem_id="verify-button")
    verdict = gr.Markdown(elem_id="verify-result")
    check.click(h.verify, [pasted, receipt], verdict, api_name="verify_tab", api_visibility="private")
