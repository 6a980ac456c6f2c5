"""Fixed-window rate limits kept in the cache (Redis when configured, so all processes share them)."""

import time

from django.core.cache import cache

from skilllink.errors import RateLimited


def client_ip(request) -> str:
    """The peer address. ``X-Forwarded-For`` counts only when it came from a proxy listed in
    ``FORWARDED_ALLOW_IPS`` (the server then puts the client's address here)."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/900"`` -> (10 hits, 900 seconds)."""
    hits, seconds = rate.split("/")
    return int(hits), int(seconds)


def _key(scope: str, window: int, now: float) -> tuple[str, int]:
    bucket = int(now // window)
    retry_after = int(window - (now % window)) + 1
    return f"ratelimit:{scope}:{bucket}", retry_after


def wait_text(seconds: int) -> str:
    """``seconds`` as a person reads a wait: "45 seconds", "12 minutes"."""
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


# --- Counters (read, add, reset), for limits that count only some events -------------


def counter_get(*, scope: str, window: int) -> tuple[int, int]:
    """(count in the current window of ``scope``, seconds until that window ends)."""
    key, retry_after = _key(scope, window, time.time())
    return int(cache.get(key) or 0), retry_after


def counter_add(*, scope: str, window: int) -> int:
    """Count one event for ``scope`` in the current window; the new count."""
    key, _ = _key(scope, window, time.time())
    cache.add(key, 0, timeout=window + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        return 1


def counter_reset(*, scope: str, window: int) -> None:
    key, _ = _key(scope, window, time.time())
    cache.delete(key)


def rate_limit_hit(*, scope: str, limit: int, window: int, message: str) -> None:
    """Count one hit for ``scope``; raise :class:`RateLimited` once it is over ``limit``."""
    key, retry_after = _key(scope, window, time.time())
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        raise RateLimited(message, retry_after=retry_after)


# --- In-process counters, for sockets: no I/O at all on the hot path. ---------------
# A socket lives in one server process, so a per-process count limits what one
# connection (and one person's connections on that process) can send. With several
# processes a person with sockets on k of them gets at most k times the limit, a
# bound that still stops a flood; the chat path cannot afford a Redis round trip
# per message (bench/results.md, chat).
_local_counts: dict[str, int] = {}


def ratelimit_reset_local() -> None:
    """Forget in-process counters (tests; a fresh process starts empty anyway)."""
    _local_counts.clear()


def rate_limit_hit_local(*, scope: str, limit: int, window: int, message: str) -> None:
    """Count one hit for ``scope`` in this process; raise :class:`RateLimited` over ``limit``."""
    key, retry_after = _key(scope, window, time.time())
    if len(_local_counts) > 10_000:  # old windows: drop them all, the current refills
        _local_counts.clear()
    count = _local_counts[key] = _local_counts.get(key, 0) + 1
    if count > limit:
        raise RateLimited(message, retry_after=retry_after)
