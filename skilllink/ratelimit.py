"""Fixed-window rate limits kept in the cache (Redis when configured, so all processes share them)."""

import time

from django.core.cache import cache

from skilllink.errors import RateLimited


def client_ip(request) -> str:
    """The peer address. Behind a proxy, configure it to set REMOTE_ADDR (not trusted headers)."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def parse_rate(rate: str) -> tuple[int, int]:
    """``"10/900"`` -> (10 hits, 900 seconds)."""
    hits, seconds = rate.split("/")
    return int(hits), int(seconds)


def _key(scope: str, window: int, now: float) -> tuple[str, int]:
    bucket = int(now // window)
    retry_after = int(window - (now % window)) + 1
    return f"ratelimit:{scope}:{bucket}", retry_after


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


async def arate_limit_hit(*, scope: str, limit: int, window: int, message: str) -> None:
    key, retry_after = _key(scope, window, time.time())
    await cache.aadd(key, 0, timeout=window + 1)
    try:
        count = await cache.aincr(key)
    except ValueError:
        await cache.aadd(key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        raise RateLimited(message, retry_after=retry_after)
