"""Reactions to single replies: thumbs up or down under each reply in the chat, an optional short reason, the
public ``/feedback`` API, and the count of a participant's clicks on source links.

A rating names its reply by the reply's receipt, checked against this deployment's key, so only replies this
clone really gave can be rated. It is recorded once per reply (a new rating replaces the old): for a study
participant (the reply went to them, :meth:`clone.survey.store.SurveyStore.reply_owner`) as research data,
for anyone else in the creator's analytics with nothing that identifies the fan.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import gradio as gr

from clone.errors import ReceiptError
from clone.trust.receipts import receipt_in_text
from clone.ui.limits import Screen, checked_text

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 300
RATINGS = ("up", "down", "none")  # "none" takes a rating back
RATINGS_LIMIT_TEXT = "ratings"
NOT_A_REPLY = "Only the clone's replies (those with a receipt) can be rated."
THANKS = {
    "up": "Thank you! What did you like about this reply? (optional)",
    "down": "Thank you! What was wrong with this reply? (optional)",
}

# Counts a click on a source link in a reply of the fan app's chat: it clicks the hidden button
# ``#chat-source-click``, whose event takes the link from ``window.__cloneSourceClick``. The receipt's own
# text (inside <details>) is not a source.
SOURCE_CLICK_JS = """
() => {
  if (window.__cloneSourceHook) return;
  window.__cloneSourceHook = true;
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("#clone-chat [data-testid=bot] a[href]");
    if (!link || link.closest("details")) return;
    window.__cloneSourceClick = link.href;
    document.querySelector("#chat-source-click")?.click();
  }, true);
}
"""


def _said(text: str) -> dict:
    """The note under the conversation, shown only while it has something to say (it takes room on a phone)."""
    return gr.update(value=text, visible=bool(text))


def _replies_receipt(contents) -> str | None:
    """The receipt carried in the liked message group (the last one, if several), or None."""
    for content in reversed(contents if isinstance(contents, list) else [contents]):
        found = receipt_in_text(content if isinstance(content, str) else json.dumps(content))
        if found:
            return found
    return None


@dataclass
class FeedbackHandlers(Screen):
    """Ratings of replies (chat buttons and the ``/feedback`` API) and clicks on source links."""

    def rate(
        self, receipt: str, rating: str, reason: str = "", *, channel: str = "api", request: gr.Request | None = None
    ) -> dict:
        """Record a rating of the reply whose receipt is ``receipt``: ``up``, ``down``, or ``none`` to take it back.

        ``reason`` is optional, at most ``MAX_REASON_CHARS`` characters. A receipt this deployment did not sign
        (or one changed after it was issued) is refused with the reason; a client over
        ``CLONE_FEEDBACK_PER_MINUTE`` too. Returns ``{"status": "recorded", "reply": code, "rating": …}``.
        """
        receipt = checked_text(receipt, "`receipt`")
        rating = checked_text(rating, "`rating`").strip().lower()
        reason = checked_text(reason, "`reason`").strip()
        if rating not in RATINGS:
            raise gr.Error(f"`rating` must be one of {', '.join(RATINGS)}, not {rating[:20]!r}.", print_exception=False)
        if len(reason) > MAX_REASON_CHARS:
            raise gr.Error(
                f"The reason is at most {MAX_REASON_CHARS} characters; this one is {len(reason)}.",
                print_exception=False,
            )
        s = self.services
        try:
            code = s.notary.authentic(receipt)  # a signature check: cheap enough to come before the limit
        except ReceiptError as exc:
            self.limits.check(self.limits.feedback, request, RATINGS_LIMIT_TEXT)  # guessing counts too
            raise gr.Error(str(exc), print_exception=False) from None
        owner = s.store.reply_owners(code)
        if owner is None or not owner[1]:  # simulated participants were let in with the research token
            self.limits.check(self.limits.feedback, request, RATINGS_LIMIT_TEXT)
        value = None if rating == "none" else rating
        if owner is not None:  # the reply went to a study participant: a behavioural measure
            s.store.rate(owner[0], code, value, reason if value else "")
        else:
            s.events.rate(code, value, reason if value else "", channel=channel)
        return {"status": "recorded", "reply": code, "rating": rating, "reason": reason if value else ""}

    def feedback_api(self, receipt: str, rating: str, reason: str = "", request: gr.Request | None = None) -> dict:
        """Rate one reply of this clone by its receipt: ``rating`` is ``up``, ``down`` or ``none`` (take it back);
        ``reason`` optional (at most 300 characters). One rating per reply: a new one replaces the old."""
        return self.rate(receipt, rating, reason, channel="api", request=request)

    def like(self, session: dict | None, channel: str, data: gr.LikeData, request: gr.Request | None = None) -> tuple:
        """A thumb under a reply was pressed (or pressed again, to take it back).

        Returns (session, reason form visibility, reason box, note update). The reply's receipt is read from the
        message itself; a message without one (the greeting) cannot be rated.
        """
        session = dict(session if isinstance(session, dict) else {})
        token = _replies_receipt(data.value)
        if token is None:
            return session, gr.update(visible=False), "", _said(NOT_A_REPLY)
        rating = "up" if data.liked is True else "down" if data.liked is False else "none"
        try:
            self.rate(token, rating, "", channel=channel, request=request)
        except gr.Error as exc:
            return session, gr.update(visible=False), "", _said(str(exc.message))
        if rating == "none":
            session.pop("rated", None)
            return session, gr.update(visible=False), "", _said("Your rating was taken back.")
        session["rated"] = {"receipt": token, "rating": rating}
        return session, gr.update(visible=True), "", _said(THANKS[rating])

    def give_reason(self, reason: str, session: dict | None, channel: str, request: gr.Request | None = None) -> tuple:
        """Send the optional reason for the last rating. Returns (session, form visibility, reason box, note);
        a refused reason (too long) stays in the box with the reason why."""
        session = dict(session if isinstance(session, dict) else {})
        rated = session.get("rated")
        if not rated:
            return session, gr.update(visible=False), "", _said("Rate a reply first (the thumbs under it).")
        try:
            self.rate(rated["receipt"], rated["rating"], reason, channel=channel, request=request)
        except gr.Error as exc:
            return session, gr.update(visible=True), reason, _said(str(exc.message))
        session.pop("rated", None)
        return session, gr.update(visible=False), "", _said("Thank you, your reason is saved with your rating.")

    def source_click(self, url: str, study: dict | None, request: gr.Request | None = None) -> None:
        """Count a study participant's click on a source link in a reply (nothing for anyone else)."""
        participant = (study if isinstance(study, dict) else {}).get("participant") or {}
        url = checked_text(url, "`url`").strip()
        if not participant or participant.get("stage") == "done" or not url:
            return
        if not participant.get("simulated"):
            self.limits.check(self.limits.feedback, request, "clicks")
        self.services.store.source_clicked(participant["id"], url)


def build(h: FeedbackHandlers, chatbot: gr.Chatbot, prefix: str, study: gr.State | None) -> None:
    """Under the conversation: the optional reason for the rating just given, and the note that answers a
    thumb. Wires the chat's thumbs (``chatbot.like``) and, where a study runs, the count of source clicks.

    The rating waiting for its reason is kept in a state of its own, not the chat's: a reply still streaming
    writes the chat's state back when it ends."""
    channel = gr.State("web" if prefix == "chat" else "embed")
    session = gr.State({})
    note = gr.Markdown(visible=False, elem_id=f"{prefix}-feedback-note")
    with gr.Group(visible=False, elem_id=f"{prefix}-feedback") as form:
        reason = gr.Textbox(
            label=f"Your reason (optional, at most {MAX_REASON_CHARS} characters)",
            max_lines=3,
            max_length=MAX_REASON_CHARS,
            elem_id=f"{prefix}-feedback-reason",
        )
        send = gr.Button("Send the reason", size="sm", elem_id=f"{prefix}-feedback-send")
    chatbot.like(h.like, [session, channel], [session, form, reason, note], api_visibility="private")
    for trigger in (send.click, reason.submit):
        trigger(h.give_reason, [reason, session, channel], [session, form, reason, note], api_visibility="private")
    if study is not None:
        url = gr.Textbox(label="Source link clicked", visible="hidden", elem_id=f"{prefix}-source-url")
        clicked = gr.Button("Source link clicked", visible="hidden", elem_id=f"{prefix}-source-click")
        clicked.click(
            h.source_click,
            [url, study],
            None,
            js="(url, study) => [window.__cloneSourceClick || '', study]",
            api_name="source_click",
            api_visibility="undocumented",
            queue=False,
        )
