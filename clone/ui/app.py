"""Three apps on one server: the fan app at ``/``, the creator console at ``/creator``, the researcher
console at ``/research`` (and the chat-only ``/widget``), each a page of one Gradio app, so one process
and one port serve them all. ``build_app`` returns the app and never launches it."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass

import gradio as gr
from starlette.middleware import Middleware

from clone import __version__
from clone.config import ASSETS_DIR, Settings, check_tokens, load_settings
from clone.gate import Gate
from clone.services import Services
from clone.survey.http import export_routes
from clone.ui import about, chat, creator, feedback, research, survey, survey_view, verify
from clone.ui.auth import ensure_tokens
from clone.ui.limits import Limits, text_arguments
from clone.ui.page import CSS_PATH, header

CREATOR_PATH = "/creator"
RECEIPTS_JS = ASSETS_DIR / "receipts.js"
RESEARCH_PATH = "/research"
WIDGET_PATH = creator.WIDGET_PATH


@dataclass
class Screens:
    """Every screen's handler object over one set of services (what the app wires, and what tests call)."""

    services: Services
    chat: chat.ChatHandlers
    survey: survey.SurveyHandlers
    verify: verify.VerifyHandlers
    creator: creator.CreatorHandlers
    research: research.ResearchHandlers
    feedback: feedback.FeedbackHandlers

    @classmethod
    def of(cls, services: Services) -> Screens:
        """The handlers of every screen, sharing ``services`` and one set of per-client limits."""
        limits = Limits(services.settings)
        return cls(
            services,
            chat.ChatHandlers(services, limits=limits),
            survey.SurveyHandlers(services, limits=limits),
            verify.VerifyHandlers(services),
            creator.CreatorHandlers(services, limits=limits),
            research.ResearchHandlers(services, limits=limits),
            feedback.FeedbackHandlers(services, limits=limits),
        )


def build_app(services: Services) -> gr.Blocks:
    """Build the fan app and the consoles for a clone with verified consent. The caller launches it
    (see :func:`launch_options`)."""
    persona, clone = services.persona, services.clone
    screens = Screens.of(services)
    chat_h = screens.chat
    with gr.Blocks(title=f"AI clone of {persona.name}") as app:
        notice, poll = header(services)
        app.load(poll, None, notice, api_visibility="private")
        study_state = gr.State({})
        with gr.Tabs(elem_id="clone-tabs") as tabs:
            with gr.Tab("Chat", id="chat"):
                reminder = survey_view.reminder()  # the study's "I have finished chatting", shown to participants
                panel = chat.build(chat_h, "chat", study=study_state, ratings=screens.feedback)
            with gr.Tab("Survey", id="survey") as survey_tab:
                survey_view.build(
                    screens.survey,
                    study_state,
                    tabs=tabs,
                    survey_tab=survey_tab,
                    chat_reminder=reminder,
                    replies=panel.replies,
                    chat_opening=(chat_h.opening, (panel.chatbot, panel.session)),
                )
            with gr.Tab("Verify", id="verify"):
                verify.build(screens.verify)
            with gr.Tab("About this clone", id="about"):
                about.build(services)
        gr.Markdown(
            f"<div class='clone-footer'>AI clone of {html.escape(persona.display_name)} · answers by the "
            f"<code>{clone.backend.name}</code> backend from {clone.kb.size} indexed passages"
            f" · version {__version__}</div>"
        )
        gr.api(chat_h.chat_api, api_name="chat", concurrency_limit=16)  # waits on an LLM backend: see launch_options
        gr.api(text_arguments(screens.verify.verify_api), api_name="verify")
        gr.api(screens.feedback.feedback_api, api_name="feedback")
        app.load(None, js=feedback.SOURCE_CLICK_JS)  # counts a participant's clicks on source links
    with app.route("Widget", WIDGET_PATH, show_in_navbar=False):
        # The embeddable view: the same banner and chat, nothing else; it cannot leave the banner out.
        header(services, "embed")
        chat.build(chat_h, "widget", height=360, ratings=screens.feedback)
    with app.route("Creator", CREATOR_PATH, show_in_navbar=False):
        creator.build(screens.creator)
    with app.route("Research", RESEARCH_PATH, show_in_navbar=False):
        research.build(screens.research)
    app.queue(default_concurrency_limit=8)  # per event; the sizes are explained in launch_options
    # Served beside the UI by launch_options(app): Gradio builds its FastAPI app inside launch().
    app.research_routes = [
        *export_routes(services.study, services.store, services.settings.research_token),
        creator.web_component_route(),
    ]
    return app


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
    # Receipts people can use: a "Copy receipt" button, and the chat's copy button copying plain text.
    options["head"] = f"<script>{RECEIPTS_JS.read_text(encoding='utf-8')}</script>"
    routes = getattr(app, "research_routes", None)
    if routes:
        options["app_kwargs"]["routes"] = list(routes)
    return options


def create_app(settings: Settings | None = None) -> gr.Blocks:
    """Load settings, make the console tokens on first start, open the services, and build the app.

    Prints where the consoles are and where their tokens were made, so a newcomer finds them.
    """
    settings = settings or load_settings()
    check_tokens(settings)  # a short token falls to guessing: refuse to start with one
    # Gradio copies served files (such as CSV exports) into its temp folder: keep it under CLONE_HOME.
    os.environ.setdefault("GRADIO_TEMP_DIR", str(settings.home / "gradio-tmp"))
    settings, made = ensure_tokens(settings)
    services = Services.open(settings, progress=lambda msg: print(msg, flush=True))
    app = build_app(services)
    for setting, path in made.items():
        page = CREATOR_PATH if "CREATOR" in setting else RESEARCH_PATH
        print(f"The {page.strip('/')} console is at {page} on this server; its token is in {path}", flush=True)
    return app
