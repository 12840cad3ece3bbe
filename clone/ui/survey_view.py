"""The survey screen's page: consent, the questions before the chat, the chat step, the pages after, the
code; and the study reminder shown on the chat. The steps' logic is :class:`clone.ui.survey.SurveyHandlers`."""

from __future__ import annotations

import html

import gradio as gr

from clone.ui.items import (
    FOCUS_CHAT_JS,
    FOCUS_MISSING_JS,
    ITEM_CLASSES,
    paged_ratings,
    pages,
    rating,
)
from clone.ui.survey import SurveyHandlers


def reminder() -> tuple[gr.Group, gr.Button]:
    """The study reminder on the chat, shown while a participant is at the chat step.

    Returns the reminder (its visibility is set by the survey's steps) and its "Back to the questions"
    button, wired by :func:`build`.
    """
    with gr.Group(visible=False, elem_id="study-reminder", elem_classes=["study-reminder"]) as group:
        gr.Markdown(
            "**You are taking part in a study.** Chat with the AI clone, then go back to the questions.",
            elem_id="study-reminder-text",
        )
        back = gr.Button("Back to the questions", size="sm", elem_id="study-back")
    return group, back


def build(
    h: SurveyHandlers,
    session: gr.State,
    *,
    tabs: gr.Tabs | None = None,
    survey_tab: gr.Tab | None = None,
    chat_reminder: tuple[gr.Group, gr.Button] | None = None,
) -> None:
    """The participant flow: consent, pre-chat questions, chat, post-chat questions, code; and deletion.

    Every step reads and writes the survey's own state ``session`` (``gr.State``); the chat only reads
    it, so the condition assigned here decides how the chat shows replies. ``tabs`` (with ``survey_tab``
    and the chat's ``chat_reminder``, from :func:`reminder`) lets the study send the participant to the
    chat and back.
    """
    study = h.services.study
    numbers = {"pre": h.numbers("pre"), "post": h.numbers("post")}

    with gr.Column(elem_id="survey-consent-step") as consent_step:
        gr.Markdown(study.consent_text, elem_id="survey-consent-text")
        gr.Markdown(f"<sub>Consent text version {html.escape(study.consent_version)}</sub>")
        agree = gr.Checkbox(
            label="I have read the above and agree to take part.", elem_id="survey-agree", elem_classes=ITEM_CLASSES
        )
        keep = gr.Checkbox(
            label="You may keep the transcript of my chat for the research (optional).", elem_id="survey-transcript"
        )
        with gr.Row():
            start = gr.Button("Start", variant="primary", elem_id="survey-start")
            no = gr.Button("No thanks", elem_id="survey-decline")
    with gr.Column(visible=False, elem_id="survey-pre-step") as pre_step:
        gr.Markdown("### Before you chat\nA few questions about what you expect. Every question needs an answer.")
        pre_columns = study.columns("pre")
        pre = [rating(numbers["pre"][c.name], c) for c in pre_columns]
        pre_done = gr.Button("Continue", variant="primary", elem_id="survey-pre-submit")
    with gr.Column(visible=False, elem_id="survey-chat-step") as chat_step:
        need = study.min_turns
        gr.Markdown(
            "### Now chat\nTalk with the AI clone for as long as you like"
            + (f" (at least {need} question{'' if need == 1 else 's'})" if need else "")
            + ", then come back here."
        )
        go_chat = gr.Button("Go to the chat", variant="primary", elem_id="survey-go-chat")
        progress = gr.Markdown(elem_id="survey-chat-progress")
        chatted = gr.Button("I have finished chatting", interactive=need == 0, elem_id="survey-chat-done")
    post_columns = study.columns("post")
    paged = pages(post_columns)
    with gr.Column(visible=False, elem_id="survey-post-step") as post_step:
        gr.Markdown("### After your chat\nEvery rating needs an answer; the questions about you are optional.")
        post_by_name, page_columns, nexts, last_page = paged_ratings(paged, numbers["post"])
        with last_page:
            demo = [
                gr.Dropdown(
                    choices=choices,
                    value=None,
                    label=f"{study.demographic_question(name)} (optional)",
                    elem_id=f"survey-demo-{name}",
                )
                for name, choices in study.demographics.items()
            ]
            post_done = gr.Button("Submit answers", variant="primary", elem_id="survey-submit")
    post = [post_by_name[c.name] for c in post_columns]
    status = gr.Markdown(elem_id="survey-status")
    with gr.Column(visible=False, elem_id="survey-done-step") as done_step:
        thanks = gr.Markdown(elem_id="survey-thanks")
        code_box = gr.Textbox(
            label="Your completion code",
            interactive=False,
            buttons=["copy"],
            max_lines=1,
            elem_id="survey-code",
        )
    with gr.Accordion("Delete my answers", open=False, elem_id="survey-delete"):
        code = gr.Textbox(label="Your completion code", elem_id="survey-delete-code")
        delete = gr.Button("Delete my answers", elem_id="survey-delete-button")
        deleted = gr.Markdown(elem_id="survey-delete-result")

    # Without a chat tab to put it on, the reminder sits here (hidden but for the chat step).
    reminder_group, back = chat_reminder or reminder()
    started = start.click(
        h.consent, [agree, keep, session], [session, consent_step, pre_step, status, agree], api_name="consent"
    )
    if study.shuffled:  # the participant's own order, drawn at consent, onto the rating slots
        started = started.then(lambda st: h.order_items(st, "pre"), session, pre, api_visibility="private")
    started.then(None, js=FOCUS_MISSING_JS)
    no.click(h.decline, None, [consent_step, status], api_visibility="private")
    pre_done.click(
        h.submit_pre,
        [session, *pre],
        [session, pre_step, chat_step, status, reminder_group, chatted, *pre],
        api_name="submit_pre",
    ).then(None, js=FOCUS_MISSING_JS)
    finished = chatted.click(
        h.finish_chat,
        session,
        [session, chat_step, post_step, status, reminder_group],
        api_name="finish_chat",
        api_visibility="undocumented",  # for `study simulate`; a person presses the button
    )
    if study.shuffled:
        finished.then(lambda st: h.order_items(st, "post"), session, post, api_visibility="private")
    for i, button in enumerate(nexts):
        page_items = [post_by_name[c.name] for c in paged[i]]

        def next_page(state, *answers, _i=i):
            return h.check_page(_i, *answers, session=state)

        button.click(
            next_page,
            [session, *page_items],
            [page_columns[i], page_columns[i + 1], status, *page_items],
            api_name=f"post_page_{i + 1}",
            api_visibility="undocumented",  # for `study simulate`, which times the pages as a person would
        ).then(None, js=FOCUS_MISSING_JS)
    post_done.click(
        h.submit_post,
        [session, *post, *demo],
        [session, post_step, done_step, status, thanks, code_box, *page_columns, *post],
        api_name="submit_post",
    ).then(None, js=FOCUS_MISSING_JS)
    delete.click(h.delete_answers, code, deleted, api_name="delete_answers")
    if tabs is not None:
        go_chat.click(lambda: gr.Tabs(selected="chat"), None, tabs, api_visibility="private").then(
            None, js=FOCUS_CHAT_JS
        )
        back.click(lambda: gr.Tabs(selected="survey"), None, tabs, api_visibility="private").then(
            h.chat_progress, session, [chatted, progress], api_visibility="private"
        )
        if survey_tab is not None:
            survey_tab.select(h.chat_progress, session, [chatted, progress], api_visibility="private")
    else:  # no tabs to switch: the chat is elsewhere on the page
        go_chat.visible = False
        back.click(h.chat_progress, session, [chatted, progress], api_visibility="private")
