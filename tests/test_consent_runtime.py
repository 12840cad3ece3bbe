"""Consent enforced while the app runs: a manifest that expires, or that does not list a channel, stops the
clone answering there. Real manifests signed with real keys, a real clone, the real handlers."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gradio_client import Client

from clone.config import DEMO_CREATOR_DIR
from clone.errors import ConsentError
from clone.trust.consent import init_consent
from clone.trust.running import ConsentGuard
from clone.ui import Screens, create_app
from clone.ui.page import revocation_notice
from tests.conftest import services_for
from tests.harness import serving_app

QUESTION = "How big is your balcony?"
CLOSED = "has not agreed to this AI clone answering questions here"
SWITCHED_OFF = "has switched this AI clone off"


@pytest.fixture
def creator(tmp_path) -> Path:
    """A creator folder of our own: the demo persona card, a one-line content folder, no consent yet."""
    folder = tmp_path / "creator"
    shutil.copytree(DEMO_CREATOR_DIR, folder, ignore=shutil.ignore_patterns("content", "consent.json"))
    (folder / "content").mkdir()
    (folder / "content" / "balcony.md").write_text("# Balcony\n\nMy balcony is four square metres.\n")
    return folder


def sign(creator: Path, tmp_path: Path, **kwargs):
    return init_consent(creator, key_path=tmp_path / "keys" / "creator.ed25519", **kwargs)


@pytest.fixture
def handlers(demo_clone, settings) -> Screens:
    return Screens.of(services_for(demo_clone, settings))


def test_expiry_stops_answering_with_the_revocation_notice(demo_clone, creator, tmp_path):
    expires = sign(creator, tmp_path, channels=["web", "embed", "api"], days=1).consent.manifest.expires_at
    now = [expires - timedelta(seconds=1)]
    demo_clone.consent = ConsentGuard(creator, demo_clone.persona, clock=lambda: now[0])
    assert not demo_clone.answer(QUESTION, channel="web").refused

    now[0] = expires
    reply = demo_clone.answer(QUESTION, channel="web")

    assert reply.reason == "revoked" and reply.refused and reply.sources == []
    assert reply.text == demo_clone.killswitch.notice(demo_clone.persona.name)  # the same notice as revocation
    assert demo_clone.notary.verify(reply.text, reply.receipt["receipt"]).genuine
    for channel in ("embed", "api", None):
        assert demo_clone.answer(QUESTION, channel=channel).reason == "revoked"


def test_a_manifest_expiring_two_seconds_after_start_stops_the_running_clone(demo_clone, creator, tmp_path):
    start = datetime.now(UTC)
    sign(creator, tmp_path, days=1, now=start - timedelta(days=1) + timedelta(seconds=2))  # expires in 1-2 s
    demo_clone.consent = ConsentGuard(creator, demo_clone.persona)
    assert demo_clone.answer(QUESTION, channel="web").reason != "revoked"
    while (reply := demo_clone.answer(QUESTION, channel="web")).reason != "revoked":
        assert datetime.now(UTC) - start < timedelta(seconds=4), "expiry was not noticed"
        time.sleep(0.1)
    assert SWITCHED_OFF in reply.text


def test_a_web_only_manifest_closes_the_api_and_the_widget(handlers, demo_clone, creator, tmp_path):
    sign(creator, tmp_path, channels=["web"])
    demo_clone.consent = ConsentGuard(creator, demo_clone.persona)

    data = handlers.chat.chat_api(QUESTION)
    assert data["reason"] == "channel_closed" and data["refused"] and data["sources"] == []
    assert CLOSED in data["text"] and "(api)" in data["text"]

    *_, (chat, _, _) = handlers.chat.respond_embed(QUESTION, [], None)
    assert CLOSED in chat[-1]["content"] and "(embed)" in chat[-1]["content"]
    assert (
        revocation_notice(handlers.services, "embed")["visible"] is True
        and CLOSED in revocation_notice(handlers.services, "embed")["value"]
    )

    *_, (chat, _, _) = handlers.chat.respond(QUESTION, [], None)  # the web page is in scope
    assert CLOSED not in chat[-1]["content"] and "Sources" in chat[-1]["content"]
    assert revocation_notice(handlers.services)["visible"] is False


def test_a_creator_who_changes_the_manifest_reaches_a_running_app(demo_clone, creator, tmp_path):
    sign(creator, tmp_path, channels=["web", "api"])
    guard = ConsentGuard(creator, demo_clone.persona, max_age=0)
    assert guard.closed("api") is None

    sign(creator, tmp_path, channels=["web"], force=True)  # the creator narrows the scope
    assert guard.closed("api").reason == "channel" and guard.closed("web") is None

    data = json.loads((creator / "consent.json").read_text())
    data["manifest"]["scope"]["channels"] = ["web", "api"]  # widened by hand: the signature no longer matches
    (creator / "consent.json").write_text(json.dumps(data))
    assert guard.closed("web").reason == "revoked" and "bad signature" in guard.closed("web").detail

    (creator / "consent.json").unlink()
    assert guard.closed("web").reason == "revoked"


def test_the_app_starts_for_any_channel_it_serves(creator, tmp_path, settings):
    settings = replace(settings, creator_dir=creator)
    sign(creator, tmp_path, channels=["api"])
    app = create_app(settings)  # an api-only manifest may serve the API
    assert app is not None
    sign(creator, tmp_path, channels=["sms"], force=True)
    with pytest.raises(ConsentError, match="does not allow the 'web' channel"):
        create_app(settings)


@pytest.mark.slow
def test_a_launched_app_with_a_web_only_manifest_refuses_the_chat_api(creator, tmp_path):
    sign(creator, tmp_path, channels=["web"])
    with serving_app(
        tmp_path / "home", tmp_path / "server.log", CLONE_CREATOR_DIR=str(creator), CLONE_BACKEND="extractive"
    ) as url:
        data = Client(url, verbose=False).predict(message=QUESTION, api_name="/chat")
    assert data["reason"] == "channel_closed" and CLOSED in data["text"] and data["sources"] == []


def test_an_api_only_manifest_closes_the_page_and_serves_the_api(handlers, demo_clone, creator, tmp_path):
    sign(creator, tmp_path, channels=["api"])
    demo_clone.consent = ConsentGuard(creator, demo_clone.persona)

    *_, (chat, _, _) = handlers.chat.respond(QUESTION, [], None)
    assert CLOSED in chat[-1]["content"] and "(web)" in chat[-1]["content"]
    notice = revocation_notice(handlers.services)
    assert notice["visible"] is True and CLOSED in notice["value"]
    assert handlers.chat.chat_api(QUESTION)["sources"]


def test_the_consent_check_is_cheap_enough_for_every_message(demo_clone, creator, tmp_path):
    sign(creator, tmp_path, channels=["web"])
    guard = ConsentGuard(creator, demo_clone.persona)
    start = time.perf_counter()
    for _ in range(10_000):
        guard.closed("web")
    assert time.perf_counter() - start < 1.0
