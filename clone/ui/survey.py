"""The study's participant flow: consent, questions before the chat, the chat, questions after, the code.

No step ever ends in an error badge: a missing answer is said beside its question (highlighted, focus
moved there) and the step stays, with every answer given so far. Each handler returns the visibility of
the steps it may touch, worked out from the participant's stage on the server, so a double click or an
old tab can never leave the page without a way on.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from clone import __version__
from clone.errors import SurveyError
from clone.survey.panel import arrival
from clone.ui.auth import require
from clone.ui.items import (
    ITEM_CLASSES,
    MISSING,
    WHERE_TO_PASTE,
    ask_for,
    marked,
    missing_answers,
    pages,
    scale_ends,
)
from clone.ui.limits import Screen, checked_text


def participant_stage(session: dict | None) -> str:
    """The participant's stage: ``consent`` before agreeing, then ``pre``, ``chat``, ``post``, ``done``."""
    participant = (session or {}).get("participant")
    return participant["stage"] if participant else "consent"


def _query(request: gr.Request | None) -> dict[str, str]:
    """The query parameters of the page the participant opened (empty without a request)."""
    return dict(getattr(request, "query_params", None) or {})


def _moved_on(stage: str) -> str:
    """What to say when an event arrives for a step the participant is no longer at."""
    if stage == "consent":
        return "Please agree to take part first (the consent form at the top of this tab)."
    return "That step is already done; please continue with the one shown."


@dataclass
class SurveyHandlers(Screen):
    """The survey's steps, plain functions over the study and its store; none of them raises ``gr.Error``."""

    @property
    def study(self):
        return self.services.study

    def numbers(self, phase: str, session: dict | None = None) -> dict[str, int]:
        """Each item column of ``phase`` by its number as shown to this participant (1, 2, ...)."""
        return {c.name: n for n, c in enumerate(self.shown(session, phase), 1)}

    def shown(self, session: dict | None, phase: str) -> list:
        """The item columns of ``phase`` in the order this participant is shown them (drawn at consent).

        The page's rating items are slots in the file's order; where the study shuffles, slot ``n`` shows
        (and its answer is stored for) the ``n``-th column of this list.
        """
        participant = (session or {}).get("participant") or {}
        return self.study.shown(phase, participant.get("order"))

    def post_pages(self, session: dict | None) -> list[list]:
        """The post-chat columns this participant is shown, cut into the page's fixed pages of slots."""
        shown, out, start = self.shown(session, "post"), [], 0
        for page in pages(self.study.columns("post")):
            out.append(shown[start : start + len(page)])
            start += len(page)
        return out

    def order_items(self, session: dict | None, phase: str) -> list[dict]:
        """Updates that put this participant's order on the ``phase`` rating slots (question, choices, ends)."""
        return [
            gr.update(
                label=f"{n}. {c.question.item.text}",
                info=scale_ends(c),
                choices=[(str(v), v) for v in range(c.instrument.scale.min, c.instrument.scale.max + 1)],
                value=None,
            )
            for n, c in enumerate(self.shown(session, phase), 1)
        ]

    def consent(
        self, agree: bool, keep_transcript: bool, study: dict | None, request: gr.Request | None = None
    ) -> tuple:
        """Consent screen: record consent, draw an id and a condition on the server, show the pre-chat questions.

        ``study`` is the survey's own state (``gr.State``), apart from the chat's, so a reply still
        streaming can never write back an older copy of it. Returns (study state, consent step, pre-chat
        step, status, agree box). Without the agreement (``agree`` not ``True``: the page's button sends it, an API
        client must) the step stays and says so. The
        condition never comes from the client. A client may start at most ``CLONE_PARTICIPANTS_PER_HOUR``
        participants (over it, the step stays and says when to try again).
        """
        s = self.services
        session = dict(study if isinstance(study, dict) else {})
        stage = participant_stage(session)
        if stage != "consent":
            return session, gr.update(visible=False), gr.update(visible=stage == "pre"), _moved_on(stage), gr.update()
        if agree is not True:
            return (
                session,
                gr.update(visible=True),
                gr.update(visible=False),
                "Please choose I agree — start to take part, or No thanks to chat without taking part.",
                gr.update(elem_classes=ITEM_CLASSES + [MISSING]),
            )
        try:
            simulated = self._simulated(request)
            if not simulated:  # a simulation was let in by the research token; people are limited per client
                self.limits.check(self.limits.participants, request, "new participants")
        except gr.Error as exc:  # the token and the limit speak in gr.Error; here it is said in place
            return session, gr.update(visible=True), gr.update(visible=False), str(exc.message), gr.update()
        try:
            # A paid panel's link (?PROLIFIC_PID=… or ?pid=…): the page's query string reaches every event.
            panel = arrival(_query(request))
            a = s.store.assign(
                s.study,
                consent_version=s.study.consent_version,
                transcript_opt_in=keep_transcript is True,
                persona_id=s.persona.id,
                app_version=__version__,
                backend=s.clone.backend.name,
                panel=panel,
                simulated=simulated,
            )
        except SurveyError as exc:  # a broken panel link, or a second participation: said in place
            return session, gr.update(visible=True), gr.update(visible=False), str(exc), gr.update()
        session["participant"] = {
            "id": a.participant_id,
            "condition": a.condition,  # the cell: the chat reads what it shows from the study, on the server
            "show_citations": s.study.condition(a.condition).show_citations,
            "transcript_opt_in": keep_transcript is True,
            "stage": "pre",
            "panel": panel.panel if panel else "",
            "order": a.order,
            "simulated": simulated,
        }
        return (
            session,
            gr.update(visible=False),
            gr.update(visible=True),
            "Thank you for taking part.",
            gr.update(elem_classes=ITEM_CLASSES),
        )

    def _simulated(self, request: gr.Request | None) -> bool:
        """Whether this consent starts a simulated participant: the call carries ``Authorization: Bearer <research
        token>`` (``python -m clone study simulate`` sends it). A wrong token is refused (``gr.Error``) and counted
        like a wrong console token, never taken for a real participant; no header is a person."""
        headers = getattr(request, "headers", None) or {}
        header = headers.get("authorization")
        if header is None:
            return False
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        try:
            require(
                token,
                self.settings.research_token,
                "CLONE_RESEARCH_TOKEN",
                "Simulated participants",
                client=self.limits.client(request),
                wrong=self.limits.wrong_tokens,
            )
        except gr.Error as exc:
            raise gr.Error(
                f"Simulated participants need the research token (Authorization: Bearer …). {exc.message} "
                "Nothing was stored.",
                print_exception=False,
            ) from None
        return True

    def decline(self, request: gr.Request | None = None) -> tuple:
        """No thanks: nothing is stored, and the chat stays open; someone a panel sent gets its screen-out link."""
        line = "No problem: nothing about you is stored for research. You can still chat in the **Chat** tab."
        try:
            panel = arrival(_query(request))
        except SurveyError:
            panel = None  # declining stores nothing, so a broken link changes nothing here
        link = self.study.panel.link("screen_out")
        if panel is not None and link:
            line += f" To tell the panel that sent you, please follow [this link back to it]({link})."
        return gr.update(visible=False), line

    def turns(self, session: dict | None) -> int:
        """Replies this participant has had so far (counted on the server)."""
        participant = (session or {}).get("participant")
        return self.services.tally.metrics(participant["id"])[0].turns if participant else 0

    def chat_progress(self, session: dict | None) -> tuple:
        """The chat step's state: ("I have finished chatting" enabled or not, a line on how far along)."""
        if participant_stage(session) != "chat":
            return gr.update(), gr.update()
        need, done = self.study.min_turns, self.turns(session)
        if done >= need:
            line = f"You have had {done} {'reply' if done == 1 else 'replies'}. Chat on, or finish when you like."
        else:
            left = need - done
            line = (
                f"Please ask at least {left} more question{'' if left == 1 else 's'} in the chat "
                f"({done} of {need} so far); then you can finish."
            )
        return gr.update(interactive=done >= need), line

    def submit_pre(self, session: dict | None, *answers) -> tuple:
        """Store the pre-chat answers.

        Returns (study state, pre step, chat step, status, chat reminder, finish button, then one update per
        item). A missing answer is marked beside its item and the step stays with every answer in place.
        """
        s = self.services
        columns = self.shown(session, "pre")
        stage = participant_stage(session)
        session = dict(session or {})
        if stage != "pre":
            return (
                session,
                gr.update(visible=False),
                gr.update(visible=stage == "chat"),
                _moved_on(stage),
                gr.update(visible=stage == "chat"),
                gr.update(),
                *[gr.update() for _ in columns],
            )
        missing = missing_answers(answers) if len(answers) == len(columns) else set()
        participant = session["participant"]
        problem = ""
        if missing:
            problem = ask_for(missing, columns, self.numbers("pre", session))
        else:
            try:
                columns_by_name = [c.question.column for c in columns]
                s.store.save_phase(s.study, participant["id"], "pre", dict(zip(columns_by_name, answers, strict=True)))
            except (SurveyError, ValueError) as exc:
                problem = str(exc)
        if problem:
            return (
                session,
                gr.update(visible=True),
                gr.update(visible=False),
                problem,
                gr.update(visible=False),
                gr.update(),
                *marked(columns, missing),
            )
        session["participant"] = participant | {"stage": "chat"}
        finish, _ = self.chat_progress(session)
        return (
            session,
            gr.update(visible=False),
            gr.update(visible=True),
            "",
            gr.update(visible=True),
            finish,
            *marked(columns),
        )

    def finish_chat(self, session: dict | None) -> tuple:
        """The participant is done chatting, after at least the study's ``min_turns`` replies.

        Returns (study state, chat step, post-chat step, status, chat reminder); too early, the step stays
        and says how many questions are left.
        """
        stage = participant_stage(session)
        session = dict(session or {})
        if stage != "chat":
            return session, gr.update(visible=False), gr.update(visible=stage == "post"), _moved_on(stage), gr.update()
        if self.turns(session) < self.study.min_turns:
            _, line = self.chat_progress(session)
            return session, gr.update(visible=True), gr.update(visible=False), line, gr.update(visible=True)
        session["participant"] = session["participant"] | {"stage": "post"}
        self.services.store.step_done(session["participant"]["id"], "chat")  # the chat step's time
        return session, gr.update(visible=False), gr.update(visible=True), "", gr.update(visible=False)

    def check_page(self, page: int, *answers, session: dict | None = None) -> tuple:
        """ "Next" on page ``page`` of the post-chat questions: on to the next page once every item is answered.

        Returns (this page, the next page, status, then one update per item of this page).
        """
        columns = self.post_pages(session)[page]
        missing = missing_answers(answers)
        if missing:
            text = ask_for(missing, columns, self.numbers("post", session))
            return gr.update(visible=True), gr.update(visible=False), text, *marked(columns, missing)
        if participant_stage(session) == "post":  # the page's time (the last page's is the post-chat answers' own)
            self.services.store.step_done(session["participant"]["id"], f"post_{page + 1}")
        return gr.update(visible=False), gr.update(visible=True), "", *marked(columns)

    def submit_post(self, session: dict | None, *values) -> tuple:
        """Store the post-chat answers, chat metrics and optional demographics; show the completion code.

        ``values`` are the post-chat items in order, then one value per demographic question.
        Returns (study state, post step, done step, status, completion message, code box, one visibility
        per page, one update per item). A missing answer opens its page, marked, and nothing is lost.
        """
        s = self.services
        all_columns = self.shown(session, "post")
        paged = self.post_pages(session)
        stage = participant_stage(session)
        session = dict(session or {})
        n = len(all_columns)
        answers, demo = values[:n], values[n:]
        keep = [gr.update() for _ in paged], [gr.update() for _ in all_columns]
        if stage != "post":
            return (
                session,
                gr.update(visible=False),
                gr.update(visible=stage == "done"),
                _moved_on(stage),
                gr.update(),
                gr.update(),
                *keep[0],
                *keep[1],
            )
        participant = session["participant"]
        missing = missing_answers(answers) if len(answers) == n else set()
        problem = ask_for(missing, all_columns, self.numbers("post", session)) if missing else ""
        if not problem:
            metrics, transcript = s.tally.metrics(participant["id"])
            try:
                # Metrics first (an idempotent update): if an answer is refused, the participant fixes it and
                # submits again, and the post-chat answers (written once) still go in as one transaction.
                s.store.finish(
                    s.study,
                    participant["id"],
                    chat=metrics,
                    demographics=dict(zip(s.study.demographics, demo, strict=True)),
                    transcript=transcript if participant["transcript_opt_in"] else None,
                )
                s.store.save_phase(
                    s.study,
                    participant["id"],
                    "post",
                    dict(zip([c.question.column for c in all_columns], answers, strict=True)),
                )
            except (SurveyError, ValueError) as exc:
                problem = str(exc)
        if problem:
            first = min(missing) if missing else None
            shown = next((i for i, p in enumerate(paged) if first is not None and all_columns[first] in p), None)
            page_updates = keep[0] if shown is None else [gr.update(visible=i == shown) for i in range(len(paged))]
            return (
                session,
                gr.update(visible=True),
                gr.update(visible=False),
                problem,
                gr.update(),
                gr.update(),
                *page_updates,
                *marked(all_columns, missing),
            )
        s.tally.forget(participant["id"])
        session["participant"] = participant | {"stage": "done"}
        code = participant["id"]
        message = (
            f"Thank you, your answers are saved. Your completion code is **{code}**. {WHERE_TO_PASTE} "
            "It is also your deletion code: keep it if you may want your answers deleted later."
        )
        if participant.get("panel"):
            message, code = self._panel_ending(participant["id"], code)
        return (
            session,
            gr.update(visible=False),
            gr.update(visible=True),
            "",
            message,
            gr.update(value=code),
            *keep[0],
            *marked(all_columns),
        )

    def _panel_ending(self, participant_id: str, code: str) -> tuple[str, str]:
        """The last words to someone a panel sent, and the code for the box: the panel's completion code and
        link, or its screen-out link (after a failed check question); the participant's own code stays in the
        words, as their deletion code."""
        panel = self.study.panel
        keep = f"Your own code is **{code}**: it deletes your answers here if you ask us to later."
        screen_out = panel.link("screen_out")
        if screen_out and self.services.store.attention_failed(self.study, participant_id):
            coded = f" with the code **{panel.screen_out_code}**" if panel.screen_out_code else ""
            return (
                "Thank you, your answers are saved. One of the check questions (the ones that ask for a given "
                f"answer) was answered differently, so the study sends you back [to the panel]({screen_out})"
                f"{coded}. {keep}",
                panel.screen_out_code or code,
            )
        completion = panel.link("completion")
        if completion:
            coded = f" with the code **{panel.completion_code}**" if panel.completion_code else ""
            return (
                f"Thank you, your answers are saved. Please go [back to the panel to be credited]({completion})"
                f"{coded}. {keep}",
                panel.completion_code or code,
            )
        return f"Thank you, your answers are saved. Your completion code is **{code}**. {WHERE_TO_PASTE} {keep}", code

    def delete_answers(self, code: str) -> str:
        """Delete everything stored under a completion code."""
        code = checked_text(code, "The completion code").strip()
        if code and self.services.store.delete(code):
            return "Your answers have been deleted."
        return "No answers are stored under that code (already deleted, or a typo?)."
