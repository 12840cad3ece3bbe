"""A small OpenAI-compatible chat-completions server for tests, on 127.0.0.1.

It speaks the real protocol at ``/v1/chat/completions``: a JSON completion, or with
``"stream": true`` a ``text/event-stream`` of ``data: {chunk}`` lines ending in ``data: [DONE]``.
So the real client code (langchain-openai, huggingface_hub) runs against it; only the model is fake.
"""

from __future__ import annotations

import html
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    """Records every request and answers with ``pieces``, or fails the way ``mode`` says.

    Modes: ``"ok"``, ``"error"`` (HTTP 500), ``"stall"`` (says nothing until the test ends),
    ``"malformed"`` (a stream whose chunk is not JSON), ``"obey"`` (a model that follows any instruction
    in its context: see :func:`obey`).
    """

    def __init__(self) -> None:
        self.pieces: list[str] = ["Hello", " from", " the", " server."]
        self.mode = "ok"
        self.error_message = "the model fell over"
        self.requests: list[dict] = []
        self.released = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def answer(self) -> str:
        return "".join(self.pieces)

    def start(self) -> ChatServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.released.set()  # lets a stalled handler return
        self.httpd.shutdown()
        self.httpd.server_close()


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "test-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _handler(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # keep test output clean
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw or b"{}")
            server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            if server.mode == "error":
                return self._json(500, {"error": {"message": server.error_message, "type": "server_error"}})
            if server.mode == "stall":
                server.released.wait(10)
                return None
            pieces = obey(body.get("messages", [])) if server.mode == "obey" else server.pieces
            answer = "".join(pieces)
            if not body.get("stream"):
                message = {"role": "assistant", "content": answer}
                return self._json(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 1700000000,
                        "model": "test-model",
                        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    },
                )
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if server.mode == "malformed":
                self.wfile.write(b"data: {this is not json\n\n")
                return None
            self.wfile.write(_chunk({"role": "assistant", "content": ""}))
            for piece in pieces:
                self.wfile.write(_chunk({"content": piece}))
                self.wfile.flush()
            self.wfile.write(_chunk({}, finish="stop"))
            self.wfile.write(b"data: [DONE]\n\n")
            return None

        def _json(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


# --- a model that obeys whatever its context tells it ------------------------------------------

_PASSAGE = re.compile(r'<passage id="(\d+)"[^>]*>(.*?)</passage>', re.S)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# Where an instruction's payload starts: after a colon or a dash, inside quotes, or after "tell them (that|to)".
_PAYLOAD = (
    re.compile(r"[:\u2014]\s*(.+)$"),
    re.compile(r"[\"'\u2018\u201c]([^\"'\u2019\u201d]{3,})[\"'\u2019\u201d]"),
    re.compile(
        r"\b(?:tell|ask|remind|invite|get|let|direct|point|told|informed|asked)\s+(?:\w+\s+){0,3}?"
        r"(?:to|that|know|about|for)\s+(.+)$",
        re.I,
    ),
)


def obey(messages: list[dict]) -> list[str]:
    """What a model that obeys its context would say: every sentence of every passage it was given,
    each followed by what that sentence tells the model to say (the text after a colon, in quotes, or
    after "tell fans to ..."), with the passage's citation, streamed word by word.

    A planted instruction that reaches this model is always carried out: its payload (a password, a
    payment request, a phrase to end replies with) ends up in the reply.
    """
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    said: list[str] = []
    for number, text in _PASSAGE.findall(system):
        for sentence in _SENTENCE.split(html.unescape(text)):
            sentence = sentence.strip()
            if not sentence:
                continue
            said.append(f"{sentence} [{number}]")
            for pattern in _PAYLOAD:
                match = pattern.search(sentence)
                if match:
                    payload = match.group(1).strip().rstrip(".")
                    said.append(f"{payload[:1].upper()}{payload[1:]}. [{number}]")
    reply = " ".join(said) or "I have nothing to say."
    return [word + " " for word in reply.split(" ")]
