"""The Gradio app: chat, survey and researcher export under an AI banner that cannot be removed.

``build_app`` returns the Blocks and never launches it. Event handlers are plain functions on
:class:`Handlers`, so tests call them directly.
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import pandas as pd
from gradio.utils import get_upload_folder
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware import Middleware
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from clone import __version__
from clone.analytics import EventLog, new_conversation_id, rates_long
from clone.config import ASSETS_DIR, Settings, check_tokens, load_settings
from clone.errors import CloneError, InboxError, SurveyError
from clone.gate import Gate, sweep_exports, sweep_later
from clone.guardrails import disclosure
from clone.inbox import InboxStore
from clone.memory import bounded
from clone.persona import load_persona
from clone.pipeline import Clone, plain
from clone.ratelimit import RateLimit, client_address, client_key, wait_text
from clone.survey import ChatMetrics, Instrument, Study, SurveyStore, load_study, write_study_export
from clone.survey.charts import item_distribution, n_per_condition, pre_post_means
from clone.survey.http import export_routes
from clone.survey.store import utc_now
from clone.survey.sync import open_store
from clone.trust.consent import Consent, summary_markdown, verify_consent

log = logging.getLogger(__name__)

CSS_PATH = ASSETS_DIR / "style.css"
MAX_PASTE = 20_000
MAX_TRANSCRIPT_TURNS = 200
# Questions one browser session may leave in the creator's inbox.
MAX_LEFT_PER_SESSION = 5
KILL_SWITCH_POLL_SECONDS = 2.0


# Inline styles: the banner stays readable even without the app's stylesheet.
_BANNER_STYLE = "background:#1f2a44;color:#ffffff;border-radius:8px;padding:10px 14px;font-size:15px;line-height:1.45"
_WHITE = "color:#ffffff"
_TAG_STYLE = "background:#ffcc00;color:#1f2a44;border-radius:4px;padding:1px 6px;margin-right:6px;font-weight:700"


def banner_html(clone: Clone) -> str:
    """The AI disclosure banner. Built from the persona alone: no setting or flag is consulted."""
    persona = clone.persona
    text = html.escape(disclosure(persona.name)).replace("**", "")
    fictional = (
        f"<p class='clone-fictional' style='{_WHITE};margin:4px 0 0;font-size:13px'>"
        f"{html.escape(persona.name)} is a fictional creator made up for this demo.</p>"
        if persona.fictional
        else ""
    )
    return (
        f"<div id='ai-banner' class='clone-banner' role='note' aria-label='AI disclosure' style='{_BANNER_STYLE}'>"
        f"<strong class='clone-ai-tag' style='{_TAG_STYLE}'>AI</strong> <span style='{_WHITE}'>{text}</span>"
        f"{fictional}</div>"
    )


@dataclass
class Handlers:
    """Event handlers, plain functions over the clone and the survey store."""

    clone: Clone
    store: SurveyStore
    instrument: Instrument
    settings: Settings
    show_citations: bool = True
    study: Study = field(default_factory=load_study)
    inbox: InboxStore | None = None
    events: EventLog | None = None
    tally: ChatTally = field(default_factory=lambda: ChatTally())
    limits: Limits | None = None

    def __post_init__(self) -> None:
        # Per-client limits, shared by the UI and the API routes of this process (see clone.ratelimit).
        self.limits = self.limits or Limits(self.settings)
        # The inbox and the event log share the survey's database (DATABASE_URL, or the SQLite file).
        self.inbox = self.inbox or InboxStore(self.settings.database)
        self.events = self.events or EventLog(self.settings.database)
        # The creator's published answers are documents of the clone's knowledge base from the next re-index.
        if self.clone is not None:
            self.clone.extra_documents = self.inbox.answer_documents

    # --- chat -------------------------------------------------------------------------
    def respond(
        self,
        message: str,
        chat: list[dict],
        session: dict | None,
        study: dict | None = None,
        request: gr.Request | None = None,
    ) -> Iterator[tuple[list[dict], str, dict]]:
        """Stream a reply into the chat. Yields (chat messages, cleared textbox, session).

        ``session`` is this fan's own chat state (``gr.State``, never shared): the bounded history and
        when the AI disclosure was last shown. The disclosure opens every chat (the first message)
        and is repeated after ``CLONE_DISCLOSURE_EVERY_TURNS`` turns or
        ``CLONE_DISCLOSURE_EVERY_MINUTES`` minutes, whichever comes first. ``study`` is the survey's
        state (set by :meth:`consent`), only read here: a participant's condition decides whether
        citations are shown, and the replies are counted in :attr:`tally` on the server. A client over
        ``CLONE_CHAT_PER_MINUTE`` gets an error and keeps what it typed.
        """
        message = _text(message, "The message")
        self.limits.check(self.limits.chat, request, CHAT_LIMIT_TEXT)
        session = new_session() | dict(session or {})
        now = time.time()
        session["disclosed_at"] = session["disclosed_at"] or now
        chat = list(chat or []) + [{"role": "user", "content": message or ""}]
        due = session["turns"] >= self.settings.disclosure_every_turns or (
            now - session["disclosed_at"] >= self.settings.disclosure_every_minutes * 60
        )
        if due:
            chat.append({"role": "assistant", "content": reminder_markdown(self.clone.persona.name)})
            session.update(disclosed_at=now, turns=0)
        # A study participant's condition decides whether citations are shown; the AI mark always is.
        participant = (study or {}).get("participant") or {}
        show = self.show_citations and participant.get("show_citations", True)
        reply = None
        try:
            for reply in self.clone.stream(message, session["history"]):
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
                self.tally.count(participant, message, reply, now)
            session["conversation"] = session.get("conversation") or new_conversation_id()
            # No answer in the content (not a refusal): the fan may leave the question for the creator.
            session["unanswered"] = (message or "").strip() if reply.unanswered else ""
            self._count(reply, session["conversation"], "web")
            yield chat + [{"role": "assistant", "content": reply_markdown(reply, show)}], "", session

    def _count(self, reply, conversation: str, channel: str) -> None:
        """One row for the creator's analytics; a database hiccup never costs a fan their reply."""
        try:
            self.events.record(reply, conversation=conversation, channel=channel)
        except SQLAlchemyError as exc:
            log.warning("could not count a reply for analytics: %s", exc.__class__.__name__)

    # --- inbox: questions for the real creator ---------------------------------------
    def inbox_offer(self, session: dict | None) -> tuple:
        """After a reply: show the "leave your question" form, filled in, when the clone had no answer.

        Returns (form visibility, question box, result text).
        """
        question = (session or {}).get("unanswered") or ""
        return gr.update(visible=bool(question)), question, ""

    def leave_question(
        self, question: str, notify: bool, email: str, session: dict | None, request: gr.Request | None = None
    ) -> tuple:
        """Store the fan's question for the creator (the e-mail address only if ``notify``).

        Returns (result text, session, form visibility); errors leave what the fan typed in place. Limited to
        ``MAX_LEFT_PER_SESSION`` per browser session and ``CLONE_QUESTIONS_PER_HOUR`` per client.
        """
        question, email = _text(question, "The question"), _text(email, "The e-mail address")
        session = new_session() | dict(session if isinstance(session, dict) else {})
        if session.get("left", 0) >= MAX_LEFT_PER_SESSION:
            raise gr.Error(
                f"You have left {MAX_LEFT_PER_SESSION} questions already; thank you, that is the limit.",
                print_exception=False,
            )
        self.limits.check(self.limits.questions, request, "questions left for the creator")
        try:
            self.inbox.leave(question, notify=notify is True, email=email, max_chars=self.settings.max_message_chars)
        except InboxError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        name = self.clone.persona.name
        told = f" When {name} answers, they get your address once, to tell you; then it is erased." if notify else ""
        session = session | {"left": session.get("left", 0) + 1, "unanswered": ""}
        return f"Thank you: your question is in {name}'s inbox.{told}", session, gr.update(visible=False)

    def inbox_view(self, token: str, request: gr.Request | None = None) -> tuple:
        """The creator's inbox (needs the creator token): open questions grouped by meaning, biggest first.

        Returns (table rows, group picker, summary).
        """
        self._require(token, self.settings.creator_token, "CLONE_CREATOR_TOKEN", "The inbox", request)
        groups = self.inbox.groups(self.clone.kb.embeddings)
        rows = [
            [g.count, g.question, "; ".join(q.question for q in g.questions[1:4]), g.wants_reply, g.latest[:16]]
            for g in groups
        ]
        choices = [(f"{g.count} × {g.question[:90]}", g.key) for g in groups]
        total = sum(g.count for g in groups)
        summary = (
            f"**{total} open questions in {len(groups)} groups.** Answer a group: your answer becomes a source "
            "your clone cites (labelled *Creator answer*)."
            if groups
            else "No open questions: your clone has had an answer for everything fans asked, or nobody left one."
        )
        first = groups[0].question if groups else ""
        return (
            rows,
            gr.update(choices=choices, value=choices[0][1] if choices else None),
            first,
            summary,
        )

    def _group(self, key: str | None):
        group = next((g for g in self.inbox.groups(self.clone.kb.embeddings) if key and g.key == key), None)
        if group is None:
            raise gr.Error(
                "That group is no longer in the inbox (answered or dismissed meanwhile); show the inbox again.",
                print_exception=False,
            )
        return group

    def inbox_pick(self, token: str, key: str | None, request: gr.Request | None = None) -> str:
        """The picked group's typical wording, to edit into the question the answer will stand under."""
        self._require(token, self.settings.creator_token, "CLONE_CREATOR_TOKEN", "The inbox", request)
        return self._group(key).question if key else ""

    def inbox_answer(
        self,
        token: str,
        key: str | None,
        question: str,
        answer: str,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
        request: gr.Request | None = None,
    ) -> str:
        """Publish the creator's answer to a group, then re-index so the clone cites it at once."""
        self._require(token, self.settings.creator_token, "CLONE_CREATOR_TOKEN", "Answering", request)
        question, answer = _text(question, "The question"), _text(answer, "The answer")
        group = self._group(key)
        try:
            published = self.inbox.publish(
                [q.question_id for q in group.questions], (question or "").strip() or group.question, answer
            )
            self.clone.reindex(show_progress=True)  # tqdm's bar becomes the gr.Progress bar
        except CloneError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        lines = [
            f"**Published.** Your answer closed {published.closed} questions and is now a source of your clone: "
            f"*Creator answer: {html.escape(published.answer.question)}*."
        ]
        if published.emails:
            lines.append(
                f"{len(published.emails)} fans asked to be told. Write to them now: their addresses are shown "
                "only this once and have been erased from the database.\n\n```\n"
                + "\n".join(published.emails)
                + "\n```"
            )
        return "\n\n".join(lines)

    def inbox_dismiss(self, token: str, key: str | None, request: gr.Request | None = None) -> str:
        """Close a group without an answer (spam, or nothing to say); e-mail addresses are erased."""
        self._require(token, self.settings.creator_token, "CLONE_CREATOR_TOKEN", "The inbox", request)
        closed = self.inbox.dismiss([q.question_id for q in self._group(key).questions])
        return f"Dismissed {closed} questions."

    # --- creator analytics ------------------------------------------------------------
    def analytics(self, token: str, days: float = 30, request: gr.Request | None = None) -> tuple:
        """Charts for the creator (needs the creator token): conversations per day, abstention and refusal
        rates, most-asked topics, survey participants per condition, and a summary.
        """
        self._require(token, self.settings.creator_token, "CLONE_CREATOR_TOKEN", "Analytics", request)
        if days is not None and (isinstance(days, bool) or not isinstance(days, int | float)):
            raise gr.Error("Days must be a number from 1 to 365.", print_exception=False)
        days = max(1, min(int(days or 30), 365))
        per_day = self.events.per_day(days)
        totals = self.events.totals(days=days)
        topics = self.events.topics(10, days=days)
        records = self.store.records()
        n = n_per_condition(self.study, records, self.store.assignments())
        n["group"] = n["condition"] + " · " + n["status"]
        finished = sum(r.post_at is not None for r in records)
        open_questions = len(self.inbox.open_questions())
        summary = (
            f"**Last {days} days:** {totals['conversations']} conversations, {totals['replies']} replies; "
            f"{totals['abstention_rate']:.0%} without an answer from your content, "
            f"{totals['refusal_rate']:.0%} refused by the guardrails. "
            f"**Survey:** {len(records)} participants, {finished} finished. "
            f"**Inbox:** {open_questions} open questions."
        )
        rates = rates_long(per_day)
        # Dates, not text, on the x axis: Gradio then labels it as a time axis instead of 30 crowded strings.
        per_day["day"], rates["day"] = pd.to_datetime(per_day["day"]), pd.to_datetime(rates["day"])
        return per_day, rates, topics, n, summary

    def chat_api(self, message: str, request: gr.Request | None = None) -> dict:
        """Answer one message: reply text, sources, flags and receipt; ``ai_generated`` is always true.

        ``message`` must be text (else a clear error); a client over ``CLONE_CHAT_PER_MINUTE`` is refused.
        """
        message = _text(message, "message")
        self.limits.check(self.limits.chat, request, CHAT_LIMIT_TEXT)
        reply = self.clone.answer(message)
        self._count(reply, new_conversation_id(), "api")
        data = reply.to_dict()
        data["markdown"] = reply.markdown()
        data["disclosure"] = disclosure(self.clone.persona.name).replace("**", "")
        return data

    # --- trust ------------------------------------------------------------------------
    def verify_api(self, text: str, receipt: str) -> dict:
        """Check pasted reply text against its receipt: status genuine, altered or unknown, with the sources."""
        return self.clone.notary.verify(pasted_reply(text), (receipt or "").strip()).as_dict()

    def verify(self, text: str, receipt: str) -> str:
        """The Verify tab: the result of :meth:`verify_api` as Markdown."""
        result = self.clone.notary.verify(pasted_reply(text), (receipt or "").strip())
        lines = [f"### {VERDICT_LABELS[result.status]}", result.message]
        if result.time:
            lines.append(
                f"Signed {result.time} by this deployment's key `{result.signed_by}`, backend `{result.backend}`."
            )
        if result.sources:
            lines.append("Sources it was built from: " + ", ".join(f"`{s}`" for s in result.sources))
        return "\n\n".join(lines)

    def revocation_notice(self) -> dict:
        """The kill-switch notice for the page, polled every few seconds; hidden while the clone is on."""
        if self.clone.killswitch.revoked():
            return gr.update(value=notice_html(self.clone.killswitch.notice(self.clone.persona.name)), visible=True)
        return gr.update(value="", visible=False)

    # --- survey: the participant flow --------------------------------------------------
    def consent(
        self, agree: bool, keep_transcript: bool, study: dict | None, request: gr.Request | None = None
    ) -> tuple:
        """Consent screen: record consent, draw an id and a condition on the server, show the pre-chat questions.

        ``study`` is the survey's own state (``gr.State``), apart from the chat's, so a reply still
        streaming can never write back an older copy of it. Returns (study state, consent step, pre-chat
        step, status). The condition never comes from the client. A client may start at most
        ``CLONE_PARTICIPANTS_PER_HOUR`` participants.
        """
        session = dict(study if isinstance(study, dict) else {})
        if session.get("participant"):
            raise gr.Error("You have already agreed; please continue below.", print_exception=False)
        if agree is not True:
            raise gr.Error(
                "Please tick the box to agree, or choose No thanks to chat without taking part.",
                print_exception=False,
            )
        self.limits.check(self.limits.participants, request, "new participants")
        a = self.store.assign(
            self.study,
            consent_version=self.study.consent_version,
            transcript_opt_in=keep_transcript is True,
            persona_id=self.clone.persona.id,
            app_version=__version__,
            backend=self.clone.backend.name,
        )
        session["participant"] = {
            "id": a.participant_id,
            "show_citations": self.study.condition(a.condition).show_citations,
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
        participant = _participant(session, "pre")
        columns = [c.question.column for c in self.study.columns("pre")]
        try:
            self.store.save_phase(self.study, participant["id"], "pre", dict(zip(columns, answers, strict=True)))
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
        participant = _participant(session, "post")
        columns = [c.question.column for c in self.study.columns("post")]
        n = len(columns)
        answers, demo = values[:n], values[n:]
        metrics, transcript = self.tally.metrics(participant["id"])
        try:
            # Metrics first (an idempotent update): if an answer is missing, the participant fixes it and
            # submits again, and the post-chat answers (written once) still go in as one transaction.
            self.store.finish(
                self.study,
                participant["id"],
                chat=metrics,
                demographics=dict(zip(self.study.demographics, demo, strict=True)),
                transcript=transcript if participant["transcript_opt_in"] else None,
            )
            self.store.save_phase(self.study, participant["id"], "post", dict(zip(columns, answers, strict=True)))
        except (SurveyError, ValueError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        self.tally.forget(participant["id"])
        session = dict(session) | {"participant": participant | {"stage": "done"}}
        message = (
            f"Thank you, your answers are saved. Your completion code is **{participant['id']}**. "
            "It is also your deletion code: keep it if you may want your answers deleted later."
        )
        return session, gr.update(visible=False), message

    def delete_answers(self, code: str) -> str:
        """Delete everything stored under a completion code."""
        code = _text(code, "The completion code").strip()
        if code and self.store.delete(code):
            return "Your answers have been deleted."
        return "No answers are stored under that code (already deleted, or a typo?)."

    # --- researchers ------------------------------------------------------------------
    def export_files(self, token: str, request: gr.Request | None = None) -> list[str]:
        """Write the wide CSV, long CSV and codebook (CSV, JSON); return their paths (needs the research token).

        The files are not kept: Gradio's copy is removed once downloaded (:class:`clone.gate.Gate`), and
        every copy after ``CLONE_EXPORT_KEEP_MINUTES``.
        """
        self._require(token, self.settings.research_token, "CLONE_RESEARCH_TOKEN", "The export", request)
        keep = self.settings.export_keep_minutes * 60
        folders = [self.settings.export_dir, Path(get_upload_folder())]
        sweep_exports(folders, keep)
        paths = [str(p) for p in write_study_export(self.study, self.store, self.settings.export_dir)]
        sweep_later(folders, keep)
        return paths

    def charts(self, token: str, instrument_id: str | None = None, request: gr.Request | None = None) -> tuple:
        """Chart data (needs the research token): item distributions of one instrument, pre/post means, N.

        Returns three DataFrames for the Researchers tab's plots. Gradio stacks bars of one x value, so each
        item gets one bar stacked by answer value (as text: a colour per value, not a binned axis), and each
        condition gets separate assigned and finished bars.
        """
        self._require(token, self.settings.research_token, "CLONE_RESEARCH_TOKEN", "The charts", request)
        records = self.store.records()
        instrument_id = instrument_id or self.study.instruments[0].id
        dist = item_distribution(self.study, records, instrument_id)
        dist["value"] = dist["value"].astype(str)
        dist["series"] = dist["item"] + " (" + dist["phase"] + ")"
        shift = pre_post_means(self.study, records)
        shift["series"] = shift["measure"] + " · " + shift["condition"]
        n = n_per_condition(self.study, records, self.store.assignments())
        n["group"] = n["condition"] + " · " + n["status"]
        return dist, shift, n

    def export_csv(self, token: str, request: gr.Request | None = None) -> str:
        """Write the export files and return the wide CSV's path (needs the research token)."""
        return self.export_files(token, request)[0]

    # --- creator ----------------------------------------------------------------------
    def reindex(
        self,
        token: str,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
        request: gr.Request | None = None,
    ) -> str:
        """Re-read the content folder and update the index (needs the creator token); returns a summary."""
        self._require(token, self.settings.creator_token, "CLONE_CREATOR_TOKEN", "Re-indexing", request)
        messages: list[str] = []
        try:
            report = self.clone.reindex(progress=messages.append, show_progress=True)
        except CloneError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        lines = [
            f"**{report.chunks} passages from {report.files} documents.** "
            + (
                f"{len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed; "
                f"{report.reused} passages reused without re-embedding."
                if report.rebuilt
                else "Nothing changed since the last index."
            )
        ]
        if report.full_rebuild_reason:
            lines.append(report.full_rebuild_reason)
        lines += [f"- Skipped `{s.path}`: {s.reason}" for s in report.skipped]
        return "\n\n".join(lines)

    def _require(self, token: str | None, expected: str, setting: str, what: str, request=None) -> None:
        """:func:`_require`, with the wrong-token throttle of ``CLONE_WRONG_TOKENS_PER_HOUR`` per client."""
        _require(token, expected, setting, what, client=self.limits.client(request), wrong=self.limits.wrong_tokens)


CHAT_LIMIT_TEXT = "messages"


class Limits:
    """The per-client limits of one app process, in memory (see :mod:`clone.ratelimit`), from the settings."""

    def __init__(self, settings: Settings):
        self.proxy_hops = settings.proxy_hops
        self.chat = RateLimit(settings.chat_per_minute, 60)
        self.questions = RateLimit(settings.questions_per_hour, 3600)
        self.participants = RateLimit(settings.participants_per_hour, 3600)
        self.wrong_tokens = RateLimit(settings.wrong_tokens_per_hour, 3600)

    def client(self, request: gr.Request | None) -> str | None:
        """The keyed hash of the request's client address; None for a direct call (library code, no request)."""
        if request is None:
            return None
        host = getattr(getattr(request, "client", None), "host", None)
        return client_key(client_address(host, getattr(request, "headers", None), self.proxy_hops))

    def check(self, limit: RateLimit, request: gr.Request | None, what: str) -> None:
        """Count one hit for the request's client; over the limit, a ``gr.Error`` that says how long to wait."""
        key = self.client(request)
        if key is None:
            return
        wait = limit.hit(key)
        if wait:
            log.info("rate limit: too many %s from client %s", what, key[:8])
            raise gr.Error(
                f"Too many {what} from your connection in a short time; please try again in {wait_text(wait)}.",
                print_exception=False,
            )


def _text(value, what: str) -> str:
    """A text argument as the handlers expect it: None is empty; anything but valid text is a clear error."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise gr.Error(f"{what} must be text, not {type(value).__name__}.", print_exception=False)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise gr.Error(
            f"{what} holds characters that are not valid text (a lone surrogate); please type it again.",
            print_exception=False,
        ) from None
    return value


def text_arguments(fn):
    """``fn`` with every argument checked by :func:`_text` first: for API endpoints that take text only, so
    a number, a list or a lone surrogate gets a clear error instead of an exception inside ``fn``."""
    names = list(inspect.signature(fn).parameters)

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        args = [_text(a, f"`{name}`") for a, name in zip(args, names, strict=False)]
        kwargs = {k: _text(v, f"`{k}`") for k, v in kwargs.items()}
        return fn(*args, **kwargs)

    return checked


def _require(
    token: str | None,
    expected: str,
    setting: str,
    what: str,
    *,
    client: str | None = None,
    wrong: RateLimit | None = None,
) -> None:
    """Raise ``gr.Error`` unless ``token`` matches the protected feature's setting.

    A wrong token is logged in one line (no traceback) and counted against ``client`` in ``wrong``; a client
    over that limit is refused whatever token it sends, until its wrong tries age out of the window.
    """
    if not expected:
        raise gr.Error(f"{what} is disabled: set {setting} and restart the app.", print_exception=False)
    if client and wrong is not None:
        wait = wrong.blocked(client)
        if wait:
            log.warning("token refused: client %s is locked out after too many wrong %s", client[:8], setting)
            raise gr.Error(
                f"Too many wrong tokens from your connection; try again in {wait_text(wait)}.", print_exception=False
            )
    given = token.encode("utf-8", "replace") if isinstance(token, str) else b""
    if not secrets.compare_digest(given, expected.encode()):
        if client and wrong is not None:
            wrong.hit(client)
        log.warning("wrong %s for %s from client %s", setting, what.lower(), (client or "direct call")[:8])
        raise gr.Error("That token is not right.", print_exception=False)


VERDICT_LABELS = {
    "genuine": "Genuine: this reply came from this clone, word for word.",
    "altered": "Altered: the receipt is real, but the text was changed.",
    "unknown": "Unknown: this receipt was not issued by this clone.",
}


def new_session() -> dict:
    """A fan's fresh chat state."""
    return {"history": [], "disclosed_at": None, "turns": 0}


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


class ChatTally:
    """Study participants' chat metrics (and opted-in transcripts), kept on the server by participant id.

    Not in the browser's state: the chat and the survey steps would both write that, and a reply still
    streaming when the participant moves on would write back an older copy. Bounded: the oldest entries
    (participants who never finished) go first.
    """

    def __init__(self, limit: int = 20_000):
        self.limit = limit
        self._items: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()

    def count(self, participant: dict, message: str, reply, now: float) -> None:
        """Count one reply to this participant (and keep the exchange, if they opted in)."""
        with self._lock:
            t = self._items.pop(participant["id"], None) or {
                "turns": 0,
                "abstentions": 0,
                "refusals": 0,
                "first": now,
                "last": now,
                "transcript": [],
            }
            t["turns"] += 1
            t["abstentions"] += int(bool(reply.abstained))
            t["refusals"] += int(bool(reply.refused))
            t["last"] = time.time()
            if participant.get("transcript_opt_in") and len(t["transcript"]) < MAX_TRANSCRIPT_TURNS:
                t["transcript"].append({"at": utc_now(), "fan": message, "clone": reply.text})
            self._items[participant["id"]] = t
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def metrics(self, participant_id: str) -> tuple[ChatMetrics, list]:
        """The participant's chat metrics so far, and the kept transcript (empty unless opted in)."""
        with self._lock:
            t = self._items.get(participant_id)
            if t is None:
                return ChatMetrics(), []
            return (
                ChatMetrics(t["turns"], t["last"] - t["first"], t["abstentions"], t["refusals"]),
                list(t["transcript"]),
            )

    def forget(self, participant_id: str) -> None:
        """Drop a finished participant's entry (the database has it now)."""
        with self._lock:
            self._items.pop(participant_id, None)


def reminder_markdown(name: str) -> str:
    """The repeated disclosure, shown in long chats."""
    return f"*Reminder:* {disclosure(name)}"


def reply_markdown(reply, show_citations: bool = True) -> str:
    """A reply as shown in the chat: text, sources, and the AI-generated mark with its receipt."""
    mark = "AI-generated reply"
    if reply.receipt:
        summary = f"{mark} · receipt <code>{reply.receipt['code']}</code>"
        details = f"\n\n<details><summary>{summary}</summary>\n\n`{reply.receipt['receipt']}`\n\n</details>"
    else:
        details = f"\n\n<sub>{mark}</sub>"
    return reply.markdown(show_citations=show_citations) + details


def pasted_reply(text: str) -> str:
    """What a fan pasted, reduced to the signed reply text: no source list, mark, or citation links."""
    text = (text or "")[:MAX_PASTE]
    text = re.split(r"\n\s*(?:\*\*)?Sources(?:\*\*)?\s*\n|\n\s*AI-generated reply", text)[0]
    return plain(text)


def notice_html(text: str) -> str:
    """The kill-switch notice as a high-contrast block."""
    return (
        "<div id='revoked-notice' role='alert' style='background:#7a1f1f;color:#ffffff;border-radius:8px;"
        f"padding:10px 14px;font-size:15px'>{html.escape(text)}</div>"
    )


def avatar_path(settings: Settings) -> str | None:
    """The creator's avatar (``avatar.png`` in the creator folder), if there is one."""
    path = Path(settings.creator_dir) / "avatar.png"
    return str(path) if path.is_file() else None


def survey_tab(h: Handlers, session: gr.State) -> None:
    """The participant flow: consent, pre-chat questions, chat, post-chat questions, code; and deletion.

    Every step reads and writes the survey's own state ``session`` (``gr.State``); the chat only reads
    it, so the condition assigned here decides how the chat shows replies.
    """
    study = h.study

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


def build_app(
    clone: Clone,
    store: SurveyStore,
    instrument: Instrument,
    settings: Settings,
    consent: Consent,
    study: Study | None = None,
    *,
    inbox: InboxStore | None = None,
) -> gr.Blocks:
    """Build the fan-facing app for a clone with verified consent. The caller launches it (see ``launch_options``).

    ``instrument`` is the legacy single instrument (kept for library callers); the Survey tab runs ``study``
    (default: ``CLONE_STUDY``).
    """
    study = study or load_study(settings.study_file)
    h = Handlers(clone, store, instrument, settings, study=study, inbox=inbox)
    persona = clone.persona
    with gr.Blocks(title=f"AI clone of {persona.name}") as app:
        gr.HTML(banner_html(clone))
        notice = gr.HTML(visible=False, elem_id="revoked-notice-box")
        gr.Timer(KILL_SWITCH_POLL_SECONDS).tick(h.revocation_notice, None, notice, api_visibility="private")
        app.load(h.revocation_notice, None, notice, api_visibility="private")
        with gr.Tabs(elem_id="clone-tabs"):
            with gr.Tab("Chat", id="chat"):
                chatbot = gr.Chatbot(
                    value=[
                        {"role": "assistant", "content": disclosure(persona.name)},
                        {"role": "assistant", "content": persona.greeting},
                    ],
                    label=f"AI clone of {persona.display_name}",
                    avatar_images=(None, avatar_path(settings)),
                    elem_id="clone-chat",
                    height=480,
                    buttons=["copy"],
                    feedback_options=None,
                )
                session = gr.State(new_session())
                study_state = gr.State({})
                with gr.Row():
                    box = gr.Textbox(
                        placeholder=f"Ask {persona.name}'s AI clone a question",
                        show_label=False,
                        max_lines=6,
                        scale=5,
                        elem_id="chat-input",
                    )
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
                offer = inbox_form(h, session, "chat")
                for trigger in (box.submit, send.click):
                    trigger(
                        h.respond,
                        [box, chatbot, session, study_state],
                        [chatbot, box, session],
                        api_visibility="private",
                    ).then(h.inbox_offer, session, offer, api_visibility="private")
            with gr.Tab("Survey", id="survey"):
                survey_tab(h, study_state)
            with gr.Tab("Researchers", id="research"):
                if settings.research_token:
                    gr.Markdown(
                        "Download the study data: the wide CSV (one row per participant), the long CSV (one row "
                        "per answer) and the codebook (CSV and JSON), or show charts of the answers. Also over HTTP: "
                        "`GET /research/export/wide.csv` with `Authorization: Bearer <token>`."
                    )
                    token = gr.Textbox(label="Research token", type="password", elem_id="research-token")
                    export = gr.Button("Download study data", elem_id="research-export")
                    csv_file = gr.File(label="Study data", file_count="multiple", elem_id="research-file")
                    export.click(h.export_files, token, csv_file, api_name="export_responses")
                    with gr.Row():
                        chart_instrument = gr.Dropdown(
                            choices=[(i.title, i.id) for i in study.instruments],
                            value=study.instruments[0].id,
                            label="Instrument for the answer distributions",
                            elem_id="research-chart-instrument",
                        )
                        show_charts = gr.Button("Show charts", elem_id="research-charts")
                    dist_plot = gr.BarPlot(
                        x="series",
                        y="count",
                        color="value",
                        title="Answers per item",
                        x_label_angle=-45,
                        elem_id="research-dist",
                    )
                    shift_plot = gr.LinePlot(
                        x="phase",
                        y="mean",
                        color="series",
                        sort=["pre", "post"],
                        title="Subscale means before and after the chat (finished participants)",
                        elem_id="research-shift",
                    )
                    n_plot = gr.BarPlot(
                        x="group", y="n", color="status", title="Participants per condition", elem_id="research-n"
                    )
                    show_charts.click(
                        h.charts,
                        [token, chart_instrument],
                        [dist_plot, shift_plot, n_plot],
                        api_visibility="private",
                    )
                else:
                    gr.Markdown(
                        "The survey export is switched off. Set `CLONE_RESEARCH_TOKEN` to a long random value "
                        "(for example in `.env`) and restart the app; then enter the token here to download."
                    )
            with gr.Tab("Verify", id="verify"):
                gr.Markdown(
                    "Paste a reply and its receipt (open *AI-generated reply* under the reply and copy the code "
                    "block) to check that this clone really said it, word for word."
                )
                pasted = gr.Textbox(label="Reply text", lines=5, elem_id="verify-text")
                receipt = gr.Textbox(label="Receipt", lines=2, elem_id="verify-receipt")
                check = gr.Button("Verify", elem_id="verify-button")
                verdict = gr.Markdown(elem_id="verify-result")
                check.click(h.verify, [pasted, receipt], verdict, api_name="verify_tab", api_visibility="private")
            with gr.Tab("About this clone", id="about"):
                gr.Markdown(about_markdown(clone, consent), elem_id="about-clone")
            with gr.Tab("Creator", id="creator"):
                if settings.creator_token:
                    gr.Markdown(
                        "Added, changed or removed files in the content folder? Re-index: only new and changed "
                        "documents are embedded again, and fans keep getting answers meanwhile."
                    )
                    creator_token = gr.Textbox(label="Creator token", type="password", elem_id="creator-token")
                    reindex = gr.Button("Re-index content", elem_id="creator-reindex")
                    reindex_result = gr.Markdown(elem_id="creator-reindex-result")
                    reindex.click(h.reindex, creator_token, reindex_result, api_name="reindex")
                    creator_inbox(h, creator_token)
                    creator_analytics(h, creator_token)
                    gr.Markdown(
                        "### Embed the clone on your own site\n"
                        "Chat only, AI banner included. Paste one of these, with your app's address in place of "
                        "`https://YOUR-APP-URL`:\n\n"
                        f"```html\n{embed_snippets('https://YOUR-APP-URL')}\n```",
                        elem_id="creator-embed",
                    )
                else:
                    gr.Markdown(
                        "The creator tools are switched off. Set `CLONE_CREATOR_TOKEN` to a long random value "
                        "(for example in `.env`) and restart the app."
                    )
        gr.Markdown(
            f"<div class='clone-footer'>AI clone of {html.escape(persona.display_name)} · answers by the "
            f"<code>{clone.backend.name}</code> backend from {clone.kb.size} indexed passages"
            f" · version {__version__}</div>"
        )
        gr.api(h.chat_api, api_name="chat", concurrency_limit=16)  # waits on an LLM backend: see launch_options
        gr.api(text_arguments(h.verify_api), api_name="verify")
    with app.route("Widget", WIDGET_PATH, show_in_navbar=False):
        build_widget(h)
    app.queue(default_concurrency_limit=8)  # per event; the sizes are explained in launch_options
    # Served beside the UI by launch_options(app): Gradio builds its FastAPI app inside launch().
    app.research_routes = [*export_routes(study, store, settings.research_token), web_component_route()]
    return app


WIDGET_PATH = "/widget"


def build_widget(h: Handlers) -> None:
    """The embeddable view at ``/widget``: the AI banner and the chat, nothing else.

    Built inside a page of the main app, so it shares the clone, the guardrails, the kill switch
    and the receipts; the banner is the same one, and it cannot be left out.
    """
    persona = h.clone.persona
    gr.HTML(banner_html(h.clone), elem_id="widget-banner")
    chat = gr.Chatbot(
        value=[
            {"role": "assistant", "content": disclosure(persona.name)},
            {"role": "assistant", "content": persona.greeting},
        ],
        label=f"AI clone of {persona.display_name}",
        avatar_images=(None, avatar_path(h.settings)),
        elem_id="widget-chat",
        height=360,
        feedback_options=None,
    )
    session = gr.State(new_session())
    with gr.Row():
        box = gr.Textbox(placeholder="Ask a question", show_label=False, scale=5, elem_id="widget-input")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="widget-send")
    offer = inbox_form(h, session, "widget")
    for trigger in (box.submit, send.click):
        trigger(h.respond, [box, chat, session], [chat, box, session], api_visibility="private").then(
            h.inbox_offer, session, offer, api_visibility="private"
        )


def inbox_form(h: Handlers, session: gr.State, prefix: str) -> list:
    """The fan's "leave this question for the creator" form, shown after a reply with no answer.

    Returns the outputs of :meth:`Handlers.inbox_offer`: the form, its question box and its result line.
    """
    name = h.clone.persona.name
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


def creator_inbox(h: Handlers, token: gr.Textbox) -> None:
    """The Creator tab's inbox: grouped open questions, and a form to answer or dismiss a group."""
    gr.Markdown(
        "### Inbox: what fans asked that your clone could not answer\n"
        "Questions are grouped by meaning, biggest groups first: the content your fans are asking for."
    )
    show = gr.Button("Show the inbox", elem_id="inbox-show")
    summary = gr.Markdown(elem_id="inbox-summary")
    table = gr.Dataframe(
        headers=["asked", "question", "also asked as", "want an e-mail", "last asked"],
        datatype=["number", "str", "str", "number", "str"],
        interactive=False,
        wrap=True,
        elem_id="inbox-groups",
    )
    group = gr.Dropdown(label="Group to answer", choices=[], elem_id="inbox-group")
    question = gr.Textbox(label="Question, as your answer will be titled", max_lines=2, elem_id="inbox-question")
    answer = gr.Textbox(label="Your answer, in your own words", lines=5, elem_id="inbox-answer")
    with gr.Row():
        publish = gr.Button("Publish the answer", variant="primary", elem_id="inbox-publish")
        dismiss = gr.Button("Dismiss the group", elem_id="inbox-dismiss")
    result = gr.Markdown(elem_id="inbox-result")
    show.click(h.inbox_view, token, [table, group, question, summary], api_name="inbox")
    group.input(h.inbox_pick, [token, group], question, api_visibility="private")
    publish.click(h.inbox_answer, [token, group, question, answer], result, api_name="inbox_answer").then(
        h.inbox_view, token, [table, group, question, summary], api_visibility="private"
    )
    dismiss.click(h.inbox_dismiss, [token, group], result, api_name="inbox_dismiss").then(
        h.inbox_view, token, [table, group, question, summary], api_visibility="private"
    )


def creator_analytics(h: Handlers, token: gr.Textbox) -> None:
    """The Creator tab's charts: conversations per day, rates, topics and the survey's participants."""
    gr.Markdown("### Analytics")
    with gr.Row():
        days = gr.Number(value=30, minimum=1, maximum=365, precision=0, label="Days", elem_id="analytics-days")
        show = gr.Button("Show analytics", elem_id="analytics-show")
    summary = gr.Markdown(elem_id="analytics-summary")
    per_day = gr.LinePlot(x="day", y="conversations", title="Conversations per day", elem_id="analytics-days-plot")
    rates = gr.LinePlot(
        x="day",
        y="rate",
        color="kind",
        title="Share of replies without an answer, and refused",
        elem_id="analytics-rates",
    )
    topics = gr.BarPlot(
        x="topic",
        y="replies",
        title="Most-asked topics (the source cited first)",
        x_label_angle=-30,
        elem_id="analytics-topics",
    )
    survey = gr.BarPlot(
        x="group", y="n", color="status", title="Survey participants per condition", elem_id="analytics-survey"
    )
    show.click(h.analytics, [token, days], [per_day, rates, topics, survey, summary], api_visibility="private")


def embed_snippets(base_url: str) -> str:
    """Ready-to-paste HTML for a creator's own site: an iframe of the widget, or Gradio's web component."""
    base = base_url.rstrip("/")
    return (
        "<!-- Either an iframe of the chat-only widget: -->\n"
        f'<iframe src="{base}{WIDGET_PATH}" title="AI clone (not the real person)" width="100%" height="640" '
        'style="border:0" loading="lazy"></iframe>\n\n'
        "<!-- or Gradio's web component (banner and chat only), its script served by the app in its own version: -->\n"
        f'<script type="module" src="{base}{WEB_COMPONENT_PATH}"></script>\n'
        f'<gradio-app src="{base}"></gradio-app>'
    )


WEB_COMPONENT_PATH = "/gradio.js"


def web_component_route() -> Route:
    """``GET /gradio.js``: the script that defines Gradio's ``<gradio-app>`` element, from the installed Gradio.

    Gradio's own snippet loads it from a CDN at a pinned version; served by the app it always matches the
    server's version and works where the CDN is blocked. The assets it imports are served by Gradio itself.
    """
    script = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"

    def endpoint(_request) -> Response:
        return FileResponse(script, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})

    return Route(WEB_COMPONENT_PATH, endpoint, methods=["GET"])


def launch_options(app: gr.Blocks | None = None) -> dict:
    """Keyword arguments for ``launch()``: Gradio 6 takes theme and CSS there.

    Given the app, the research export routes go in ``app_kwargs={"routes": ...}``: Gradio passes
    ``app_kwargs`` to the FastAPI app it creates in ``launch()``, the one supported hook before launch.

    Concurrency: every event runs up to 8 at once (``app.queue(default_concurrency_limit=8)``) and the
    ``/chat`` API up to 16, each in a worker thread. The offline backend is CPU-bound, so more would only
    share the same cores; an LLM backend mostly waits on the network, and a slow one must not make other
    fans queue behind it (tests/test_concurrency.py). The thread pool holds 64 (Gradio's default is 40)
    so that the chat events together (four UI triggers at 8, the API at 16: 48 threads) can never take
    every thread from the survey and the other events. benchmarks/load.py measures the result.

    Abuse: the app takes no files, so uploads are closed (:class:`clone.gate.Gate` answers 403, and
    ``max_file_size`` is a backstop of 1 kB), and Gradio's ``/monitoring`` is off.
    """
    options: dict = {
        "css": CSS_PATH.read_text(encoding="utf-8") if CSS_PATH.is_file() else None,
        "max_threads": 64,
        "max_file_size": "1kb",
        "enable_monitoring": False,
        "app_kwargs": {"middleware": [Middleware(Gate)]},
    }
    routes = getattr(app, "research_routes", None)
    if routes:
        options["app_kwargs"]["routes"] = list(routes)
    return options


def create_app(settings: Settings | None = None) -> gr.Blocks:
    """Load settings, build or reuse the index, open the survey store, and build the app."""
    from clone.survey import load_instrument

    settings = settings or load_settings()
    check_tokens(settings)  # a short token falls to guessing: refuse to start with one
    # Gradio copies served files (such as CSV exports) into its temp folder: keep it under CLONE_HOME.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(settings.home / "gradio-tmp"))
    persona = load_persona(settings.creator_dir)
    # No valid, unexpired, matching consent manifest: no app (ConsentError says how to make one).
    consent = verify_consent(
        settings.creator_dir, persona, channel="web", trusted_key=settings.consent_public_key or None
    )
    # The creator's answers from the inbox are indexed with the content, so they survive a restart.
    inbox = InboxStore(settings.database)
    clone = Clone.from_settings(
        settings,
        persona=persona,
        progress=lambda msg: print(msg, flush=True),
        extra_documents=inbox.answer_documents,
    )
    study = load_study(settings.study_file)
    # With CLONE_HF_DATASET set, completed records and deletions are also pushed to that dataset repo.
    store = open_store(
        settings.database,
        study,
        dataset=settings.hf_dataset,
        folder=settings.hf_sync_dir,
        every=settings.hf_sync_minutes,
    )
    return build_app(clone, store, load_instrument(), settings, consent, study, inbox=inbox)


def about_markdown(clone: Clone, consent: Consent) -> str:
    """The "About this clone" panel: consent summary, keys, and what the marks in the chat mean."""
    notary = clone.notary
    return (
        f"{summary_markdown(consent)}\n\n"
        "### Receipts\n"
        f"Every reply is signed (Ed25519) by this deployment's key `{notary.fingerprint}` "
        f"(public key `{notary.public_key_b64}`). Use the **Verify** tab, or the `/verify` API, to check a reply.\n\n"
        f"Answers come from the `{clone.backend.name}` backend and {clone.kb.size} passages of "
        f"{html.escape(clone.persona.name)}'s published content."
    )
