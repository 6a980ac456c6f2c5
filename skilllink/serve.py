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
import os
import sys

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


def main() -> None:
    import uvicorn

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skilllink.settings")
    # The event loop shares the GIL with the ORM and sweep threads; when one of them
    # wants it back, the holder lets go after this interval (CPython's default: 5 ms,
    # which showed up whole in the chat benchmark's tail latency).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    uvicorn.run("skilllink.asgi:application", **options())


if __name__ == "__main__":
    main()
