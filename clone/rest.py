"""Gradio's REST protocol, lightly: ``POST /gradio_api/call/NAME``, then the server-sent result.

One call with the standard library alone, far lighter than ``gradio_client``. ``python -m clone study
simulate`` drives an app with it, and so does the tests' and benchmarks' harness (``tests/harness.py``).
"""

from __future__ import annotations

import json
import urllib.request


def call(
    base: str,
    name: str,
    data: list,
    *,
    session: str,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[str, object] | None:
    """Call ``/NAME`` of the app at ``base`` (ending in ``/``) with ``data`` in Gradio session ``session``.

    Returns ("complete", the outputs) or ("error", the error event's payload), or None when the stream
    ends without a result. A call refused before it reaches the queue raises ``urllib.error.HTTPError``
    (its body is the app's one-line JSON error); an unreachable app raises ``OSError``.
    """
    body = json.dumps({"data": data, "session_hash": session}).encode()
    request = urllib.request.Request(
        f"{base}gradio_api/call/{name}", body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        event_id = json.load(response)["event_id"]
    event = None
    with urllib.request.urlopen(f"{base}gradio_api/call/{name}/{event_id}", timeout=timeout) as stream:
        for raw in stream:
            line = raw.decode("utf-8").strip()
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                return event, json.loads(line[5:])
    return None
