"""The research export over HTTP: ``GET /research/export/<file>`` with ``Authorization: Bearer <token>``; add
``?include_simulated=1`` for the simulated participants of a pilot too.

Gradio 6 builds its FastAPI app inside ``Blocks.launch``; ``launch(app_kwargs={"routes": [...]})`` passes
these Starlette routes to that app's constructor, so ``python app.py`` serves them beside the UI
(see ``clone.ui.launch_options``). Tests mount the same routes on a bare Starlette app.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from clone.survey.export import EXPORTS
from clone.survey.instruments import Study
from clone.survey.store import SurveyStore

PREFIX = "/research/export"
_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


def authorized(header: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries the research token (constant-time comparison)."""
    if not token or not header or not header.startswith("Bearer "):
        return False
    return secrets.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode())


def export_routes(study: Study, store: SurveyStore, token: str) -> list[Route]:
    """One GET route per export file; 401 unless the request carries ``Bearer <token>``."""

    def endpoint(request: Request) -> Response:
        name = request.path_params["name"]
        if not authorized(request.headers.get("authorization"), token):
            why = (
                "The export is disabled: set CLONE_RESEARCH_TOKEN." if not token else "A valid bearer token is needed."
            )
            return PlainTextResponse(why, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if name not in EXPORTS:
            return PlainTextResponse(f"Unknown file; use one of {', '.join(EXPORTS)}.", status_code=404)
        # Simulated participants (python -m clone study simulate) only when asked for: ?include_simulated=1.
        include = request.query_params.get("include_simulated", "").strip().lower() in ("1", "true", "yes")
        body = EXPORTS[name](study, store, include).encode("utf-8")
        return Response(
            body,
            media_type=_TYPES[name.rsplit(".", 1)[1]],
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    return [Route(PREFIX + "/{name}", endpoint, methods=["GET"])]
