"""Database connection tuning that changes no result, only how fast rows are read.

PostgreSQL timestamps: Django (5.2, psycopg 3) reads every ``timestamptz`` through a
loader written in Python (``BaseTzLoader``: psycopg's pure-Python parser, then a
``replace(tzinfo=...)``). A page of 100 slots holds 200 timestamps, and that parsing was
a fifth of the request's CPU time. When the connection's session time zone is UTC (as
Django sets it with ``USE_TZ`` on and no per-database ``TIME_ZONE``), psycopg's C
loader returns exactly the same values, already in ``datetime.timezone.utc``; this module
installs it in Django's place on each new connection.
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from django.db import connection

TIMESTAMPTZ = "timestamptz"


def _c_timestamptz_loader() -> type | None:
    """psycopg's C text loader for timestamptz, or None without the C implementation."""
    try:
        import psycopg
        from psycopg.pq import Format
    except ImportError:
        return None
    if psycopg.pq.__impl__ not in {"c", "binary"}:
        return None
    return psycopg.adapters.get_loader(psycopg.adapters.types[TIMESTAMPTZ].oid, Format.TEXT)


_CLoader = _c_timestamptz_loader()

if _CLoader is not None:
    from psycopg.adapt import Loader

    class UtcTimestamptzLoader(Loader):
        """Django's ``timestamptz`` loader contract (a ``timezone`` attribute, which its
        cursor creation compares) with psycopg's C parser doing the work.

        The C class cannot be subclassed, so each instance forwards to one: ``load`` is
        the C loader's bound method, which psycopg calls directly.
        """

        timezone = datetime.UTC

        def __init__(self, oid: int, context: Any = None):
            super().__init__(oid, context)
            self.load = _CLoader(oid, context).load  # type: ignore[method-assign]

        def load(self, data):  # replaced per instance in __init__
            raise NotImplementedError
else:  # pragma: no cover - psycopg without its C implementation
    UtcTimestamptzLoader = None  # type: ignore[assignment,misc]


def fast_timestamps_install(*, sender: Any = None, connection: Any, **kwargs: Any) -> bool:
    """``connection_created`` receiver: use the C timestamptz loader on this connection
    when it gives Django's values (session zone UTC, times read in UTC). True if installed."""
    if connection.vendor != "postgresql" or UtcTimestamptzLoader is None:
        return False
    if connection.timezone is not datetime.UTC:
        return False
    raw = connection.connection
    if raw.info.parameter_status("TimeZone") != "UTC":
        return False
    adapters = raw.adapters
    oid = adapters.types[TIMESTAMPTZ].oid
    from psycopg.pq import Format

    if adapters.get_loader(oid, Format.TEXT) is not UtcTimestamptzLoader:
        adapters.register_loader(TIMESTAMPTZ, UtcTimestamptzLoader)
    return True


PREPARE_THRESHOLD = 5  # psycopg's default


def _prepared_fetchall(sql: str, params: list[Any]) -> list[tuple]:
    """Run one hot read on PostgreSQL as a prepared statement and return its rows.

    Django's psycopg cursors bind values on the client (the values are written into
    the statement's text), so PostgreSQL parses and plans every statement afresh. For a
    statement whose text never changes (values only as ``%s``), a server-binding cursor
    on the same connection and transaction lets PostgreSQL keep it prepared: it is
    planned for its values for the first five runs, then reuses a plan when that costs
    no more. Logged like any query when Django logs queries (``DEBUG``).
    """
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns preparing off for the connection (for poolers). Only cursors
        # that bind on the server ever prepare, and Django's bind on the client, so
        # this enables it for these reads alone.
        raw.prepare_threshold = PREPARE_THRESHOLD
    started = time.perf_counter()
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        rows = cursor.fetchall()
    if connection.queries_logged:
        connection.queries_log.append(
            {
                "sql": connection.ops.compose_sql(sql, params),
                "time": f"{time.perf_counter() - started:.3f}",
            }
        )
    return rows


def fetch(sql: str, params: list[Any]) -> list[tuple]:
    """Rows of a fixed read (``%s`` placeholders) on a hot path, without the ORM
    assembling and compiling the same statement each time (0.4-0.7 ms of CPU each for
    the matchmaking reads). Prepared on PostgreSQL (``_prepared_fetchall``). Values come
    back as the database adapter gives them: on SQLite, times are text (see
    ``datetime_value``)."""
    if connection.vendor == "postgresql":
        return _prepared_fetchall(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def datetime_value(value: Any) -> datetime.datetime | None:
    """A datetime column read by ``fetch`` (or a cursor) as Django would return it
    (aware, UTC): SQLite gives text, which the ORM converts with this same function."""
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    return value if convert is None else convert(value, None, connection)
