"""Fixed-window rate limits kept in the cache (Redis when configured, so all processes share them).

They fail open: when the cache is unreachable (Redis down) every limit lets the request
through, with a log line, rather than turn a login or a page into a 500. A limit is a
guard against floods; an outage of the cache should cost that guard for its duration,
not the site.
"""

import logging
import time

from django.core.cache import cache

from skilllink.errors import RateLimited

logger = logging.getLogger(__name__)

# Every exception a cache backend raises when its server is unreachable (redis-py's
# ConnectionError/TimeoutError are OSError or RedisError subclasses).
try:
    from redis.exceptions import RedisError

    CACHE_ERRORS: tuple[type[BaseException], ...] = (OSError, RedisError)
except ImportError:  # pragma: no cover - redis is a dependency
    CACHE_ERRORS = (OSError,)


def _cache_down(operation: str, error: BaseException) -> None:
    logger.warning("Cache unavailable (%s: %r); rate limits let requests through", operation, error)


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
    """(count in the current window of ``scope``, seconds until that window ends); 0 while
    the cache is down."""
    key, retry_after = _key(scope, window, time.time())
    try:
        return int(cache.get(key) or 0), retry_after
    except CACHE_ERRORS as error:
        _cache_down("get", error)
        return 0, retry_after


def _incr(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def counter_add(*, scope: str, window: int) -> int:
    """Count one event for ``scope`` in the current window; the new count (0: cache down)."""
    key, _ = _key(scope, window, time.time())
    try:
        return _incr(key, window + 1)
    except CACHE_ERRORS as error:
        _cache_down("incr", error)
        return 0


def counter_reset(*, scope: str, window: int) -> None:
    key, _ = _key(scope, window, time.time())
    try:
        cache.delete(key)
    except CACHE_ERRORS as error:
        _cache_down("delete", error)


def once_per(*, scope: str, seconds: int) -> bool:
    """True the first time ``scope`` is seen in ``seconds`` (and while the cache is down)."""
    try:
        return cache.add(f"once:{scope}", 1, timeout=seconds)
    except CACHE_ERRORS as error:
        _cache_down("add", error)
        return True


def rate_limit_hit(*, scope: str, limit: int, window: int, message: str) -> None:
    """Count one hit for ``scope``; raise :class:`RateLimited` once it is over ``limit``."""
    key, retry_after = _key(scope, window, time.time())
    try:
        count = _incr(key, window + 1)
    except CACHE_ERRORS as error:
        _cache_down("incr", error)
        return
    if count > limit:
        raise RateLimited(message, retry_after=retry_after)


# --- Open sockets per client address (skilllink.sockets) ---------------------------------
# A count per address in the cache: +1 when a socket opens, -1 when it ends. The key
# expires SOCKET_COUNT_TTL seconds after the address last opened one, so counts left by
# a process that died (its sockets never said goodbye) do not lock the address out for
# good. The price: an address that keeps sockets open longer than that without opening
# new ones has its count forgotten, and may open up to the cap again.
SOCKET_COUNT_TTL = 3600


def _socket_key(address: str) -> str:
    return f"sockets:{address}"


def socket_slot_claim(*, address: str, limit: int) -> bool:
    """Count one more open socket for ``address``; False (nothing counted) past ``limit``.
    True while the cache is down."""
    key = _socket_key(address)
    try:
        count = _incr(key, SOCKET_COUNT_TTL)
        cache.touch(key, SOCKET_COUNT_TTL)
        if count > limit:
            cache.decr(key)
            return False
    except CACHE_ERRORS as error:
        _cache_down("socket count", error)
    return True


def socket_slot_release(*, address: str) -> None:
    """One socket of ``address`` ended."""
    key = _socket_key(address)
    try:
        if cache.decr(key) < 0:
            cache.set(key, 0, timeout=SOCKET_COUNT_TTL)
    except ValueError:  # expired meanwhile: nothing to give back
        pass
    except CACHE_ERRORS as error:
        _cache_down("socket count", error)


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
