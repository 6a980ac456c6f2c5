"""A fake Gemini API on 127.0.0.1 for tests and benchmarks: the real google-genai SDK
talks to it over HTTP (``GEMINI_BASE_URL``), so our request and streaming code runs
for real.

It answers ``POST /{v1,v1beta}/models/<model>:generateContent`` (one JSON reply) and
``:streamGenerateContent?alt=sse`` (``text/event-stream``, one ``data: <json>`` line
and a blank line per chunk), records every request (path, query, headers, JSON body),
and plays scripted replies in order (``FakeGemini.script``), falling back to
``FakeGemini.default`` when the script is empty:

- ``Reply.text("a", "b", delay=0.05, first_delay=0.2)``: chunks ``a``, ``b`` (a stream
  sends them apart; ``:generateContent`` joins them into one reply);
- ``Reply.error(500)`` / ``(429)`` / ``(503)``: an error body as Google sends it;
- ``Reply.hang(seconds)``: nothing at all for that long (past a client's timeout);
- ``Reply.malformed()``: a stream whose second event is not JSON;
- ``Reply.text(..., then_hang=seconds)``: some chunks, then silence.

It is a real server in a thread (``ThreadingHTTPServer``), usable from pytest (the
test process or a server process started by the test points at ``url``) and from the
benchmark, which reads each request's ``first_chunk_at`` (``time.perf_counter()`` just
after its first chunk was written) to time what our side adds.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PATH = re.compile(r"^/(v1|v1beta)/models/([^/:]+):(generateContent|streamGenerateContent)$")
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class Reply:
    kind: str = "text"  # text | status | hang | malformed
    chunks: tuple[str, ...] = ("ok",)
    delay: float = 0.0  # between chunks of a stream
    first_delay: float = 0.0  # before the response starts
    status: int = 200
    message: str = ""
    then_hang: float = 0.0  # after the chunks, before the end of the stream
    finish_reason: str = "STOP"
    usage: dict[str, int] | None = None

    @classmethod
    def text(cls, *chunks: str, **options: Any) -> Reply:
        return cls(kind="text", chunks=chunks or ("ok",), **options)

    @classmethod
    def error(cls, status: int, message: str = "") -> Reply:
        return cls(kind="status", status=status, message=message or f"Fake error {status}")

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Reply:
        return cls(kind="hang", first_delay=seconds)

    @classmethod
    def malformed(cls) -> Reply:
        return cls(kind="malformed")


@dataclass
class Request:
    method: str
    path: str
    version: str
    model: str
    action: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float = field(default_factory=time.perf_counter)
    first_chunk_at: float | None = None  # perf_counter() once the first chunk was written

    @property
    def streaming(self) -> bool:
        return self.action == "streamGenerateContent"

    @property
    def system_instruction(self) -> str:
        parts = (self.body.get("systemInstruction") or {}).get("parts") or []
        return "".join(part.get("text", "") for part in parts)

    @property
    def user_text(self) -> str:
        return "".join(
            part.get("text", "")
            for content in self.body.get("contents", [])
            for part in content.get("parts", [])
        )

    @property
    def generation_config(self) -> dict[str, Any]:
        return self.body.get("generationConfig") or {}


class FakeGemini:
    """``with FakeGemini() as fake:`` — a server on ``fake.url`` until the block ends."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: deque[Reply] = deque()
        self.default = Reply.text("ok")
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-gemini", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGemini:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def add(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self.script.extend(replies)

    def _next_reply(self) -> Reply:
        with self._lock:
            return self.script.popleft() if self.script else self.default

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                return

            def do_POST(self):
                parts = urlsplit(self.path)
                match = PATH.match(parts.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if match is None:
                    self._json(404, _error_body(404, f"No route {parts.path}"))
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._json(400, _error_body(400, "Body is not JSON"))
                    return
                request = Request(
                    method="POST",
                    path=parts.path,
                    version=match.group(1),
                    model=match.group(2),
                    action=match.group(3),
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with fake._lock:
                    fake.requests.append(request)
                reply = fake._next_reply()
                if reply.first_delay and fake._stopping.wait(reply.first_delay):
                    return
                if reply.kind == "hang":
                    return
                if reply.kind == "status":
                    self._json(reply.status, _error_body(reply.status, reply.message))
                    return
                if request.streaming:
                    self._stream(reply, request)
                else:
                    text = "".join(reply.chunks)
                    self._json(200, _chunk(text, reply.finish_reason, reply.usage))

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(data)

            def _stream(self, reply: Reply, request: Request) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    if reply.kind == "malformed":
                        self._event(json.dumps(_chunk("Half an ans", None, None)))
                        self._event('{"candidates": [{"content": {"parts": [{"text": "wer"')
                        return
                    last = len(reply.chunks) - 1
                    for index, text in enumerate(reply.chunks):
                        if index and reply.delay and fake._stopping.wait(reply.delay):
                            return
                        final = index == last and not reply.then_hang
                        payload = _chunk(
                            text,
                            reply.finish_reason if final else None,
                            reply.usage if final else None,
                        )
                        self._event(json.dumps(payload))
                        if index == 0:
                            request.first_chunk_at = time.perf_counter()
                    if reply.then_hang:
                        fake._stopping.wait(reply.then_hang)
                except OSError:
                    return  # the client went away (stopped, timed out)

            def _event(self, data: str) -> None:
                self.wfile.write(f"data: {data}\r\n\r\n".encode())
                self.wfile.flush()

        return Handler


def _chunk(text: str, finish_reason: str | None, usage: dict[str, int] | None) -> dict:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish_reason:
        candidate["finishReason"] = finish_reason
    payload: dict[str, Any] = {"candidates": [candidate]}
    if usage:
        payload["usageMetadata"] = usage
    return payload


def _error_body(status: int, message: str) -> dict:
    return {
        "error": {
            "code": status,
            "message": message,
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }
