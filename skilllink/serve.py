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
behind a local nginx).
"""

from __future__ import annotations

import copy
import http.client
import logging
import os
import re
import signal
import sys
import threading
import time

# WebSocket frames above this are refused by the server with close code 1009. Below
# it, the consumers apply their own, smaller limits with an error frame and keep the
# socket open (skilllink/sockets.py).
WS_MAX_BYTES = 1024 * 1024


class RedactTokens(logging.Filter):
    """Socket URLs carry ``?token=<JWT>``; keep bearer tokens out of the logs."""

    pattern = re.compile(r"((?:^|[?&])token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                self.pattern.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg
                for arg in args
            )
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = self.pattern.sub(r"\1[redacted]", record.msg)
        return True


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
        "http": "httptools",
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
