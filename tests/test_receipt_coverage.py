"""A receipt covers exactly what was signed: the reply, its citation links, its source list and the AI mark.

Every attack from the issue is pasted into the Verify handlers of a real clone (real index, real keys):
text appended after the source list, after the AI mark or after 20,000 spaces, a swapped link, a changed
title, a line inserted in the middle. None may verify as genuine; copies of the reply as shown do.
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization

from clone.reply import reply_markdown
from clone.trust.receipts import KEY_FILENAME, KEYS_DIRNAME, Notary, normalize_text, short_code
from clone.ui import Screens
from tests.conftest import services_for

QUESTION = "How big is your balcony?"
PS = "P.S. I endorse CoinScam, send 0.1 BTC"


@pytest.fixture
def handlers(demo_clone, settings) -> Screens:
    return Screens.of(services_for(demo_clone, settings))


@pytest.fixture
def reply(demo_clone):
    reply = demo_clone.answer(QUESTION)
    assert reply.sources and all(s.url for s in reply.sources) and "[1]" in reply.text
    return reply


def rendered(reply, *, token: bool = False) -> str:
    """The reply as a browser copies it from the rendered chat: markers as [n], titles without links."""
    lines = [f"{n}. {s.label}" for n, s in enumerate(reply.sources, 1)]
    mark = f"AI-generated reply · receipt {reply.receipt['code']}"
    tail = f"\n{reply.receipt['receipt']}" if token else ""
    return f"{reply.text}\n\nSources\n" + "\n".join(lines) + f"\n{mark}{tail}"


def genuine_copies(reply) -> dict[str, str]:
    return {
        "markdown": reply_markdown(reply),  # the chat's copy button: the message as Markdown
        "markdown-no-citations": reply_markdown(reply, show_citations=False),
        "rendered": rendered(reply),
        "rendered-with-token": rendered(reply, token=True),
        "body-with-markers": reply.text,
        "plain-text": reply.plain_text,
        "markdown-body-only": reply.markdown().split("\n\n**Sources**")[0],
    }


def test_copies_of_the_reply_as_shown_are_genuine(handlers, reply):
    token = reply.receipt["receipt"]
    for name, copy in genuine_copies(reply).items():
        result = handlers.verify.verify_api(copy, token)
        assert result["status"] == "genuine", (name, result["message"])
    result = handlers.verify.verify_api(reply_markdown(reply), token)
    assert result["cited"] == [{"label": s.label, "url": s.url} for s in reply.sources]
    assert "The source list it was signed with" in handlers.verify.verify(reply_markdown(reply), token)


def attacks(reply) -> dict[str, str]:
    md = reply_markdown(reply)
    first = reply.sources[0]
    sources_line = f"1. [{first.label}]({first.url})"
    assert sources_line in md
    return {
        "appended-after-the-mark": f"{md}\n{PS}",
        "appended-after-sources-heading": md.replace("**Sources**\n", f"**Sources**\n{PS}\n"),
        "appended-after-source-list": md.replace(sources_line, f"{sources_line}\n{PS}"),
        "appended-before-sources": md.replace("\n\n**Sources**", f"\n{PS}\n\n**Sources**"),
        "appended-after-rendered-mark": rendered(reply) + f"\n{PS}",
        "appended-after-plain-sources": f"{reply.plain_text}\nSources\n{PS}",
        "appended-after-ai-mark-line": f"{reply.plain_text}\nAI-generated reply\n{PS}",
        "swapped-source-link": md.replace(f"]({first.url})\n", "](https://coinscam.example/)\n"),
        "swapped-citation-link": md.replace(f"[[1]]({first.url})", "[[1]](https://coinscam.example/)", 1),
        "changed-source-title": md.replace(f"[{first.label}]", f"[{first.label} (sponsored by CoinScam)]"),
        "inserted-line-in-the-middle": md.replace(". ", f".\n{PS}\n", 1),
        "dropped-a-citation-marker": reply.text.replace(" [1]", "", 1) if reply.text.count("[") > 1 else PS,
        "marker-out-of-range": reply.text + f" [{len(reply.sources) + 1}]",
        "rendered-title-changed": rendered(reply).replace(first.label, "CoinScam"),
    }


def test_every_attack_from_the_issue_is_altered(handlers, reply):
    token = reply.receipt["receipt"]
    for name, pasted in attacks(reply).items():
        result = handlers.verify.verify_api(pasted, token)
        assert result["status"] == "altered", (name, result["message"])
        assert "Altered" in handlers.verify.verify(pasted, token), name


def test_text_after_20000_spaces_is_refused_as_too_long_never_cut(handlers, reply):
    pasted = reply_markdown(reply) + " " * 20_000 + PS
    result = handlers.verify.verify_api(pasted, reply.receipt["receipt"])
    assert result["status"] == "unknown" and "too long" in result["reason"]
    assert "too long" in handlers.verify.verify(pasted, reply.receipt["receipt"])


def test_signed_sources_are_the_ones_shown(demo_clone, reply):
    body = reply.receipt["receipt"].split(".")[0]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert payload["v"] == 2
    assert payload["sources"] == [{"id": s.path, "label": s.label, "url": s.url} for s in reply.sources]


def test_old_version_1_receipts_still_verify_the_reply_text_alone(settings, handlers, reply):
    """A receipt issued before source lists were signed covers the body only: anything more is altered."""
    notary: Notary = handlers.services.clone.notary
    key = serialization.load_pem_private_key((settings.home / KEYS_DIRNAME / KEY_FILENAME).read_bytes(), None)
    payload = {
        "v": 1,
        "text_sha256": hashlib.sha256(normalize_text(reply.plain_text).encode()).hexdigest(),
        "persona": "rosa-lindqvist",
        "sources": [s.path for s in reply.sources],
        "time": "2026-01-01T00:00:00Z",
        "backend": "extractive",
        "key": notary.fingerprint,
    }
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(raw)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    token = f"{b64(raw)}.{b64(signature)}"
    assert short_code(signature)
    result = handlers.verify.verify_api(reply.plain_text, token)
    assert result["status"] == "genuine" and "covers the reply text only" in result["message"]
    for pasted in (f"{reply.plain_text}\nSources\n{PS}", f"{reply.plain_text}\nAI-generated reply {PS}"):
        assert handlers.verify.verify_api(pasted, token)["status"] == "altered"
