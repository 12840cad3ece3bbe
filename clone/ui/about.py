"""About this clone: who consented to what, until when, and the keys behind consent and receipts."""

from __future__ import annotations

import html

import gradio as gr

from clone.services import Services
from clone.trust.consent import summary_markdown


def about_markdown(services: Services) -> str:
    """The "About this clone" panel: consent summary, keys, and what the marks in the chat mean."""
    clone, notary = services.clone, services.notary
    return (
        f"{summary_markdown(services.consent)}\n\n"
        "### Receipts\n"
        f"Every reply is signed (Ed25519) by this deployment's key `{notary.fingerprint}` "
        f"(public key `{notary.public_key_b64}`). Use the **Verify** tab, or the `/verify` API, to check a reply.\n\n"
        f"Answers come from the `{clone.backend.name}` backend and {clone.kb.size} passages of "
        f"{html.escape(services.persona.name)}'s published content."
    )


def build(services: Services) -> None:
    """The About tab."""
    gr.Markdown(about_markdown(services), elem_id="about-clone")
