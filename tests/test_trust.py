"""The trust layer wired into the app: receipts on every reply, verification, consent at start,
the kill switch in a running app, and the repeated AI disclosure."""

import json
import shutil
import sys
import time
from dataclasses import replace

import pytest
from gradio_client import Client

from clone.config import DEMO_CREATOR_DIR
from clone.errors import ConsentError
from clone.reply import reply_markdown
from clone.survey import load_study
from clone.trust.consent import verify_consent
from clone.trust.receipts import Notary
from clone.ui import Screens, create_app
from clone.ui.about import about_markdown
from tests.conftest import RESEARCH_TOKEN, services_for
from tests.harness import app_env, free_port, running


@pytest.fixture
def handlers(demo_clone, settings) -> Screens:
    return Screens.of(services_for(demo_clone, settings))


def test_every_reply_carries_a_receipt_that_verifies(demo_clone):
    for message in ("How big is your balcony?", "What is the capital of Peru?", "Are you human?", ""):
        reply = demo_clone.answer(message)
        assert reply.receipt and reply.receipt["algorithm"] == "Ed25519"
        result = demo_clone.notary.verify(reply.plain_text, reply.receipt["receipt"])
        assert result.status == "genuine", (message, result.message)
        assert list(result.sources) == [s.path for s in reply.sources]


def test_verify_tab_takes_what_a_fan_copies_from_the_chat(handlers, demo_clone):
    reply = demo_clone.answer("How big is your balcony?")
    copied = reply_markdown(reply)  # what the chat shows: citations as links, sources, the AI mark
    token = reply.receipt["receipt"]
    assert handlers.verify.verify_api(copied, token)["status"] == "genuine"
    assert "Genuine" in handlers.verify.verify(copied, token)
    altered = copied.replace("metres", "kilometres", 1)
    assert handlers.verify.verify_api(altered, token)["status"] == "altered"
    assert "Altered" in handlers.verify.verify(altered, token)
    assert handlers.verify.verify_api(copied, "not-a-receipt")["status"] == "unknown"


def test_a_receipt_from_another_deployment_is_unknown(handlers, tmp_path):
    other = Notary.load(tmp_path / "elsewhere")
    receipt = other.sign("My balcony is 3.4 metres long.", "rosa-lindqvist", [], "extractive")
    assert handlers.verify.verify_api("My balcony is 3.4 metres long.", receipt.token)["status"] == "unknown"


def test_chat_shows_the_ai_mark_and_receipt_code_on_every_reply(handlers):
    *_, (chat, _, _) = handlers.chat.respond("How big is your balcony?", [], None)
    reply = chat[-1]["content"]
    assert "AI-generated reply · receipt <code>" in reply


def test_disclosure_opens_the_chat_and_repeats_after_turns_and_time(handlers, settings):
    handlers.services.settings = replace(settings, disclosure_every_turns=2)
    session = None
    reminders = []
    for _ in range(5):
        *_, (chat, _, session) = handlers.chat.respond("How big is your balcony?", [], session)
        reminders.append(any(m["content"].startswith("*Reminder:*") for m in chat))
    assert reminders == [False, False, True, False, True]
    old = session | {"disclosed_at": time.time() - 4 * 3600, "turns": 0}
    *_, (chat, _, _) = handlers.chat.respond("How big is your balcony?", [], old)
    assert chat[-2]["content"].startswith("*Reminder:* **You are chatting with an AI clone")


def test_about_panel_shows_consent_and_keys(demo_clone, settings):
    consent = verify_consent(DEMO_CREATOR_DIR, demo_clone.persona)
    text = about_markdown(services_for(demo_clone, settings))
    assert consent.public_key in text and demo_clone.notary.public_key_b64 in text
    assert "Rosa Lindqvist" in text


def test_app_refuses_to_start_without_valid_consent(tmp_path, settings):
    creator = tmp_path / "creator"
    shutil.copytree(DEMO_CREATOR_DIR, creator, ignore=shutil.ignore_patterns("content"))
    (creator / "content").mkdir()
    (creator / "content" / "a.md").write_text("I grow beans.")
    (creator / "consent.json").unlink()
    with pytest.raises(ConsentError, match="python -m clone consent init"):
        create_app(replace(settings, creator_dir=creator))
    data = json.loads((DEMO_CREATOR_DIR / "consent.json").read_text())
    data["manifest"]["scope"]["voice"] = not data["manifest"]["scope"]["voice"]
    (creator / "consent.json").write_text(json.dumps(data))
    with pytest.raises(ConsentError, match="signature"):
        create_app(replace(settings, creator_dir=creator))


@pytest.mark.slow
def test_kill_switch_stops_a_running_app_within_seconds(tmp_path, demo_index_home):
    home = tmp_path / "home"
    shutil.copytree(demo_index_home / "index", home / "index")
    env = app_env(home, free_port(), CLONE_RESEARCH_TOKEN=RESEARCH_TOKEN)
    with running([sys.executable, "app.py"], env=env, log_path=tmp_path / "server.log", timeout=120) as url:
        client = Client(url, verbose=False)
        assert not client.predict(message="How big is your balcony?", api_name="/chat")["refused"]

        (home / "revoked.json").write_text(json.dumps({"revoked_at": "2026-11-25T12:00:00Z", "reason": "test"}))
        revoked_at = time.monotonic()
        while True:
            data = client.predict(message="How big is your balcony?", api_name="/chat")
            if data["reason"] == "revoked":
                break
            assert time.monotonic() - revoked_at < 5, "the kill switch took more than 5 seconds"
            time.sleep(0.2)
        assert "switched this AI clone off" in data["text"] and data["sources"] == []
        # The survey and the researchers' export keep working.
        client.predict(True, False, api_name="/consent")
        pre = [c.question.item.attention or 4 for c in load_study().columns("pre")]
        client.predict(*pre, api_name="/submit_pre")
        paths = client.predict(RESEARCH_TOKEN, api_name="/export_responses")
        wide = next(p for p in paths if str(p).endswith("wide.csv"))
        rows = open(wide, encoding="utf-8").read().splitlines()
        assert len(rows) == 2 and rows[1].startswith("p") and ",citations_" in rows[1]
