"""The chat: one panel for the fan app at ``/`` and the embeddable ``/widget``, the ``/chat`` API, and the
"leave your question for the creator" form."""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import gradio as gr
from sqlalchemy.exc import SQLAlchemyError

from clone.analytics import new_conversation_id
from clone.errors import CloneError, InboxError, SurveyError
from clone.guardrails import disclosure
from clone.memory import bounded
from clone.reply import reply_markdown
from clone.survey.design import Cell
from clone.ui import feedback
from clone.ui.feedback import FeedbackHandlers
from clone.ui.limits import CHAT_LIMIT_TEXT, Screen, checked_text
from clone.ui.page import avatar_path

log = logging.getLogger(__name__)

# Questions one browser session may leave in the creator's inbox.
MAX_LEFT_PER_SESSION = 5
# The button inside a reply that had no answer in the content: it opens the inbox form beside that reply.
ASK_CREATOR = "Ask the creator instead"

# After each reply, scroll the conversation (not the page) so the reply's first line is at the top: a long
# answer is read from its start, not from its sources at the bottom. Runs in the browser (an event's ``js``).
SCROLL_TO_REPLY_JS = """
(...args) => {
  for (const log of document.querySelectorAll("#clone-chat [role=log], #widget-chat [role=log]")) {
    const users = log.querySelectorAll("[data-testid=user]");
    const last = users[users.length - 1];
    if (!last) continue;
    const reply = [...log.querySelectorAll("[data-testid=bot]")].find(
      (b) => last.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
    if (!reply) continue;
    let box = reply.parentElement;
    while (box && !(box.scrollHeight > box.clientHeight + 1 && /auto|scroll/.test(getComputedStyle(box).overflowY)))
      box = box.parentElement;
    if (!box) continue;
    box.scrollTop += reply.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
    // On a phone the page may have scrolled too: bring the conversation back under the (sticky) banner.
    const banner = document.querySelector("#ai-banner");
    const under = banner ? Math.max(0, banner.getBoundingClientRect().bottom) : 0;
    const top = log.getBoundingClientRect().top;
    if (top < under || top > innerHeight / 2) window.scrollBy(0, top - under - 4);
  }
  return args;
}
"""


def new_session() -> dict:
    """A fan's fresh chat state."""
    return {"history": [], "disclosed_at": None, "turns": 0}


def reminder_markdown(name: str, wording: str = "") -> str:
    """The repeated disclosure, shown in long chats (in a study cell's ``wording``, if it has one)."""
    return f"*Reminder:* {disclosure_text(name, wording)}"


def disclosure_text(name: str, wording: str = "") -> str:
    """The chat's AI disclosure: the standard one, or a study cell's wording (``{name}``: the creator's name).

    A wording is validated to say "AI" when the study is loaded: it changes how the disclosure reads,
    never whether there is one.
    """
    return wording.replace("{name}", name) if wording.strip() else disclosure(name)


class Panel(NamedTuple):
    """What :func:`build` returns: the conversation, its session state and the reply events."""

    chatbot: gr.Chatbot
    session: gr.State
    replies: list


@dataclass
class ChatHandlers(Screen):
    """The chat's events and the ``/chat`` API, plain functions over the services."""

    show_citations: bool = True

    def respond(
        self,
        message: str,
        chat: list[dict],
        session: dict | None,
        study: dict | None = None,
        channel: str = "web",
        request: gr.Request | None = None,
    ) -> Iterator[tuple[list[dict], str, dict]]:
        """Stream a reply into the chat. Yields (chat messages, cleared textbox, session).

        ``session`` is this fan's own chat state (``gr.State``, never shared): the bounded history and
        when the AI disclosure was last shown. The disclosure opens every chat (the first message)
        and is repeated after ``CLONE_DISCLOSURE_EVERY_TURNS`` turns or
        ``CLONE_DISCLOSURE_EVERY_MINUTES`` minutes, whichever comes first. ``study`` is the survey's
        state (set by the survey's consent step), only read here: a participant's condition decides
        whether citations are shown, and the replies are counted in the study's tally on the server.
        ``channel`` is ``web`` (the page) or ``embed`` (the widget): one the creator's consent does not
        list gets a notice. A client over ``CLONE_CHAT_PER_MINUTE`` gets an error and keeps what it typed.
        """
        message = checked_text(message, "The message")
        # A study participant's condition decides whether citations are shown; the AI mark always is.
        participant = (study if isinstance(study, dict) else {}).get("participant") or {}
        if not participant.get("simulated"):  # simulated participants were let in with the research token
            self.limits.check(self.limits.chat, request, CHAT_LIMIT_TEXT)
        clone = self.services.clone
        session = new_session() | dict(session or {})
        now = time.time()
        session["disclosed_at"] = session["disclosed_at"] or now
        chat = list(chat or []) + [{"role": "user", "content": message or ""}]
        due = session["turns"] >= self.settings.disclosure_every_turns or (
            now - session["disclosed_at"] >= self.settings.disclosure_every_minutes * 60
        )
        # A study participant's cell decides whether citations are shown, which backend answers, the tone line
        # in the prompt and the disclosure's wording; the AI mark and a disclosure are in every cell.
        participant = (study or {}).get("participant") or {}
        cell = self.cell(study)
        if due:
            chat.append({"role": "assistant", "content": reminder_markdown(clone.persona.name, cell.disclosure)})
            session.update(disclosed_at=now, turns=0)
        show = self.show_citations and participant.get("show_citations", True) and cell.show_citations
        reply = None
        try:
            for reply in clone.stream(
                message, session["history"], channel=channel, backend=cell.backend, tone_line=cell.tone_line
            ):
                yield chat + [{"role": "assistant", "content": reply_markdown(reply, show)}], "", session
        except CloneError as exc:
            log.warning("chat failed: %s", exc)
            text = "Sorry, something went wrong on my side. Please try again in a moment."
            yield chat + [{"role": "assistant", "content": text}], "", session
            return
        if reply is not None:
            session = session | {
                "history": bounded(session["history"], (message, reply.text)),
                "turns": session["turns"] + 1,
            }
            if participant and participant.get("stage") != "done":
                self.services.tally.count(participant, message, reply, now)
                self._given(participant["id"], reply)
            session["conversation"] = session.get("conversation") or new_conversation_id()
            # No answer in the content (not a refusal): the fan may leave the question for the creator.
            session["unanswered"] = (message or "").strip() if reply.unanswered else ""
            self._count(reply, session["conversation"], channel)
            final = {"role": "assistant", "content": reply_markdown(reply, show)}
            if session["unanswered"]:
                # The offer sits inside the declined reply (Gradio draws a message's options under it).
                final["options"] = [{"label": ASK_CREATOR, "value": ASK_CREATOR}]
            yield chat + [final], "", session

    def cell(self, study: dict | None) -> Cell:
        """The study cell of the participant whose survey state is ``study``; for everyone else (and a cell
        the study no longer has) the plain chat: citations, avatar, the deployment's backend and wording."""
        condition = ((study or {}).get("participant") or {}).get("condition")
        if condition:
            try:
                return self.services.study.condition(condition)
            except SurveyError:
                log.warning("a participant's cell %r is not in the study any more", condition)
        return Cell(id="none")

    def opening(self, study: dict | None) -> tuple:
        """The chat as a participant's cell opens it, right after consent: its disclosure wording, its greeting,
        the avatar shown or not, and a fresh conversation. Returns (chatbot, chat session); nothing changes for
        someone who is not (or not just now) a participant."""
        participant = (study or {}).get("participant") or {}
        if participant.get("stage") != "pre":
            return gr.update(), gr.update()
        cell, persona = self.cell(study), self.services.persona
        messages = [
            {"role": "assistant", "content": disclosure_text(persona.name, cell.disclosure)},
            {"role": "assistant", "content": cell.greeting or persona.greeting},
        ]
        avatar = avatar_path(self.settings) if cell.show_avatar else None
        return gr.update(value=messages, avatar_images=(None, avatar)), new_session()

    def respond_embed(
        self, message: str, chat: list[dict], session: dict | None, request: gr.Request | None = None
    ) -> Iterator[tuple[list[dict], str, dict]]:
        """:meth:`respond` for the ``/widget`` embed: the ``embed`` channel of the creator's consent."""
        yield from self.respond(message, chat, session, None, channel="embed", request=request)

    def _given(self, participant_id: str, reply) -> None:
        """Note that a signed reply went to this participant, so a rating sent with its receipt counts for them."""
        code = (reply.receipt or {}).get("code")
        if not code:
            return
        try:
            self.services.store.reply_given(participant_id, code)
        except SQLAlchemyError as exc:
            log.warning("could not note a participant's reply: %s", exc.__class__.__name__)

    def _count(self, reply, conversation: str, channel: str) -> None:
        """One row for the creator's analytics; a database hiccup never costs a fan their reply."""
        try:
            self.services.events.record(reply, conversation=conversation, channel=channel)
        except SQLAlchemyError as exc:
            log.warning("could not count a reply for analytics: %s", exc.__class__.__name__)

    def chat_api(self, message: str, request: gr.Request | None = None) -> dict:
        """Answer one message: reply text, sources, flags and receipt; ``ai_generated`` is always true.

        ``message`` must be text (else a clear error); a client over ``CLONE_CHAT_PER_MINUTE`` is refused.
        """
        message = checked_text(message, "message")
        self.limits.check(self.limits.chat, request, CHAT_LIMIT_TEXT)
        clone = self.services.clone
        reply = clone.answer(message, channel="api")
        self._count(reply, new_conversation_id(), "api")
        data = reply.to_dict()
        data["markdown"] = reply.markdown()
        data["disclosure"] = disclosure(clone.persona.name).replace("**", "")
        return data

    # --- inbox: questions for the real creator ---------------------------------------
    def inbox_offer(self, session: dict | None) -> tuple:
        """The fan tapped "Ask the creator instead" in a reply: show the "leave your question" form, filled in,
        when the clone had no answer to the last question.

        Returns (form visibility, question box, result text).
        """
        question = (session or {}).get("unanswered") or ""
        return gr.update(visible=bool(question)), question, ""

    def inbox_close(self, session: dict | None) -> tuple:
        """A new reply: the form of an earlier question closes (the new reply carries its own offer).

        Returns (form visibility, question box, result text), like :meth:`inbox_offer`.
        """
        return gr.update(visible=False), (session or {}).get("unanswered") or "", ""

    def leave_question(
        self, question: str, notify: bool, email: str, session: dict | None, request: gr.Request | None = None
    ) -> tuple:
        """Store the fan's question for the creator (the e-mail address only if ``notify``).

        Returns (result text, session, form visibility); errors leave what the fan typed in place. Limited to
        ``MAX_LEFT_PER_SESSION`` per browser session and ``CLONE_QUESTIONS_PER_HOUR`` per client.
        """
        question, email = checked_text(question, "The question"), checked_text(email, "The e-mail address")
        session = new_session() | dict(session if isinstance(session, dict) else {})
        if session.get("left", 0) >= MAX_LEFT_PER_SESSION:
            raise gr.Error(
                f"You have left {MAX_LEFT_PER_SESSION} questions already; thank you, that is the limit.",
                print_exception=False,
            )
        self.limits.check(self.limits.questions, request, "questions left for the creator")
        try:
            self.services.inbox.leave(
                question, notify=notify is True, email=email, max_chars=self.settings.max_message_chars
            )
        except InboxError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        name = self.services.persona.name
        told = f" When {name} answers, they get your address once, to tell you; then it is erased." if notify else ""
        session = session | {"left": session.get("left", 0) + 1, "unanswered": ""}
        return f"Thank you: your question is in {name}'s inbox.{told}", session, gr.update(visible=False)


def inbox_form(h: ChatHandlers, session: gr.State, prefix: str) -> list:
    """The fan's "leave this question for the creator" form, opened by "Ask the creator instead" in a reply
    with no answer; it sits under the conversation, above the input, next to that reply.

    Returns the outputs of :meth:`ChatHandlers.inbox_offer`: the form, its question box and its result line.
    """
    name = h.services.persona.name
    with gr.Group(visible=False, elem_id=f"{prefix}-inbox") as form:
        gr.Markdown(
            f"**The clone has no answer to that.** Leave the question for the real {html.escape(name)}: "
            "they see the questions fans ask most, and an answer they write becomes something the clone can cite."
        )
        question = gr.Textbox(label="Your question", max_lines=4, elem_id=f"{prefix}-inbox-question")
        notify = gr.Checkbox(label="Tell me by e-mail when there is an answer", elem_id=f"{prefix}-inbox-notify")
        email = gr.Textbox(
            label="E-mail address (kept only to tell you, then erased)",
            visible=False,
            max_lines=1,
            elem_id=f"{prefix}-inbox-email",
        )
        leave = gr.Button("Leave the question", elem_id=f"{prefix}-inbox-send")
    result = gr.Markdown(elem_id=f"{prefix}-inbox-result")
    notify.change(lambda on: gr.update(visible=bool(on)), notify, email, api_visibility="private")
    leave.click(
        h.leave_question,
        [question, notify, email, session],
        [result, session, form],
        api_name=f"{prefix}_leave_question",
    )
    return [form, question, result]


def build(
    h: ChatHandlers,
    prefix: str,
    *,
    study: gr.State | None = None,
    height: int = 480,
    ratings: FeedbackHandlers | None = None,
) -> Panel:
    """The chat panel: greeting with the AI disclosure, the conversation (thumbs under each reply, with
    ``ratings``), the rating's reason and the inbox form, the input.

    ``prefix`` names the elements (``chat`` on the fan app, ``widget`` on ``/widget``); ``study`` is the
    survey's state where a study runs beside the chat. On a phone the stylesheet lets the conversation fill
    the screen's height, with the input and Send on one line under it (assets/style.css). Returns the
    conversation and its session state, which the study's consent step resets to the participant's cell
    (:meth:`ChatHandlers.opening`), and the reply events (Enter and Send), for a study to follow each reply.
    """
    persona = h.services.persona
    chatbot = gr.Chatbot(
        value=[
            {"role": "assistant", "content": disclosure(persona.name)},
            {"role": "assistant", "content": persona.greeting},
        ],
        label=f"AI clone of {persona.display_name}",
        show_label=False,  # a floating label would cover the greeting's first line; the banner says it all
        avatar_images=(None, avatar_path(h.settings)),
        elem_id="clone-chat" if prefix == "chat" else f"{prefix}-chat",
        elem_classes=["clone-chat"],
        height=height,
        buttons=["copy"],
        # Thumbs up and down under each reply (clone.ui.feedback), where ratings are wired.
        feedback_options=("Like", "Dislike") if ratings is not None else None,
        # Each reply is scrolled to its first line instead: the fan's message to the top as it is sent
        # (clone.ui.page.page_script), the reply's first line once it is complete (SCROLL_TO_REPLY_JS).
        autoscroll=False,
    )
    session = gr.State(new_session())
    # Under the conversation, above the input: the form opens next to the reply that offered it.
    offer = inbox_form(h, session, prefix)
    if ratings is not None:
        feedback.build(ratings, chatbot, prefix, study)
    with gr.Row(elem_id=f"{prefix}-compose", elem_classes=["clone-compose"], equal_height=True):
        box = gr.Textbox(
            label=f"Your message to {persona.name}'s AI clone",
            placeholder=f"Ask {persona.name}'s AI clone a question",
            show_label=False,  # the label stays the box's accessible name
            max_lines=6,
            scale=5,
            min_width=0,
            elem_id=f"{prefix}-input",
        )
        send = gr.Button("Send", variant="primary", scale=0, min_width=72, elem_id=f"{prefix}-send")
    inputs = [box, chatbot, session] + ([study] if study is not None else [])
    respond = h.respond if prefix == "chat" else h.respond_embed
    replies = []
    for trigger in (box.submit, send.click):
        # The participant's chat turn is also callable (undocumented) as /chat_turn, for `study simulate`.
        named = (
            {"api_name": "chat_turn", "api_visibility": "undocumented"}
            if prefix == "chat" and trigger == send.click
            else {"api_visibility": "private"}
        )
        replies.append(
            trigger(respond, inputs, [chatbot, box, session], **named)
            .then(h.inbox_close, session, offer, api_visibility="private")
            .then(None, js=SCROLL_TO_REPLY_JS, api_visibility="private")
        )
    chatbot.option_select(h.inbox_offer, session, offer, api_visibility="private").then(
        None, js=f"() => document.querySelector('#{prefix}-inbox-question textarea')?.focus()"
    )
    return Panel(chatbot, session, replies)
