"""The survey screen's page: consent, the questions before the chat, the chat step, the pages after, the
code; and the study reminder shown on the chat. The steps' logic is :class:`clone.ui.survey.SurveyHandlers`."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import NamedTuple

import gradio as gr

from clone.ui.items import (
    FOCUS_CHAT_JS,
    FOCUS_MISSING_JS,
    FOCUS_MISSING_OR_CHAT_JS,
    ITEM_CLASSES,
    SHOW_POST_JS,
    paged_ratings,
    pages,
    rating,
)
from clone.ui.survey import SurveyHandlers, participant_stage

AGREE = "I agree — start"


class Reminder(NamedTuple):
    """The study reminder on the chat: its box, its "I have finished chatting" button and progress line."""

    group: gr.Group
    finish: gr.Button
    progress: gr.Markdown


def reminder() -> Reminder:
    """The study reminder on the chat, shown while a participant is at the chat step.

    Its "I have finished chatting" button (enabled once the study's ``min_turns`` replies are in) ends the
    chat step and takes the participant straight to the questions after the chat: one tap, where a "Back
    to the questions" and then an "I have finished chatting" took two. Wired by :func:`build`.
    """
    with gr.Group(visible=False, elem_id="study-reminder", elem_classes=["study-reminder"]) as group:
        gr.Markdown(
            "**You are taking part in a study.** Chat with the AI clone; when you are done, choose "
            "*I have finished chatting* for the last questions.",
            elem_id="study-reminder-text",
        )
        progress = gr.Markdown(elem_id="study-progress")
        finish = gr.Button("I have finished chatting", size="sm", interactive=False, elem_id="study-finish")
    return Reminder(group, finish, progress)


def build(
    h: SurveyHandlers,
    session: gr.State,
    *,
    tabs: gr.Tabs | None = None,
    survey_tab: gr.Tab | None = None,
    chat_reminder: Reminder | None = None,
    replies: list | None = None,
    chat_opening: tuple[Callable, tuple[gr.Chatbot, gr.State]] | None = None,
) -> None:
    """The participant flow: consent, pre-chat questions, chat, post-chat questions, code; and deletion.

    Every step reads and writes the survey's own state ``session`` (``gr.State``); the chat only reads
    it, so the condition assigned here decides how the chat shows replies. ``tabs`` (with ``survey_tab``
    and the chat's ``chat_reminder``, from :func:`reminder`) lets the study send the participant to the
    chat and back; ``replies`` (the chat's reply events, from :func:`clone.ui.chat.build`) enable the
    reminder's "I have finished chatting" once enough replies are in.

    Taps are counted (tests/test_browser_people.py): agreeing is one button under the consent text,
    "Continue to the chat" opens the chat with the cursor in its box, and the reminder's "I have finished
    chatting" opens the questions after the chat.
    ``chat_opening`` (:meth:`clone.ui.chat.ChatHandlers.opening` and the chat's conversation and session,
    from :func:`clone.ui.chat.build`) opens the chat as the participant's cell has it after consent.
    """
    study = h.services.study
    numbers = {"pre": h.numbers("pre"), "post": h.numbers("post")}

    with gr.Column(elem_id="survey-consent-step") as consent_step:
        gr.Markdown(study.consent_text, elem_id="survey-consent-text")
        gr.Markdown(f"<sub>Consent text version {html.escape(study.consent_version)}</sub>")
        keep = gr.Checkbox(
            label="You may keep the transcript of my chat for the research (optional).", elem_id="survey-transcript"
        )
        # Consent is one affirmative act on the text above: choosing the button that says so (no box to tick
        # first, which cost a tap and was the step's most common mistake). The API's /consent still takes the
        # agreement as its first value; for the button this hidden box sends it.
        agree = gr.Checkbox(
            value=True,
            visible=False,
            label="I have read the above and agree to take part.",
            elem_id="survey-agree",
            elem_classes=ITEM_CLASSES,
        )
        gr.Markdown(
            f"Choosing **{AGREE}** means that you have read the above and agree to take part.",
            elem_id="survey-agree-text",
        )
        with gr.Row():
            start = gr.Button(AGREE, variant="primary", elem_id="survey-start")
            no = gr.Button("No thanks", elem_id="survey-decline")
    with gr.Column(visible=False, elem_id="survey-pre-step") as pre_step:
        gr.Markdown("### Before you chat\nA few questions about what you expect. Every question needs an answer.")
        pre_columns = study.columns("pre")
        pre = [rating(numbers["pre"][c.name], c) for c in pre_columns]
        pre_done = gr.Button(
            "Continue to the chat" if tabs is not None else "Continue", variant="primary", elem_id="survey-pre-submit"
        )
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
    on_chat = chat_reminder or reminder()
    reminder_group = on_chat.group
    progress_outputs = [on_chat.finish, on_chat.progress, chatted, progress]

    def both_progress(state):
        """The chat step's progress on the chat's reminder and on the survey's chat step alike."""
        return h.chat_progress(state) * 2

    started = start.click(
        h.consent, [agree, keep, session], [session, consent_step, pre_step, status, agree], api_name="consent"
    )
    if chat_opening is not None:  # the chat as the participant's cell shows it: wording, greeting, avatar
        opening, (chatbot, chat_session) = chat_opening
        started = started.then(opening, session, [chatbot, chat_session], api_visibility="private")
    if study.shuffled:  # the participant's own order, drawn at consent, onto the rating slots
        started = started.then(lambda st: h.order_items(st, "pre"), session, pre, api_visibility="private")
    started.then(None, js=FOCUS_MISSING_JS)
    no.click(h.decline, None, [consent_step, status], api_visibility="private")
    pre_submitted = pre_done.click(
        h.submit_pre,
        [session, *pre],
        [session, pre_step, chat_step, status, reminder_group, chatted, *pre],
        api_name="submit_pre",
    )
    if tabs is not None:  # "Continue to the chat": straight to the chat, the cursor in its box

        def to_chat(state):
            if participant_stage(state) != "chat":
                return gr.update(), *[gr.update()] * len(progress_outputs)
            return gr.Tabs(selected="chat"), *both_progress(state)

        pre_submitted.then(to_chat, session, [tabs, *progress_outputs], api_visibility="private").then(
            None, js=FOCUS_MISSING_OR_CHAT_JS
        )
    else:
        pre_submitted.then(both_progress, session, progress_outputs, api_visibility="private").then(
            None, js=FOCUS_MISSING_JS
        )

    def finish_from(button: gr.Button, **api) -> None:
        """ "I have finished chatting" (on the survey's chat step or the chat's reminder): the questions after."""
        finished = button.click(h.finish_chat, session, [session, chat_step, post_step, status, reminder_group], **api)
        if study.shuffled:
            finished = finished.then(lambda st: h.order_items(st, "post"), session, post, api_visibility="private")
        if tabs is not None:

            def to_questions(state):
                if participant_stage(state) != "post":  # too early: the reminder says how many questions are left
                    return gr.update(), *both_progress(state)
                return gr.Tabs(selected="survey"), *[gr.update()] * len(progress_outputs)

            finished = finished.then(to_questions, session, [tabs, *progress_outputs], api_visibility="private")
        finished.then(None, js=SHOW_POST_JS)

    # The survey step's button is also callable (undocumented) as /finish_chat, for `study simulate`.
    finish_from(chatted, api_name="finish_chat", api_visibility="undocumented")
    finish_from(on_chat.finish, api_visibility="private")
    for reply in replies or []:  # each reply may be the one that lets the participant finish
        reply.then(both_progress, session, progress_outputs, api_visibility="private")
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
        if survey_tab is not None:
            survey_tab.select(h.chat_progress, session, [chatted, progress], api_visibility="private")
    else:  # no tabs to switch: the chat is elsewhere on the page
        go_chat.visible = False
    if not replies:  # no reply events to follow: the server's check (said on the reminder) is the guard
        on_chat.finish.interactive = True
