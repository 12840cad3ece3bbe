import gradio as gr
import pytest

from clone.ui import Screens, build_app
from clone.ui.page import banner_html
from tests.conftest import RESEARCH_TOKEN, clone_over, services_for


@pytest.fixture
def handlers(screens) -> Screens:
    return screens


def test_banner_says_ai_clone_not_the_person_and_fictional(demo_clone):
    html = banner_html(demo_clone.persona)
    assert "You are chatting with an AI clone of Rosa Lindqvist, not with Rosa Lindqvist." in html
    assert "fictional creator" in html
    assert "id='ai-banner'" in html


def test_banner_is_in_every_app_whatever_the_settings(demo_clone, settings):
    from dataclasses import replace

    for s in (settings, replace(settings, research_token=""), replace(settings, backend="extractive", top_k=1)):
        app = build_app(services_for(demo_clone, s))
        values = [c.get("props", {}).get("value") for c in app.config["components"]]
        assert any(isinstance(v, str) and "id='ai-banner'" in v for v in values)
        names = {d["api_name"] for d in app.config["dependencies"]}
        assert {"chat", "consent", "submit_pre", "submit_post", "delete_answers"} <= names


def test_chat_handler_streams_a_cited_reply(handlers):
    steps = list(handlers.chat.respond("How big is your balcony?", [], None))
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
    *_, (_, _, new) = handlers.chat.respond("How big is your balcony?", [], session)
    assert len(new["history"]) == 10 and new["history"][-1][0] == "How big is your balcony?"


def test_chat_api_is_machine_readable(handlers):
    data = handlers.chat.chat_api("How big is your balcony?")
    assert data["ai_generated"] is True
    assert data["sources"] and set(data["sources"][0]) == {"document", "title", "url", "start", "page"}
    assert "AI clone of Rosa Lindqvist" in data["disclosure"]


def _answers(handlers, phase, value=4):
    return [c.question.item.attention or value for c in handlers.services.study.columns(phase)]


def run_participant(handlers, *, keep_transcript=False, questions=("How big is your balcony?",)):
    """Consent, pre-chat answers, a chat, post-chat answers; returns (study state, completion message, chat)."""
    study, consent_step, pre_step, *_ = handlers.survey.consent(True, keep_transcript, None)
    assert consent_step["visible"] is False and pre_step["visible"] is True
    study, *_ = handlers.survey.submit_pre(study, *_answers(handlers, "pre"))
    chat, session = [], None
    for q in questions:
        *_, (chat, _, session) = handlers.chat.respond(q, chat, session, study)
    study, *_ = handlers.survey.finish_chat(study)
    demo = ["25-34"] + [None] * (len(handlers.services.study.demographics) - 1)
    study, _, _, _, message, *_ = handlers.survey.submit_post(study, *_answers(handlers, "post", 5), *demo)
    return study, message, chat


def test_participant_flow_stores_one_joined_record(handlers):
    medical = "How much ibuprofen should I take for my back pain?"
    session, message, _ = run_participant(handlers, questions=("How big is your balcony?", medical))
    code = message.split("**")[1]
    (record,) = handlers.services.store.records()
    assert record.participant_id == code == session["participant"]["id"]
    assert record.condition in {"citations_shown", "citations_hidden"}
    assert record.consent_version == handlers.services.study.consent_version == "2" and record.consented_at.endswith(
        "Z"
    )
    # Counted from the replies: the medical question is refused (a refusal also counts as an abstention).
    assert (record.chat.turns, record.chat.abstentions, record.chat.refusals) == (2, 1, 1)
    assert record.demographics == {"age_band": "25-34"}
    assert record.transcript is None  # not opted in: nothing of the chat text is kept
    assert len(record.answers) == len(handlers.services.study.columns("pre")) + len(
        handlers.services.study.columns("post")
    )
    # A second submit (a double click) is told, in place, that the step is done: no error, nothing stored twice.
    assert "already done" in handlers.survey.submit_post(session, *_answers(handlers, "post"))[3]
    assert handlers.survey.delete_answers(code) == "Your answers have been deleted."
    assert handlers.services.store.records() == []


def test_transcript_is_kept_only_with_opt_in(handlers):
    run_participant(handlers, keep_transcript=True)
    (record,) = handlers.services.store.records()
    assert record.transcript and record.transcript[0]["fan"] == "How big is your balcony?"


def test_chat_metrics_count_abstentions(handlers):
    run_participant(handlers, questions=("How do I reverse a linked list in Python?",))
    assert handlers.services.store.records()[0].chat.abstentions == 1


def test_consent_is_required_and_declining_stores_nothing(handlers):
    _, consent_step, pre_step, status, _ = handlers.survey.consent(False, True, None)
    assert consent_step["visible"] is True and pre_step["visible"] is False and "I agree — start" in status
    step, message = handlers.survey.decline()
    assert step["visible"] is False and "nothing about you is stored" in message
    *_, (chat, _, session) = handlers.chat.respond("How big is your balcony?", [], None)
    assert "participant" not in session and "**Sources**" in chat[-1]["content"]
    assert handlers.services.store.records() == [] and handlers.services.store.assignments() == []
    assert "agree to take part first" in handlers.survey.submit_pre(None, *_answers(handlers, "pre"))[3]


@pytest.mark.parametrize("condition, cited", [("citations_hidden", False), ("citations_shown", True)])
def test_chat_honours_the_assigned_condition(handlers, condition, cited):
    one = handlers.services.study.model_copy(update={"conditions": [handlers.services.study.condition(condition)]})
    handlers.services.study = one
    study, *_ = handlers.survey.consent(True, False, None)
    *_, (chat, _, _) = handlers.chat.respond("How big is your balcony?", [], None, study)
    reply = chat[-1]["content"]
    assert ("**Sources**" in reply) is cited and ("](https://example.com/" in reply) is cited
    assert "AI-generated reply" in reply  # the AI mark is never a condition
    assert handlers.services.store.assignments()[0].condition == condition


def test_a_missing_post_answer_can_be_fixed_and_resubmitted(handlers):
    session, *_ = handlers.survey.consent(True, False, None)
    session, *_ = handlers.survey.submit_pre(session, *_answers(handlers, "pre"))
    list(handlers.chat.respond("How big is your balcony?", [], None, session))  # the study asks for one reply
    session, *_ = handlers.survey.finish_chat(session)
    post = _answers(handlers, "post")
    demo = [None] * len(handlers.services.study.demographics)
    session, post_step, _, status, *_ = handlers.survey.submit_post(session, *post[:2], None, *post[3:], *demo)
    assert post_step["visible"] is True and "question 3 " in status
    session, _, _, _, message, *_ = handlers.survey.submit_post(session, *post, *demo)
    assert "completion code" in message and handlers.services.store.records()[0].post_at


def test_pre_answers_are_validated(handlers):
    session, *_ = handlers.survey.consent(True, False, None)
    answers = _answers(handlers, "pre")
    answers[1] = None
    _, pre_step, chat_step, status, *_ = handlers.survey.submit_pre(session, *answers)
    assert pre_step["visible"] is True and chat_step["visible"] is False and "question 2 " in status


def test_export_needs_the_token(handlers, settings):
    with pytest.raises(gr.Error, match="not right"):
        handlers.research.export_files("guess")
    run_participant(handlers)
    paths = handlers.research.export_files(RESEARCH_TOKEN)
    assert [p.rsplit("study-", 1)[1] for p in paths] == ["wide.csv", "long.csv", "codebook.csv", "codebook.json"]
    assert handlers.research.export_csv(RESEARCH_TOKEN) == paths[0]
    assert "participant_id" in open(paths[0], encoding="utf-8").read()


def test_export_disabled_without_a_token(handlers, settings):
    from dataclasses import replace

    handlers.services.settings = replace(settings, research_token="")
    with pytest.raises(gr.Error, match="set CLONE_RESEARCH_TOKEN"):
        handlers.research.export_csv("")


def test_creator_reindex_picks_up_new_content_and_needs_the_token(tiny_content, settings):
    from dataclasses import replace

    settings = replace(settings, creator_token="creator-secret")
    clone = clone_over(tiny_content, settings)
    handlers = Screens.of(services_for(clone, settings))
    question = "What tea do you drink while editing?"
    assert clone.answer(question).abstained

    (tiny_content / "tea.md").write_text("---\ntitle: Tea\n---\nI drink smoky lapsang souchong tea while editing.")
    (tiny_content / "broken.txt").write_bytes(b"\0\0binary")
    with pytest.raises(gr.Error, match="not right"):
        handlers.creator.reindex("wrong")
    assert clone.answer(question).abstained
    summary = handlers.creator.reindex("creator-secret")
    assert "1 added, 0 changed, 0 removed" in summary
    assert "Skipped `broken.txt`: the file looks binary" in summary
    reply = clone.answer(question)
    assert not reply.abstained and reply.sources[0].path == "tea.md"
    assert "Nothing changed" in handlers.creator.reindex("creator-secret")

    handlers.services.settings = replace(settings, creator_token="")
    with pytest.raises(gr.Error, match="set CLONE_CREATOR_TOKEN"):
        handlers.creator.reindex("creator-secret")


def test_the_study_file_setting_changes_the_survey_and_the_client_cannot_pick_a_condition(
    demo_clone, settings, tmp_path
):
    from dataclasses import replace

    from clone.config import ASSETS_DIR

    folder = tmp_path / "study"
    folder.mkdir()
    for name in ("clone_reactions.yaml", "attention.yaml"):
        (folder / name).write_text((ASSETS_DIR / "instruments" / name).read_text())
    (folder / "consent.md").write_text("Our own consent text, version 7.")
    (folder / "study.yaml").write_text(
        "id: own\nconsent: {file: consent.md, version: '7'}\ninstruments: [clone_reactions.yaml, attention.yaml]\n"
        "conditions: [{id: only, show_citations: false}]\n"
    )
    s = replace(settings, study_file=folder / "study.yaml")
    app = build_app(services_for(demo_clone, s))
    components = {c["id"]: c for c in app.config["components"]}
    values = [c.get("props", {}).get("value") for c in components.values()]
    assert "Our own consent text, version 7." in values
    labels = [c.get("props", {}).get("label") or "" for c in components.values()]
    assert any("I felt comfortable chatting with this AI clone." in label for label in labels)
    consent = next(d for d in app.config["dependencies"] if d["api_name"] == "consent")
    assert [components[i]["type"] for i in consent["inputs"]] == ["checkbox", "checkbox", "state"]


def test_moving_on_while_a_reply_streams_keeps_the_step_and_counts_the_reply(handlers):
    study, *_ = handlers.survey.consent(True, False, None)
    study, *_ = handlers.survey.submit_pre(study, *_answers(handlers, "pre"))
    *_, (chat, _, session) = handlers.chat.respond("How big is your balcony?", [], None, study)  # the minimum
    stream = handlers.chat.respond("How big is your balcony?", chat, session, study)
    next(stream)  # the reply is still streaming...
    study, *_ = handlers.survey.finish_chat(study)  # ...when the participant presses "I have finished chatting"
    for _chat, _box, session in stream:
        assert "participant" not in session  # the chat's state never carries (an old copy of) the survey's
    demo = [None] * len(handlers.services.study.demographics)
    study, _, _, _, message, *_ = handlers.survey.submit_post(study, *_answers(handlers, "post"), *demo)
    assert "completion code" in message
    assert handlers.services.store.records()[0].chat.turns == 2
