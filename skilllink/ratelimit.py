"""Fixed-window rate limits kept in the cache (Redis when configured, so all processes share them)."""

import time

from django.conf import settings
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


# --- The async path, for sockets: no thread hop, so it never queues behind the ORM. ---
# With Redis: INCR on the shared server (all processes agree). Without Redis there
# is exactly one process (design §2), so its memory is the whole truth.
_local_counts: dict[str, int] = {}
_redis_clients: dict[int, object] = {}


def ratelimit_reset_local() -> None:
    """Forget in-process counters (tests; a fresh process starts empty anyway)."""
    _local_counts.clear()


def _redis_client():
    import asyncio

    from redis import asyncio as aioredis

    loop_id = id(asyncio.get_running_loop())
    client = _redis_clients.get(loop_id)
    if client is None:
        client = aioredis.Redis.from_url(settings.REDIS_URL)
        _redis_clients[loop_id] = client
    return client


async def arate_limit_hit(*, scope: str, limit: int, window: int, message: str) -> None:
    """Async twin of :func:`rate_limit_hit` for consumers."""
    key, retry_after = _key(scope, window, time.time())
    if settings.REDIS_URL:
        client = _redis_client()
        full_key = f"{settings.REDIS_PREFIX}:{key}"
        count = await client.incr(full_key)
        if count == 1:
            await client.expire(full_key, window + 1)
    else:
        if len(_local_counts) > 10_000:  # old windows: drop them all, the current refills
            _local_counts.clear()
        count = _local_counts[key] = _local_counts.get(key, 0) + 1
    if count > limit:
        raise RateLimited(message, retry_after=retry_after)
