"""Outages of what the application depends on: answer them, never crash on them.

- The database unreachable: every page and API call answers 503 — JSON
  ``{"code": "database_unavailable", "detail"}`` under ``/api/``, a page for people — instead
  of a 500 with a traceback. Django turns an exception in any middleware into a 500 response
  on the spot (``convert_exception_to_response``), before an outer middleware could catch
  it, and rendering that 500 page (the debug page, or ``500.html`` with its context
  processors) asks the database again, each time waiting out the pool's timeout. So a
  ``got_request_exception`` receiver re-raises a database error of a request guarded by
  the outermost middleware, which catches it and answers the 503 with nothing more from
  the database. Nothing is kept between requests: once the database is back, the next
  request simply works (the pool checks each connection before handing it out:
  ``CONN_HEALTH_CHECKS``).
- ``/healthz/`` checks each dependency (database, cache, channel layer) and answers 503
  naming the ones that are down.

The cache (rate limits: ``skilllink.ratelimit``) and the channel layer (``skilllink.realtime``,
``skilllink.sockets``) handle their own outages where they are used.
"""

from __future__ import annotations

import logging
import sys
import time

from django.conf import settings
from django.core.cache import cache
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from skilllink.errors import DatabaseUnavailable
from skilllink.ratelimit import CACHE_ERRORS

logger = logging.getLogger(__name__)

# What Django raises when it cannot reach the database or lost the connection (psycopg's
# and sqlite3's errors of those kinds, a pool that found no connection in time).
DATABASE_ERRORS = (OperationalError, InterfaceError)


def database_unavailable_response(request) -> HttpResponse:
    error = DatabaseUnavailable()
    if request.path == "/healthz/":  # a probe that sent a session cookie: still the report
        checks, _ = health_report(database="down")
        return JsonResponse({"status": "unavailable", **checks}, status=503)
    if request.path.startswith("/api/"):
        response = JsonResponse(error.as_dict(), status=error.status)
    else:
        # No context processors: they would read the database (the user, the bell).
        theme = request.COOKIES.get("theme", "system")
        response = HttpResponse(
            render_to_string(
                "503.html",
                {
                    "error": error,
                    "theme": theme if theme in {"system", "light", "dark"} else "system",
                    "path": request.path,
                },
            ),
            status=error.status,
        )
    response["Retry-After"] = str(error.retry_after)
    return response


def _reraise_database_outage(sender, request=None, **kwargs) -> None:
    """``got_request_exception``: let a database error through to the outermost middleware
    (instead of a 500 page that would query the database again)."""
    error = sys.exc_info()[1]
    if isinstance(error, DATABASE_ERRORS) and getattr(request, "database_guarded", False):
        raise error


class DatabaseUnavailableMiddleware:
    """Outermost middleware: a request that failed because the database is unreachable
    answers 503 (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_reraise_database_outage, dispatch_uid="database_outage")

    def __call__(self, request):
        request.database_guarded = True
        try:
            return self.get_response(request)
        except DATABASE_ERRORS as error:
            logger.warning("%s %s: database unavailable (%r)", request.method, request.path, error)
            return database_unavailable_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_ERRORS):
            logger.warning(
                "%s %s: database unavailable (%r)", request.method, request.path, exception
            )
            return database_unavailable_response(request)
        return None


# --- Health ----------------------------------------------------------------------------


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DATABASE_ERRORS as error:
        logger.warning("Health: database unavailable (%r)", error)
        return "down"
    return "ok"


def _check_cache() -> str:
    key = "healthz"
    try:
        cache.set(key, time.time(), timeout=10)
        cache.get(key)
    except CACHE_ERRORS as error:
        logger.warning("Health: cache unavailable (%r)", error)
        return "down"
    return "ok"


def _check_channel_layer() -> str:
    """The Redis behind the pub/sub layer answers a PING (the in-memory layer is always up)."""
    config = settings.CHANNEL_LAYERS.get("default", {})
    hosts = config.get("CONFIG", {}).get("hosts") or []
    if not hosts:
        return "ok"
    import redis

    for host in hosts:
        address = host["address"] if isinstance(host, dict) else host
        client = redis.Redis.from_url(address, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        except (OSError, redis.RedisError) as error:
            logger.warning("Health: channel layer unavailable (%r)", error)
            return "down"
        finally:
            client.close()
    return "ok"


def health_report(*, database: str | None = None) -> tuple[dict[str, str], bool]:
    """``({"database": "ok"|"down", "cache": …, "channel_layer": …}, all ok)``; ``database``
    when it is already known."""
    checks = {
        "database": database or _check_database(),
        "cache": _check_cache(),
        "channel_layer": _check_channel_layer(),
    }
    return checks, all(state == "ok" for state in checks.values())
