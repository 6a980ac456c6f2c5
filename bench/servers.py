"""Server processes for the real-time benchmarks: the same launcher the tests use
(``tests/live_server.py``: ``python -m skilllink.serve``), pointed at a benchmark
database and Redis prefix, and configured as in production (``PRODUCTION_ENV``):
``DEBUG`` off (Django would otherwise keep every query in memory), no access log."""

from __future__ import annotations

import contextlib

from tests.live_server import Server, redis_reachable

__all__ = ["PRODUCTION_ENV", "Server", "cluster", "redis_cleanup", "redis_reachable"]

PRODUCTION_ENV = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback
    "ACCESS_LOG": "0",
    "LOG_LEVEL": "warning",
    # Every simulated client connects from loopback: no per-address socket cap.
    "SOCKETS_PER_ADDRESS": "0",
}


@contextlib.contextmanager
def cluster(count: int, *, database_url: str, secret_key: str, redis_url: str, redis_prefix: str):
    """Start ``count`` servers sharing Redis (in parallel) and yield them; all stop on exit."""
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(
                Server(
                    database_url=database_url,
                    secret_key=secret_key,
                    redis_url=redis_url,
                    extra_env={**PRODUCTION_ENV, "REDIS_PREFIX": redis_prefix},
                )
            )
        for server in servers:
            server.wait_ready(timeout=30.0)
        yield servers
    finally:
        for server in servers:
            server.stop()


def redis_cleanup(url: str, prefix: str) -> None:
    """Pub/sub leaves no keys; the cache (rate limits, same prefix) may: delete only ours."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])
    finally:
        client.close()
