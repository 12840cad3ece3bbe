"""Simulated participants: a pilot of the whole study without people (``python -m clone study simulate URL``).

Each simulated participant goes through the running app's public API as a person's browser does, in one
Gradio session: consent, the pre-chat answers, several chat turns with a rating of each reply (sometimes with
a reason, sometimes a click on a source link), "I have finished chatting", each page of the post-chat answers,
the last page with optional demographics. It talks Gradio's light REST protocol (``POST /gradio_api/call/NAME``,
then the server-sent result) with the standard library alone.

The consent call carries ``Authorization: Bearer <research token>``: the server marks the participant
``simulated`` (left out of exports and charts unless asked for) and accepts that mark from nobody else, and
a simulation cannot leave it off. Answers, ratings and questions come from a ``random.Random`` seeded with
``--seed``, so a pilot can be repeated; the participant ids are drawn by the server, never by the simulator.
"""

from __future__ import annotations

import json
import random
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from clone import rest
from clone.errors import CloneError
from clone.trust.receipts import receipt_in_text

QUESTIONS = (
    "What are you working on at the moment?",
    "How did you get started?",
    "What is your favourite thing you have made?",
    "What advice would you give a beginner?",
    "What does a normal day look like for you?",
    "Which tools do you use most?",
    "What was your biggest mistake, and what did you learn?",
    "Where do you find ideas?",
)
REASONS = ("", "", "Clear and to the point.", "It did not answer my question.", "Nice to see the sources.")
# How often a simulated participant rates a reply up, down, or not at all; and clicks one of its sources.
RATING_WEIGHTS = {"up": 5, "down": 2, "": 3}
CLICK_CHANCE = 0.3
_LINK = re.compile(r"\]\((https?://[^)\s]+)\)")


class SimulationError(CloneError):
    """The app refused or did not answer a step of a simulated participant."""


@dataclass
class SimulatedParticipant:
    """What one simulated participant did: their completion code, replies, ratings and clicks."""

    code: str = ""
    replies: int = 0
    ratings: dict[str, str] = field(default_factory=dict)  # reply code -> up / down
    clicks: int = 0


class GradioSession:
    """One browser-like session of the app: Gradio's REST calls under one ``session_hash``."""

    def __init__(self, url: str, *, timeout: float = 120):
        self.base = url.rstrip("/") + "/"
        self.session = uuid.uuid4().hex
        self.timeout = timeout

    def info(self) -> dict:
        """The app's endpoints and their parameters (undocumented ones included)."""
        with self._open(urllib.request.Request(f"{self.base}gradio_api/info?all_endpoints=true")) as response:
            return json.load(response)["named_endpoints"]

    def call(self, name: str, data: list, headers: dict[str, str] | None = None) -> list:
        """Call ``/NAME`` with ``data`` and return its outputs; ``SimulationError`` with the app's words on an error."""
        try:
            result = rest.call(self.base, name, data, session=self.session, headers=headers, timeout=self.timeout)
        except urllib.error.HTTPError as err:  # refused before it reached the queue (the gate's one-line errors)
            raise SimulationError(f"/{name} was refused: {_error_text(err)}") from None
        except OSError as exc:
            raise SimulationError(f"Cannot reach the app at {self.base}: {exc}.") from None
        if result is None:
            raise SimulationError(f"/{name} ended without a result.")
        event, payload = result
        if event == "error":
            raise SimulationError(f"/{name} failed: {payload or 'the app gave no reason'}")
        return payload

    def _open(self, request: urllib.request.Request):
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError:
            raise
        except OSError as exc:
            raise SimulationError(f"Cannot reach the app at {self.base}: {exc}.") from None


def _error_text(err: urllib.error.HTTPError) -> str:
    try:
        return str(json.load(err).get("error") or err.reason)
    except (ValueError, AttributeError):
        return f"HTTP {err.code}"


def _choices(parameter: dict) -> list:
    """The values a rating or dropdown parameter takes, from the API info."""
    kind = parameter.get("type") or {}
    values = kind.get("enum")
    if not values:
        raise SimulationError(f"The parameter {parameter.get('label')!r} has no choices to draw from.")
    return list(values)


def _text(message: dict) -> str:
    """A chat message's text, whether Gradio sends it as a string or as parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)


def simulate(
    url: str,
    participants: int,
    *,
    token: str,
    seed: int = 0,
    turns: int = 3,
    progress: Callable[[str], None] = lambda _line: None,
) -> list[SimulatedParticipant]:
    """Run ``participants`` simulated participants through the study of the app at ``url``, one after another.

    ``token`` is the research token (the server marks the participants simulated only with it); ``seed`` makes
    the answers, questions and ratings reproducible; each participant asks ``turns`` questions at least (more
    if the study asks for more). Returns what each did; raises ``SimulationError`` at the first step refused.
    """
    if participants < 1:
        raise SimulationError("Simulate at least one participant.")
    if not token:
        raise SimulationError("Simulated participants need the research token: set CLONE_RESEARCH_TOKEN or --token.")
    endpoints = GradioSession(url).info()
    for needed in ("/consent", "/submit_pre", "/chat_turn", "/feedback", "/finish_chat", "/submit_post"):
        if needed not in endpoints:
            raise SimulationError(f"The app at {url} has no {needed} endpoint: is it this project's app, up to date?")
    out = []
    for n in range(1, participants + 1):
        rng = random.Random(f"{seed}:{n}")
        done = _one(GradioSession(url), endpoints, rng, token=token, turns=turns)
        progress(
            f"participant {n}/{participants}: {done.code}, {done.replies} replies, "
            f"{len(done.ratings)} rated, {done.clicks} source clicks"
        )
        out.append(done)
    return out


def _params(endpoints: dict, name: str) -> list[dict]:
    return endpoints[f"/{name}"]["parameters"]


def _one(app: GradioSession, endpoints: dict, rng: random.Random, *, token: str, turns: int) -> SimulatedParticipant:
    """One simulated participant, start to finish."""
    me = SimulatedParticipant()
    status = app.call("consent", [True, rng.random() < 0.5], {"Authorization": f"Bearer {token}"})[3]
    if status != "Thank you for taking part.":
        raise SimulationError(f"Consent was not recorded: {status}")
    pre = [rng.choice(_choices(p)) for p in _params(endpoints, "submit_pre")]
    status = app.call("submit_pre", pre)[3]
    if status:
        raise SimulationError(f"The pre-chat answers were refused: {status}")
    questions = list(QUESTIONS)
    rng.shuffle(questions)
    asked = 0
    while True:
        while asked < turns:
            _turn(app, rng, questions[asked % len(questions)], me)
            asked += 1
        reply = app.call("finish_chat", [])
        if not reply[3]:
            break
        if asked >= turns + 20:
            raise SimulationError(f"The chat step did not end: {reply[3]}")
        turns += 1  # the study asks for more questions than --turns
    post = [rng.choice(_choices(p)) for p in _params(endpoints, "submit_post")]
    start, k = 0, 1
    while f"/post_page_{k}" in endpoints:  # each page's Next, with its answers, as a person's browser sends them
        size = len(_params(endpoints, f"post_page_{k}"))
        status = app.call(f"post_page_{k}", post[start : start + size])[2]
        if status:
            raise SimulationError(f"Page {k} of the post-chat answers was refused: {status}")
        start, k = start + size, k + 1
    # The demographic questions come last; a simulated participant answers each about half the time.
    n_demo = len(post) - _rating_count(endpoints)
    if n_demo:
        post[-n_demo:] = [v if rng.random() < 0.5 else None for v in post[-n_demo:]]
    result = app.call("submit_post", post)
    if result[3]:
        raise SimulationError(f"The post-chat answers were refused: {result[3]}")
    me.code = result[5] if isinstance(result[5], str) else (result[5] or {}).get("value", "")
    return me


def _rating_count(endpoints: dict) -> int:
    """How many of ``/submit_post``'s parameters are rating items (the rest are demographic questions)."""
    return sum(p.get("component") == "Radio" for p in _params(endpoints, "submit_post"))


def _turn(app: GradioSession, rng: random.Random, question: str, me: SimulatedParticipant) -> None:
    """Ask one question; rate the reply (or not), sometimes with a reason; sometimes click one of its sources."""
    chat = app.call("chat_turn", [question, []])[0]
    text = _text(chat[-1]) if chat else ""
    receipt = receipt_in_text(text)
    if receipt is None:
        raise SimulationError(f"The reply to {question!r} carries no receipt: {text[:200]!r}")
    me.replies += 1
    rating = rng.choices(list(RATING_WEIGHTS), weights=list(RATING_WEIGHTS.values()))[0]
    if rating:
        done = app.call("feedback", [receipt, rating, rng.choice(REASONS)])[0]
        me.ratings[done["reply"]] = rating
    links = _LINK.findall(text.split("<details>")[0])
    if links and rng.random() < CLICK_CHANCE:
        app.call("source_click", [rng.choice(links)])
        me.clicks += 1
