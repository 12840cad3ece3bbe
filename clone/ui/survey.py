"""The study's participant flow: consent, questions before the chat, the chat, questions after, the code."""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from clone import __version__
from clone.errors import SurveyError
from clone.services import Services
from clone.ui.limits import Limits, checked_text


def _participant(session: dict | None, stage: str) -> dict:
    """This session's participant, who must be at ``stage`` of the flow (else a polite ``gr.Error``)."""
    participant = (session or {}).get("participant")
    if not participant:
        raise gr.Error(
            "Please agree to take part first (the consent form at the top of this tab).", print_exception=False
        )
    if participant["stage"] != stage:
        raise gr.Error("That step is already done; please continue with the next one.", print_exception=False)
    return dict(participant)


@dataclass
class SurveyHandlers:
    """The survey's steps, plain functions over the study and its store."""

    services: Services
    limits: Limits | None = None

    def __post_init__(self) -> None:
        # Per-client limits, shared by every screen and route of this process (see clone.ui.limits).
        self.limits = self.limits or Limits(self.services.settings)

    def consent(
        self, agree: bool, keep_transcript: bool, study: dict | None, request: gr.Request | None = None
    ) -> tuple:
        """Consent screen: record consent, draw an id and a condition on the server, show the pre-chat questions.

        ``study`` is the survey's own state (``gr.State``), apart from the chat's, so a reply still
        streaming can never write back an older copy of it. Returns (study state, consent step, pre-chat
        step, status). The condition never comes from the client. A client may start at most
        ``CLONE_PARTICIPANTS_PER_HOUR`` participants.
        """
        s = self.services
        session = dict(study if isinstance(study, dict) else {})
        if session.get("participant"):
            raise gr.Error("You have already agreed; please continue below.", print_exception=False)
        if agree is not True:
            raise gr.Error(
                "Please tick the box to agree, or choose No thanks to chat without taking part.",
                print_exception=False,
            )
        self.limits.check(self.limits.participants, request, "new participants")
        a = s.store.assign(
            s.study,
            consent_version=s.study.consent_version,
            transcript_opt_in=keep_transcript is True,
            persona_id=s.persona.id,
            app_version=__version__,
            backend=s.clone.backend.name,
        )
        session["participant"] = {
            "id": a.participant_id,
            "show_citations": s.study.condition(a.condition).show_citations,
            "transcript_opt_in": keep_transcript is True,
            "stage": "pre",
        }
        return session, gr.update(visible=False), gr.update(visible=True), "Thank you for taking part."

    def decline(self) -> tuple:
        """No thanks: nothing is stored, and the chat stays open."""
        return (
            gr.update(visible=False),
            "No problem: nothing about you is stored for research. You can still chat in the **Chat** tab.",
        )

    def submit_pre(self, session: dict | None, *answers) -> tuple:
        """Store the pre-chat answers; returns (study state, pre step, chat step, status)."""
        s = self.services
        participant = _participant(session, "pre")
        columns = [c.question.column for c in s.study.columns("pre")]
        try:
            s.store.save_phase(s.study, participant["id"], "pre", dict(zip(columns, answers, strict=True)))
        except (SurveyError, ValueError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        session = dict(session) | {"participant": participant | {"stage": "chat"}}
        return session, gr.update(visible=False), gr.update(visible=True), ""

    def finish_chat(self, session: dict | None) -> tuple:
        """The participant is done chatting; returns (study state, chat step, post-chat step)."""
        participant = _participant(session, "chat")
        session = dict(session) | {"participant": participant | {"stage": "post"}}
        return session, gr.update(visible=False), gr.update(visible=True)

    def submit_post(self, session: dict | None, *values) -> tuple:
        """Store the post-chat answers, chat metrics and optional demographics; show the completion code.

        ``values`` are the post-chat items in order, then one value per demographic question.
        Returns (study state, post step, completion message).
        """
        s = self.services
        participant = _participant(session, "post")
        columns = [c.question.column for c in s.study.columns("post")]
        n = len(columns)
        answers, demo = values[:n], values[n:]
        metrics, transcript = s.tally.metrics(participant["id"])
        try:
            # Metrics first (an idempotent update): if an answer is missing, the participant fixes it and
            # submits again, and the post-chat answers (written once) still go in as one transaction.
            s.store.finish(
                s.study,
                participant["id"],
                chat=metrics,
                demographics=dict(zip(s.study.demographics, demo, strict=True)),
                transcript=transcript if participant["transcript_opt_in"] else None,
            )
            s.store.save_phase(s.study, participant["id"], "post", dict(zip(columns, answers, strict=True)))
        except (SurveyError, ValueError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        s.tally.forget(participant["id"])
        session = dict(session) | {"participant": participant | {"stage": "done"}}
        message = (
            f"Thank you, your answers are saved. Your completion code is **{participant['id']}**. "
            "It is also your deletion code: keep it if you may want your answers deleted later."
        )
        return session, gr.update(visible=False), message

    def delete_answers(self, code: str) -> str:
        """Delete everything stored under a completion code."""
        code = checked_text(code, "The completion code").strip()
        if code and self.services.store.delete(code):
            return "Your answers have been deleted."
        return "No answers are stored under that code (already deleted, or a typo?)."


def build(h: SurveyHandlers, session: gr.State) -> None:
    """The participant flow: consent, pre-chat questions, chat, post-chat questions, code; and deletion.

    Every step reads and writes the survey's own state ``session`` (``gr.State``); the chat only reads
    it, so the condition assigned here decides how the chat shows replies.
    """
    study = h.services.study

    def radios(phase: str) -> list[gr.Radio]:
        out = []
        for n, c in enumerate(study.columns(phase), 1):
            scale, q = c.instrument.scale, c.question
            choices = [(q.label(scale, v), v) for v in range(scale.min, scale.max + 1)]
            out.append(gr.Radio(choices=choices, label=f"{n}. {q.item.text}", elem_id=f"survey-{c.name}"))
        return out

    with gr.Column(elem_id="survey-consent-step") as consent_step:
        gr.Markdown(study.consent_text, elem_id="survey-consent-text")
        gr.Markdown(f"<sub>Consent text version {html.escape(study.consent_version)}</sub>")
        agree = gr.Checkbox(label="I have read the above and agree to take part.", elem_id="survey-agree")
        keep = gr.Checkbox(
            label="Optional: you may keep the transcript of my chat for the research.", elem_id="survey-transcript"
        )
        with gr.Row():
            start = gr.Button("Start", variant="primary", elem_id="survey-start")
            no = gr.Button("No thanks", elem_id="survey-decline")
    status = gr.Markdown(elem_id="survey-status")
    with gr.Column(visible=False, elem_id="survey-pre-step") as pre_step:
        gr.Markdown("### Before you chat\nA few questions about what you expect. Every question is required.")
        pre = radios("pre")
        pre_done = gr.Button("Continue", variant="primary", elem_id="survey-pre-submit")
    with gr.Column(visible=False, elem_id="survey-chat-step") as chat_step:
        gr.Markdown(
            "### Now chat\nGo to the **Chat** tab and talk with the AI clone for as long as you like. "
            "Then come back here."
        )
        chatted = gr.Button("I have finished chatting", variant="primary", elem_id="survey-chat-done")
    with gr.Column(visible=False, elem_id="survey-post-step") as post_step:
        gr.Markdown("### After your chat\nEvery rating is required; the questions about you are optional.")
        post = radios("post")
        demo = [
            gr.Dropdown(
                choices=choices, value=None, label=f"Optional: {name.replace('_', ' ')}", elem_id=f"survey-demo-{name}"
            )
            for name, choices in study.demographics.items()
        ]
        post_done = gr.Button("Submit answers", variant="primary", elem_id="survey-submit")
    thanks = gr.Markdown(elem_id="survey-thanks")
    with gr.Accordion("Delete my answers", open=False, elem_id="survey-delete"):
        code = gr.Textbox(label="Your completion code", elem_id="survey-delete-code")
        delete = gr.Button("Delete my answers", elem_id="survey-delete-button")
        deleted = gr.Markdown(elem_id="survey-delete-result")

    start.click(h.consent, [agree, keep, session], [session, consent_step, pre_step, status], api_name="consent")
    no.click(h.decline, None, [consent_step, status], api_visibility="private")
    pre_done.click(h.submit_pre, [session, *pre], [session, pre_step, chat_step, status], api_name="submit_pre")
    chatted.click(h.finish_chat, session, [session, chat_step, post_step], api_visibility="private")
    post_done.click(h.submit_post, [session, *post, *demo], [session, post_step, thanks], api_name="submit_post")
    delete.click(h.delete_answers, code, deleted, api_name="delete_answers")
