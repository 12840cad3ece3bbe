import gradio as gr
import pytest

from clone.config import DEMO_CREATOR_DIR
from clone.survey import SurveyStore, load_instrument
from clone.trust.consent import verify_consent
from clone.ui import Handlers, banner_html, build_app
from tests.conftest import RESEARCH_TOKEN


@pytest.fixture
def handlers(demo_clone, settings) -> Handlers:
    return Handlers(demo_clone, SurveyStore(settings.survey_db), load_instrument(), settings)


def test_banner_says_ai_clone_not_the_person_and_fictional(demo_clone):
    html = banner_html(demo_clone)
    assert "You are chatting with an AI clone of Rosa Lindqvist, not with Rosa Lindqvist." in html
    assert "fictional creator" in html
    assert "id='ai-banner'" in html


def test_banner_is_in_every_app_whatever_the_settings(demo_clone, settings):
    from dataclasses import replace

    for s in (settings, replace(settings, research_token=""), replace(settings, backend="extractive", top_k=1)):
        consent = verify_consent(DEMO_CREATOR_DIR, demo_clone.persona)
        app = build_app(demo_clone, SurveyStore(s.survey_db), load_instrument(), s, consent)
        values = [c.get("props", {}).get("value") for c in app.config["components"]]
        assert any(isinstance(v, str) and "id='ai-banner'" in v for v in values)
        names = {d["api_name"] for d in app.config["dependencies"]}
        assert {"chat", "submit_survey"} <= names


def test_chat_handler_streams_a_cited_reply(handlers):
    steps = list(handlers.respond("How big is your balcony?", [], None))
    assert len(steps) >= 3
    chat, box, session = steps[-1]
    history = session["history"]
    assert box == ""
    assert chat[0] == {"role": "user", "content": "How big is your balcony?"}
    reply = chat[-1]["content"]
    assert "**Sources**" in reply and "](https://example.com/" in reply
    assert history == [("How big is your balcony?", history[0][1])]


def test_chat_history_is_bounded(handlers):
    session = {"history": [(f"q{i}", f"a{i}") for i in range(30)], "disclosed_at": None, "turns": 0}
    *_, (_, _, new) = handlers.respond("How big is your balcony?", [], session)
    assert len(new["history"]) == 10 and new["history"][-1][0] == "How big is your balcony?"


def test_chat_api_is_machine_readable(handlers):
    data = handlers.chat_api("How big is your balcony?")
    assert data["ai_generated"] is True
    assert data["sources"] and set(data["sources"][0]) == {"document", "title", "url", "start", "page"}
    assert "AI clone of Rosa Lindqvist" in data["disclosure"]


def test_survey_handler_stores_and_rejects_incomplete(handlers):
    n = len(handlers.instrument.columns)
    message = handlers.submit_survey(*([4] * n), "great")
    code = message.split("**")[1]
    assert [r.participant_id for r in handlers.store.responses()] == [code]
    with pytest.raises(gr.Error, match="missing: 2"):
        handlers.submit_survey(4, None, *([4] * (n - 2)), "")
    assert len(handlers.store.responses()) == 1


def test_export_needs_the_token(handlers, settings):
    with pytest.raises(gr.Error, match="not right"):
        handlers.export_csv("guess")
    handlers.submit_survey(*([6] * len(handlers.instrument.columns)), "")
    path = handlers.export_csv(RESEARCH_TOKEN)
    assert path.endswith(".csv") and "participant_id" in open(path, encoding="utf-8").read()


def test_export_disabled_without_a_token(handlers, settings):
    from dataclasses import replace

    handlers.settings = replace(settings, research_token="")
    with pytest.raises(gr.Error, match="set CLONE_RESEARCH_TOKEN"):
        handlers.export_csv("")


def test_creator_reindex_picks_up_new_content_and_needs_the_token(tiny_content, settings):
    from dataclasses import replace

    from clone.backends import get_backend
    from clone.config import DEMO_CREATOR_DIR
    from clone.index import ensure_index
    from clone.persona import load_persona
    from clone.pipeline import Clone

    settings = replace(settings, creator_token="creator-secret")
    clone = Clone(
        settings,
        load_persona(DEMO_CREATOR_DIR),
        ensure_index(tiny_content, settings).kb,
        get_backend("extractive", settings),
        tiny_content,
    )
    handlers = Handlers(clone, SurveyStore(settings.survey_db), load_instrument(), settings)
    question = "What tea do you drink while editing?"
    assert clone.answer(question).abstained

    (tiny_content / "tea.md").write_text("---\ntitle: Tea\n---\nI drink smoky lapsang souchong tea while editing.")
    (tiny_content / "broken.txt").write_bytes(b"\0\0binary")
    with pytest.raises(gr.Error, match="not right"):
        handlers.reindex("wrong")
    assert clone.answer(question).abstained
    summary = handlers.reindex("creator-secret")
    assert "1 added, 0 changed, 0 removed" in summary
    assert "Skipped `broken.txt`: the file looks binary" in summary
    reply = clone.answer(question)
    assert not reply.abstained and reply.sources[0].path == "tea.md"
    assert "Nothing changed" in handlers.reindex("creator-secret")

    handlers.settings = replace(settings, creator_token="")
    with pytest.raises(gr.Error, match="set CLONE_CREATOR_TOKEN"):
        handlers.reindex("creator-secret")
