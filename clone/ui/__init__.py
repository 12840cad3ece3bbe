"""The Gradio apps: the fan app at ``/`` (chat, survey, verify, about), the creator console at ``/creator``,
the researcher console at ``/research`` and the chat-only ``/widget``, one module per screen.

Each screen has a small handler object over :class:`clone.services.Services` (plain methods tests call
directly) and one ``build()``. ``build_app`` returns the app and never launches it.
"""

from clone.ui.app import CREATOR_PATH, RESEARCH_PATH, WIDGET_PATH, Screens, build_app, create_app, launch_options

__all__ = ["CREATOR_PATH", "RESEARCH_PATH", "WIDGET_PATH", "Screens", "build_app", "create_app", "launch_options"]
