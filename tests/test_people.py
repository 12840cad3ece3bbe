"""What people meet, through the handlers the app's events call: a survey that never dead-ends, receipts people
can use, and a creator console that reads right. The same in a real browser is in tests/test_browser_people.py."""

import re

import gradio as gr

from clone.reply import reply_markdown
from clone.survey import load_study
from clone.survey.instruments import DEFAULT_STUDY
from clone.ui import build_app
from clone.ui.items import MAX_ITEMS_PER_PAGE, MISSING, pages
from tests.conftest import CREATOR_TOKEN


def answers(screens, phase: str, value: int = 4) -> list:
    return [c.question.item.attention or value for c in screens.services.study.columns(phase)]


def classes(update: dict) -> list[str]:
    return update.get("elem_classes") or []


def at_chat(screens) -> dict:
    session, *_ = screens.survey.consent(True, False, None)
    session, *_ = screens.survey.submit_pre(session, *answers(screens, "pre"))
    return session


# --- 1. a survey that cannot dead-end -------------------------------------------------------------------


def test_no_survey_step_raises_whatever_arrives(screens):
    """Every step, fed every wrong thing a browser or a script can send, answers in place: never gr.Error."""
    h, study = screens.survey, screens.services.study
    pre, post = answers(screens, "pre"), answers(screens, "post")
    demo = [None] * len(study.demographics)
    calls = [
        lambda: h.consent(False, False, None),
        lambda: h.consent(None, None, "not a dict"),
        lambda: h.submit_pre(None, *pre),
        lambda: h.submit_pre({}, *[None] * len(pre)),
        lambda: h.finish_chat(None),
        lambda: h.submit_post(None, *post, *demo),
        lambda: h.check_page(0, *[None] * len(pages(study.columns("post"))[0])),
    ]
    session = None
    for step in calls:
        step()  # none raises
    session, *_ = h.consent(True, False, session)
    assert h.consent(True, False, session)[3].startswith("That step is already done")  # a double click
    session, *_ = h.submit_pre(session, *pre[:-1], 99)  # out of range: said, not raised
    assert session["participant"]["stage"] == "pre"


def test_consent_without_the_agreement_stays(screens):
    """The page agrees with one button under the consent text; an API call without ``agree=True`` is refused."""
    session, consent_step, pre_step, status, agree = screens.survey.consent(False, True, None)
    assert consent_step["visible"] is True and pre_step["visible"] is False
    assert "I agree — start" in status and MISSING in classes(agree)
    assert "participant" not in session and screens.services.store.assignments() == []
    session, consent_step, pre_step, status, agree = screens.survey.consent(True, True, session)
    assert pre_step["visible"] is True and MISSING not in classes(agree)


def test_a_missing_answer_is_marked_beside_its_item_and_the_step_stays(screens):
    session, *_ = screens.survey.consent(True, False, None)
    pre = answers(screens, "pre")
    pre[2] = None
    session, pre_step, chat_step, status, reminder, _finish, *items = screens.survey.submit_pre(session, *pre)
    assert pre_step["visible"] is True and chat_step["visible"] is False and reminder["visible"] is False
    assert "question 3 " in status and "other answers are kept" in status
    marked = [n for n, item in enumerate(items) if MISSING in classes(item)]
    assert marked == [2] and "Question 3 needs an answer" in items[2]["info"]
    assert all("value" not in item for item in items)  # the answers given are left in place
    pre[2] = 4
    session, pre_step, chat_step, status, reminder, _finish, *items = screens.survey.submit_pre(session, *pre)
    assert chat_step["visible"] is True and reminder["visible"] is True and status == ""
    assert not any(MISSING in classes(item) for item in items)


def test_finished_chatting_needs_the_studys_minimum_turns(screens):
    assert load_study(DEFAULT_STUDY).min_turns >= 1
    h = screens.survey
    session = at_chat(screens)
    finish, line = h.chat_progress(session)
    assert finish["interactive"] is False and "at least 1 more question" in line
    session, chat_step, post_step, status, _ = h.finish_chat(session)  # a script pressing it anyway
    assert chat_step["visible"] is True and post_step["visible"] is False and "at least 1 more" in status
    list(screens.chat.respond("How big is your balcony?", [], None, session))
    finish, line = h.chat_progress(session)
    assert finish["interactive"] is True and "1 reply" in line
    session, chat_step, post_step, status, reminder = h.finish_chat(session)
    assert post_step["visible"] is True and reminder["visible"] is False


def test_post_questions_come_in_pages_checked_one_at_a_time(screens):
    h, columns = screens.survey, screens.services.study.columns("post")
    paged = pages(columns)
    assert len(paged) > 1 and all(len(p) <= MAX_ITEMS_PER_PAGE for p in paged)
    assert [c.name for p in paged for c in p] == [c.name for c in columns]  # nothing dropped, order kept
    first = [4] * len(paged[0])
    first[1] = None
    this, following, status, *items = h.check_page(0, *first)
    assert this["visible"] is True and following["visible"] is False and "question 2 " in status
    assert MISSING in classes(items[1])
    this, following, status, *_ = h.check_page(0, *[4] * len(paged[0]))
    assert this["visible"] is False and following["visible"] is True


def test_a_missing_post_answer_opens_its_page_and_the_code_can_be_copied(screens):
    h = screens.survey
    session = at_chat(screens)
    list(screens.chat.respond("How big is your balcony?", [], None, session))
    session, *_ = h.finish_chat(session)
    post, demo = answers(screens, "post"), [None] * len(screens.services.study.demographics)
    post[0] = None
    n_pages = len(pages(screens.services.study.columns("post")))
    out = h.submit_post(session, *post, *demo)
    session, post_step, done_step, status = out[:4]
    page_updates = out[6 : 6 + n_pages]
    assert post_step["visible"] is True and done_step["visible"] is False and "question 1 " in status
    assert [p["visible"] for p in page_updates] == [True] + [False] * (n_pages - 1)
    post[0] = 4
    session, post_step, done_step, status, message, code_box, *_ = h.submit_post(session, *post, *demo)
    code = session["participant"]["id"]
    assert done_step["visible"] is True and code_box["value"] == code
    assert f"**{code}**" in message and "paste it where the study asked you to" in message


def test_every_label_a_participant_reads_is_a_sentence(screens):
    """No variable names ("Optional: follows creator"): each label is words, starting with a capital."""
    app = build_app(screens.services)
    survey = [c for c in app.config["components"] if str(c.get("props", {}).get("elem_id", "")).startswith("survey")]
    labels = [c["props"]["label"] for c in survey if c["props"].get("label")]
    assert len(labels) > 20  # the consent, every item and demographic question, the codes
    for label in labels:
        assert "_" not in label and not label.startswith("Optional:"), label
        text = re.sub(r"^\d+\. ", "", label)
        assert text[0].isupper() and len(text.split()) >= 3, label


def test_the_study_sends_the_participant_to_the_chat_and_back(screens):
    """The study switches tabs (gr.Tabs(selected=...)) to the chat and back to the questions."""
    app = build_app(screens.services)
    components = {c["id"]: c for c in app.config["components"]}
    by_elem = {c["props"].get("elem_id"): i for i, c in components.items() if c.get("props", {}).get("elem_id")}
    tabs = by_elem["clone-tabs"]
    deps = {d["id"]: d for d in app.config["dependencies"]}

    def trigger(d: dict) -> str:
        """The element whose event starts ``d``'s chain (a ``.then`` step has no target of its own)."""
        while d["targets"][0][0] is None and d.get("trigger_after") is not None:
            d = deps[d["trigger_after"]]
        return components[d["targets"][0][0]]["props"]["elem_id"]

    switching = {trigger(d) for d in deps.values() if tabs in d["outputs"] and d["targets"]}
    # "Continue to the chat" and "Go to the chat" open the chat; its reminder's "I have finished chatting" the
    # questions after it (one tap each: no "Back to the questions" between).
    assert {"survey-go-chat", "survey-pre-submit", "study-finish"} <= switching
    button = components[by_elem["survey-start"]]["props"]
    agree = components[by_elem["survey-agree"]]["props"]
    assert button["value"] == "I agree — start" and agree["visible"] is False and agree["value"] is True
    # The reminder sits on the Chat tab, hidden until a participant reaches the chat step.
    assert components[by_elem["study-reminder"]]["props"]["visible"] is False


# --- 4. receipts people can use ------------------------------------------------------------------------


def plain_copy(markdown: str) -> str:
    """What the chat's copy button puts on the clipboard (assets/receipts.js), for the handler tests."""
    code, token = re.search(r"<code>([^<]+)</code></summary>\s*`([^`]+)`", markdown).groups()
    text = re.sub(r"<details>.*</details>", f"AI-generated reply · receipt {code}\n{token}", markdown, flags=re.S)
    text = re.sub(r"\s?\[\[(\d{1,2})\]\]\([^)]*\)", r" [\1]", text)
    text = re.sub(r"^(\d{1,2})\. \[([^\]]*)\]\([^)]*\)$", r"\1. \2", text, flags=re.M)
    return text.replace("**Sources**", "Sources")


def test_the_short_code_with_the_copied_reply_verifies(screens):
    reply = screens.services.clone.answer("How big is your balcony?")
    code, token = reply.receipt["code"], reply.receipt["receipt"]
    copied = plain_copy(reply_markdown(reply))
    assert "<" not in copied and "**" not in copied and "](" not in copied
    for receipt in (code, code.lower(), ""):
        result = screens.verify.verify_api(copied, receipt)
        assert result["status"] == "genuine", (receipt, result)
    # Changed text with the right code is caught, like with the full receipt.
    assert screens.verify.verify_api(copied.replace("balcony", "garden", 1), code)["status"] == "altered"
    assert screens.verify.verify_api(copied, token)["status"] == "genuine"


def test_the_short_code_alone_is_explained_kindly(screens):
    reply = screens.services.clone.answer("How big is your balcony?")
    shown = screens.verify.verify(reply.plain_text, reply.receipt["code"])
    assert "Verify needs the full receipt" in shown and "Copy receipt" in shown
    assert "not issued" not in shown and "Unknown" not in shown
    assert screens.verify.verify_api(reply.plain_text, reply.receipt["code"])["needs_receipt"] is True


# --- 6. console polish -----------------------------------------------------------------------------------


def test_creator_counts_read_right_and_the_answer_box_is_cleared(screens):
    h = screens
    question = "What is your favourite board game?"
    *_, (_, _, session) = h.chat.respond(question, [], None)
    h.chat.leave_question(question, True, "fan@example.org", session)
    _, picker, title, summary = h.creator.inbox_view(CREATOR_TOKEN)
    assert "**1 open question in 1 group.**" in summary
    result, cleared = h.creator.inbox_answer(CREATOR_TOKEN, picker["value"], title, "Carcassonne, on the balcony.")
    assert "closed 1 question " in result and "1 fan asked" in result and "the address is shown" in result
    assert cleared == ""


def test_a_cited_creator_answer_is_in_their_words_with_no_dead_link(screens):
    h = screens
    question = "What is your favourite board game?"
    answer = "Carcassonne is my favourite board game; we play it on the balcony table."
    *_, (_, _, session) = h.chat.respond(question, [], None)
    h.chat.leave_question(question, False, "", session)
    _, picker, title, _ = h.creator.inbox_view(CREATOR_TOKEN)
    h.creator.inbox_answer(CREATOR_TOKEN, picker["value"], title, answer)
    reply = h.services.clone.answer(question)
    assert reply.sources[0].title == f"Creator answer: {question}"
    assert reply.text.startswith("Carcassonne"), reply.text  # no persona lead-in before the creator's words
    lead_ins = h.services.persona.lead_ins
    assert lead_ins and not any(reply.text.startswith(lead) for lead in lead_ins)
    shown = reply.markdown()
    assert "](#)" not in shown and " [1]" in shown
    assert h.verify.verify_api(reply_markdown(reply), reply.receipt["receipt"])["status"] == "genuine"


def test_the_embed_snippet_has_the_apps_own_address(screens):
    from starlette.requests import Request

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/gradio_api/queue/join",
        "root_path": "",
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 7860),
        "headers": [(b"host", b"clone.example.org"), (b"x-forwarded-proto", b"https")],
    }
    shown = screens.creator.embed(gr.Request(request=Request(scope)))
    assert 'src="https://clone.example.org/widget"' in shown and "YOUR-APP-URL" not in shown
    assert "YOUR-APP-URL" in screens.creator.embed(None)  # a direct call has no address to give


def test_the_survey_builds_on_its_own_page_too(screens):
    """Without tabs (a page of its own) the study reminder sits in the survey and nothing points nowhere."""
    from clone.ui import survey_view

    with gr.Blocks() as page:
        survey_view.build(screens.survey, gr.State({}))
    ids = {c.get("props", {}).get("elem_id"): c for c in page.config["components"]}
    assert ids["study-finish"]["props"]["interactive"] is True and ids["survey-go-chat"]["props"]["visible"] is False
