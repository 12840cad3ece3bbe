"""The creator console at ``/creator``: re-index, the inbox of unanswered questions, analytics, the embed
snippet, and the status of consent and keys. Behind the creator token."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import gradio as gr
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from clone.analytics import rates_long
from clone.errors import CloneError
from clone.survey.charts import n_per_condition
from clone.trust.consent import summary_markdown
from clone.ui import plot
from clone.ui.auth import gate, require
from clone.ui.limits import Screen, checked_text
from clone.ui.research import n_chart

WIDGET_PATH = "/widget"
PLACEHOLDER_URL = "https://YOUR-APP-URL"


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 question``, ``2 questions``: the count and the word in the right number."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def app_address(request: gr.Request | None) -> str:
    """This app's public address, from the request that asked (proxy headers included), without a trailing slash.

    Without a request (a direct call) it is a placeholder the creator replaces.
    """
    raw = getattr(request, "request", None) if request is not None else None
    if raw is None:
        return PLACEHOLDER_URL
    from gradio.route_utils import get_root_url  # Gradio's own rule: x-forwarded-host/proto, root_path

    return get_root_url(raw, raw.url.path, raw.scope.get("root_path") or None)


def _day_label(day: str) -> str:
    """``2026-11-25`` -> ``25 Nov``: short enough for a phone, unambiguous within the last year."""
    when = date.fromisoformat(str(day)[:10])
    return f"{when.day} {when.strftime('%b')}"


@dataclass
class CreatorHandlers(Screen):
    """The creator console's events, each checking the creator token."""

    def _require(self, token: str, what: str, request: gr.Request | None = None) -> None:
        """The creator token, with the wrong-token throttle of ``CLONE_WRONG_TOKENS_PER_HOUR`` per client."""
        limits = self.limits
        require(
            token,
            self.settings.creator_token,
            "CLONE_CREATOR_TOKEN",
            what,
            client=limits.client(request),
            wrong=limits.wrong_tokens,
        )

    def inbox_view(self, token: str, request: gr.Request | None = None) -> tuple:
        """The creator's inbox (needs the creator token): open questions grouped by meaning, biggest first.

        Returns (table rows, group picker, summary).
        """
        self._require(token, "The inbox", request)
        groups = self.services.inbox.groups(self.services.clone.kb.embeddings)
        rows = [
            [g.count, g.question, "; ".join(q.question for q in g.questions[1:4]), g.wants_reply, g.latest[:16]]
            for g in groups
        ]
        choices = [(f"{g.count} × {g.question[:90]}", g.key) for g in groups]
        total = sum(g.count for g in groups)
        summary = (
            f"**{plural(total, 'open question')} in {plural(len(groups), 'group')}.** Answer a group: your answer "
            "becomes a source your clone cites (labelled *Creator answer*)."
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
        group = next(
            (g for g in self.services.inbox.groups(self.services.clone.kb.embeddings) if key and g.key == key), None
        )
        if group is None:
            raise gr.Error(
                "That group is no longer in the inbox (answered or dismissed meanwhile); show the inbox again.",
                print_exception=False,
            )
        return group

    def inbox_pick(self, token: str, key: str | None, request: gr.Request | None = None) -> str:
        """The picked group's typical wording, to edit into the question the answer will stand under."""
        self._require(token, "The inbox", request)
        return self._group(key).question if key else ""

    def inbox_answer(
        self,
        token: str,
        key: str | None,
        question: str,
        answer: str,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
        request: gr.Request | None = None,
    ) -> tuple[str, str]:
        """Publish the creator's answer to a group, then re-index so the clone cites it at once.

        Returns (result, the answer box cleared once published).
        """
        self._require(token, "Answering", request)
        question, answer = checked_text(question, "The question"), checked_text(answer, "The answer")
        group = self._group(key)
        try:
            published = self.services.inbox.publish(
                [q.question_id for q in group.questions], (question or "").strip() or group.question, answer
            )
            self.services.clone.reindex(show_progress=True)  # tqdm's bar becomes the gr.Progress bar
        except CloneError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        lines = [
            f"**Published.** Your answer closed {plural(published.closed, 'question')} and is now a source of your "
            f"clone: *Creator answer: {html.escape(published.answer.question)}*."
        ]
        if published.emails:
            n = len(published.emails)
            lines.append(
                f"{plural(n, 'fan')} asked to be told. Write to them now: "
                + (
                    "their addresses are shown only this once and have been erased from the database."
                    if n > 1
                    else "the address is shown only this once and has been erased from the database."
                )
                + "\n\n```\n"
                + "\n".join(published.emails)
                + "\n```"
            )
        return "\n\n".join(lines), ""

    def inbox_dismiss(self, token: str, key: str | None, request: gr.Request | None = None) -> str:
        """Close a group without an answer (spam, or nothing to say); e-mail addresses are erased."""
        self._require(token, "The inbox", request)
        closed = self.services.inbox.dismiss([q.question_id for q in self._group(key).questions])
        return f"Dismissed {plural(closed, 'question')}."

    # --- creator analytics ------------------------------------------------------------
    def analytics_data(self, token: str, days: float = 30, request: gr.Request | None = None) -> tuple:
        """Analytics data (needs the creator token): per-day counts and rates, most-asked topics, survey
        participants per condition (DataFrames), and a summary line.
        """
        self._require(token, "Analytics", request)
        if days is not None and (isinstance(days, bool) or not isinstance(days, int | float)):
            raise gr.Error("Days must be a number from 1 to 365.", print_exception=False)
        days = max(1, min(int(days or 30), 365))
        per_day = self.services.events.per_day(days)
        totals = self.services.events.totals(days=days)
        topics = self.services.events.topics(10, days=days)
        records = self.services.store.records()
        n = n_per_condition(self.services.study, records, self.services.store.assignments())
        finished = sum(r.post_at is not None for r in records)
        open_questions = len(self.services.inbox.open_questions())
        rated = self.services.events.feedback(days=days)
        summary = (
            f"**Last {days} days:** {totals['conversations']} conversations, {totals['replies']} replies; "
            f"{totals['abstention_rate']:.0%} without an answer from your content, "
            f"{totals['refusal_rate']:.0%} refused by the guardrails. "
            f"**Survey:** {len(records)} participants, {finished} finished. "
            f"**Inbox:** {open_questions} open questions. "
            f"**Fans' ratings of replies:** {rated['up']} up, {rated['down']} down."
        )
        if rated["reasons"]:
            # The fans' own words (no one is named), on one line each and escaped: a reason cannot format the
            # console or put a link in it.
            summary += "\n\n**Latest reasons:**\n" + "\n".join(
                f"- {'Up' if rating == 'up' else 'Down'}: {_plain_markdown(reason)} ({at[:10]})"
                for at, rating, reason in rated["reasons"]
            )
        return per_day, rates_long(per_day), topics, n, summary

    def analytics(self, token: str, days: float = 30, request: gr.Request | None = None) -> tuple:
        """The Analytics tab (needs the creator token): conversations per day as bars, the shares without an
        answer and refused as percentages, most-asked topics as horizontal bars, survey participants per
        condition, each as an HTML chart (:mod:`clone.ui.plot`), and the summary.
        """
        per_day, _, topics, n, summary = self.analytics_data(token, days, request)
        days_shown = len(per_day)
        quiet = f"No conversations in the last {days_shown} days."
        conversations = plot.columns(
            "Conversations per day",
            [_day_label(d) for d in per_day["day"]],
            per_day["conversations"].tolist(),
            empty_message=quiet,
            value_name="Conversations",
        )
        answered = per_day[per_day.replies > 0]
        rates = plot.bars(
            "Share of replies without an answer from your content, and refused, per day",
            [(_day_label(r.day), [r.abstention_rate, r.refusal_rate]) for r in answered.itertuples()],
            series=("Without an answer", "Refused"),
            rate=True,
            empty_message=quiet,
            header=("Day", "Share of replies"),
        )
        topic_chart = plot.bars(
            "Most-asked topics (the source cited first)",
            [(t.topic, [int(t.replies)]) for t in topics.itertuples()],
            empty_message="No answered questions yet: topics appear once the clone cites a source.",
            header=("Topic", "Replies"),
        )
        survey = n_chart(n)
        return conversations, rates, topic_chart, survey, summary

    def reindex(
        self,
        token: str,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008
        request: gr.Request | None = None,
    ) -> str:
        """Re-read the content folder and update the index (needs the creator token); returns a summary."""
        self._require(token, "Re-indexing", request)
        messages: list[str] = []
        try:
            report = self.services.clone.reindex(progress=messages.append, show_progress=True)
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

    def embed(self, request: gr.Request | None = None) -> str:
        """The Embed tab: the snippets, filled in with this app's own address (from the request)."""
        base = app_address(request)
        where = (
            "with your app's address in place of `https://YOUR-APP-URL`"
            if base == PLACEHOLDER_URL
            else f"made for this app's address, `{base}`"
        )
        return (
            "### Embed the clone on your own site\n"
            f"Chat only, AI banner included. Paste one of these, {where}:\n\n"
            f"```html\n{embed_snippets(base)}\n```"
        )

    def status(self, token: str, request: gr.Request | None = None) -> str:
        """Consent and keys, as the creator should check them (needs the creator token)."""
        self._require(token, "The status", request)
        s = self.services
        return (
            f"{summary_markdown(s.consent)}\n\n### Receipt key\nThis deployment signs every reply with the key "
            f"`{s.notary.fingerprint}` (kept in `{s.settings.keys_dir}`; back that folder up)."
        )


def creator_inbox(h: CreatorHandlers, token: gr.Textbox) -> None:
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
    publish.click(h.inbox_answer, [token, group, question, answer], [result, answer], api_name="inbox_answer").then(
        h.inbox_view, token, [table, group, question, summary], api_visibility="private"
    )
    dismiss.click(h.inbox_dismiss, [token, group], result, api_name="inbox_dismiss").then(
        h.inbox_view, token, [table, group, question, summary], api_visibility="private"
    )


def _plain_markdown(text: str) -> str:
    """``text`` on one line with every Markdown and HTML character escaped, so it shows as typed."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~&])", r"\\\1", " ".join(text.split()))


def creator_analytics(h: CreatorHandlers, token: gr.Textbox) -> None:
    """The Creator tab's charts: conversations per day, rates, topics and the survey's participants."""
    gr.Markdown("### Analytics")
    with gr.Row():
        days = gr.Number(value=30, minimum=1, maximum=365, precision=0, label="Days", elem_id="analytics-days")
        show = gr.Button("Show analytics", elem_id="analytics-show")
    summary = gr.Markdown(elem_id="analytics-summary")
    # HTML charts, empty until asked for (clone.ui.plot): bars from 0, percentages for rates, labels that wrap.
    per_day = gr.HTML(elem_id="analytics-days-plot")
    rates = gr.HTML(elem_id="analytics-rates")
    topics = gr.HTML(elem_id="analytics-topics")
    survey = gr.HTML(elem_id="analytics-survey")
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


def build(h: CreatorHandlers) -> None:
    """The creator console: token form, then re-index, inbox, analytics, embed snippet and status."""
    gr.Markdown("## Creator console\nYour clone's content, the questions it could not answer, and how it is used.")
    token, body = gate(h.settings.creator_token, "CLONE_CREATOR_TOKEN", "Creator token", "creator", h.limits)
    with body:
        with gr.Tabs(elem_id="creator-tabs"):
            with gr.Tab("Content", id="creator-content"):
                gr.Markdown(
                    "Added, changed or removed files in the content folder? Re-index: only new and changed "
                    "documents are embedded again, and fans keep getting answers meanwhile."
                )
                reindex = gr.Button("Re-index content", elem_id="creator-reindex")
                reindex_result = gr.Markdown(elem_id="creator-reindex-result")
                reindex.click(h.reindex, token, reindex_result, api_name="reindex")
            with gr.Tab("Inbox", id="creator-inbox"):
                creator_inbox(h, token)
            with gr.Tab("Analytics", id="creator-analytics"):
                creator_analytics(h, token)
            with gr.Tab("Embed", id="creator-embed-tab") as embed_tab:
                embed = gr.Markdown(h.embed(None), elem_id="creator-embed")
                # Filled with the address the creator opened the console at, as the tab is shown.
                embed_tab.select(h.embed, None, embed, api_visibility="private")
            with gr.Tab("Consent and keys", id="creator-status"):
                show = gr.Button("Show consent and keys", elem_id="creator-status-show")
                status = gr.Markdown(elem_id="creator-status-result")
                show.click(h.status, token, status, api_visibility="private")
