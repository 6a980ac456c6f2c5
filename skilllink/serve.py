"""Serve the ASGI app with uvicorn, uvloop and httptools: ``python -m skilllink.serve``.

One place for the server's settings, used by ``make run``, the tests' live servers
and the benchmarks. ``stack-notes.md`` measured this stack (with the Redis pub/sub
layer and orjson) holding 200 chat rooms at 10 messages/s each on this 2-core
machine where stock daphne fell behind; daphne stays installed and works
(``daphne skilllink.asgi:application``), it is simply not what we run.

Environment: ``HOST`` (127.0.0.1), ``PORT`` (8000), ``WEB_CONCURRENCY`` (worker
processes, 1; more than one needs ``REDIS_URL`` so the workers share a channel
layer), ``LOG_LEVEL`` (info), ``ACCESS_LOG`` (on when ``DEBUG`` is on),
``FORWARDED_ALLOW_IPS`` (none: the proxies trusted for ``X-Forwarded-*``, e.g. 127.0.0.1
behind a local nginx), ``HTTP_HEADER_TIMEOUT`` (10 s) and ``HTTP_BODY_TIMEOUT`` (30 s).
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import logging
import os
import signal
import sys
import threading
import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from skilllink.log_filters import RedactTokens

# WebSocket frames above this are refused by the server with close code 1009. Below
# it, the consumers apply their own, smaller limits with an error frame and keep the
# socket open (skilllink/sockets.py).
WS_MAX_BYTES = 1024 * 1024


def log_config() -> dict:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_tokens")
    return config


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


GIL_SWITCH_INTERVAL = 0.001  # seconds

logger = logging.getLogger("uvicorn.error")


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines for what the client sends.

    uvicorn times out only idle keep-alive connections: a client that connects and sends
    nothing, or half a request head, or stops in the middle of a body, holds its
    connection (and, for a body, the request's task) for as long as it likes; a few
    thousand such clients exhaust the server (slowloris). Here the request head (request
    line and headers, a WebSocket handshake too) must arrive within
    ``HTTP_HEADER_TIMEOUT`` seconds of the connection or of its first byte, and a body
    may pause at most ``HTTP_BODY_TIMEOUT`` seconds between two reads, as nginx's
    ``client_header_timeout``/``client_body_timeout``. On expiry the client gets 408
    (unless a response began) and the connection is closed.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = float(os.environ.get("HTTP_HEADER_TIMEOUT") or 10)
        self.body_timeout = float(os.environ.get("HTTP_BODY_TIMEOUT") or 30)
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, waiting_for: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, waiting_for)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, waiting_for: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        client = "{}:{}".format(*self.client) if self.client else "a client"
        logger.warning("Closing the connection of %s: no complete %s in time", client, waiting_for)
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
        self.transport.close()

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm(self.header_timeout, "request head")

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout, "request head")

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.parser.should_upgrade() and self._should_upgrade():
            self._disarm()  # a WebSocket: its own protocol takes the connection over
        else:
            self._arm(self.body_timeout, "request body")  # until on_message_complete

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._deadline is not None:
            self._arm(self.body_timeout, "request body")

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()


def options() -> dict:
    debug = _flag("DEBUG", False)
    workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
    trusted_proxies = os.environ.get("FORWARDED_ALLOW_IPS", "").strip()
    if workers > 1 and not os.environ.get("REDIS_URL"):
        sys.exit("WEB_CONCURRENCY > 1 needs REDIS_URL: workers must share a channel layer.")
    return {
        "host": os.environ.get("HOST", "127.0.0.1"),
        "port": int(os.environ.get("PORT", "8000")),
        "workers": workers,
        "loop": "uvloop",
        "http": "skilllink.serve:TimedHttpToolsProtocol",
        "ws": "websockets-sansio",
        "ws_max_size": WS_MAX_BYTES,
        # Chat and signaling frames are small; compressing each costs more CPU than
        # it saves bytes on the links that matter.
        "ws_per_message_deflate": False,
        "lifespan": "on",
        "log_config": log_config(),
        "log_level": os.environ.get("LOG_LEVEL", "info").lower(),
        "access_log": _flag("ACCESS_LOG", debug),
        # X-Forwarded-For/-Proto only from the proxies named here (none by default): any
        # client could otherwise claim any address and dodge the per-address limits.
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": trusted_proxies or None,
        "timeout_graceful_shutdown": 5,
        "server_header": False,
    }


# A stop on purpose (Ctrl-C, SIGTERM) is a success once the server shut down gracefully.
# Under ``make run`` make still reports the interrupt as a shell would (130 for Ctrl-C,
# it re-raises the signal on itself), without an "Error" line for the recipe.
STOP_STATUS = {signal.SIGTERM: 0, signal.SIGINT: 0}


def _stop_quietly(signum: int, frame) -> None:
    raise SystemExit(STOP_STATUS[signum])


def stop_quietly_on_signals() -> None:
    """Ctrl-C or SIGTERM end the process without a traceback, whenever they come.

    uvicorn handles both while it serves (a graceful shutdown), then restores the previous
    handlers and raises the signal again; these are those handlers, so the process then
    exits with ``STOP_STATUS`` instead of dying of the signal (SIGTERM) or printing a
    ``KeyboardInterrupt`` (a Ctrl-C during start-up)."""
    for signum in STOP_STATUS:
        signal.signal(signum, _stop_quietly)


def answer_address(host: str, port: int) -> tuple[str, str]:
    """(where to poll, what to print) for a server bound to ``host``:``port``."""
    # A wildcard bind is reached through the loopback address.
    wildcards = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104
    poll = wildcards.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return poll, f"http://{shown}:{port}/"


def announce_when_answering(host: str, port: int, *, timeout: float = 120.0) -> threading.Thread:
    """Print the server's address once it answers HTTP (``/healthz/``), not before: polled
    from a daemon thread while uvicorn starts."""

    def poll() -> None:
        target, shown = answer_address(host, port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection(target, port, timeout=1)
            try:
                connection.request("GET", "/healthz/")
                connection.getresponse().read()
            except OSError:
                time.sleep(0.2)
                continue
            finally:
                connection.close()
            # Any HTTP answer counts (with DEBUG off, a redirect to HTTPS is one).
            print(f"SkillLink is ready on {shown}  (Ctrl-C to stop)", flush=True)
            return
        print(f"SkillLink did not answer on {shown} within {timeout:.0f} s", file=sys.stderr)

    thread = threading.Thread(target=poll, name="announce", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    """``python -m skilllink.serve [--announce]``: ``--announce`` prints the address once the
    server answers (``make run``)."""
    argv = sys.argv[1:] if argv is None else argv
    stop_quietly_on_signals()
    import uvicorn

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skilllink.settings")
    # The event loop shares the GIL with the ORM and sweep threads; when one of them
    # wants it back, the holder lets go after this interval (CPython's default: 5 ms,
    # which showed up whole in the chat benchmark's tail latency).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    settings = options()
    if "--announce" in argv:
        announce_when_answering(settings["host"], settings["port"])
    uvicorn.run("skilllink.asgi:application", **settings)


if __name__ == "__main__":
    main()
