"""skilllink.db and the database settings: PostgreSQL timestamps read by psycopg's C loader give
Django's values; SQLite runs with a write-ahead log."""

import datetime

import pytest
from django.db import connection

from skilllink.db import UtcTimestamptzLoader, fast_timestamps_install
from tests.conftest import skip_unless_postgres

pytestmark = pytest.mark.django_db

SAMPLES = [
    ("2026-03-29 01:30:00.123456+02", datetime.datetime(2026, 3, 28, 23, 30, 0, 123456)),
    ("2026-10-25 02:59:59-11:30", datetime.datetime(2026, 10, 25, 14, 29, 59)),
    ("1999-12-31 23:59:59.999999+00", datetime.datetime(1999, 12, 31, 23, 59, 59, 999999)),
    ("0044-03-15 12:00:00+00", datetime.datetime(44, 3, 15, 12, 0)),
]


def _read(texts: list[str]) -> list:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join("%s::timestamptz" for _ in texts),
            texts,
        )
        return list(cursor.fetchone())


def test_connections_read_timestamps_with_the_c_loader_and_get_utc_values():
    skip_unless_postgres()
    connection.ensure_connection()
    from psycopg.pq import Format

    oid = connection.connection.adapters.types["timestamptz"].oid
    assert connection.connection.adapters.get_loader(oid, Format.TEXT) is UtcTimestamptzLoader
    values = _read([text for text, _ in SAMPLES])
    assert values == [expected.replace(tzinfo=datetime.UTC) for _, expected in SAMPLES]
    assert all(value.tzinfo is datetime.UTC for value in values)


def test_same_values_as_djangos_own_loader_through_the_orm():
    """The same rows read with Django's Python loader put back on a cursor."""
    skip_unless_postgres()
    from django.db.backends.postgresql.psycopg_any import register_tzloader

    texts = [text for text, _ in SAMPLES]
    fast = _read(texts)
    with connection.cursor() as cursor:
        register_tzloader(datetime.UTC, cursor.cursor)
        cursor.execute("SELECT " + ", ".join("%s::timestamptz" for _ in texts), texts)
        slow = list(cursor.fetchone())
    assert fast == slow
    assert [value.tzinfo for value in fast] == [value.tzinfo for value in slow]


def test_not_installed_where_it_would_change_values(settings):
    """Another session zone, or a per-database TIME_ZONE: Django's loader stays."""
    skip_unless_postgres()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Australia/Sydney'")
        try:
            assert fast_timestamps_install(connection=connection) is False
        finally:
            cursor.execute("SET TIME ZONE 'UTC'")
    assert fast_timestamps_install(connection=connection) is True


def test_other_databases_are_left_alone():
    if connection.vendor == "postgresql":
        pytest.skip("SQLite-side check")
    assert fast_timestamps_install(connection=connection) is False


def test_fetch_prepares_fixed_reads_on_postgres_and_logs_them():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from skilllink.db import fetch

    sql = "SELECT %s + 1, %s"
    with CaptureQueriesContext(connection) as queries:
        assert fetch(sql, [41, "x"]) == [(42, "x")]
    assert len(queries) == 1
    if connection.vendor != "postgresql":
        return
    assert "41" in queries[0]["sql"]  # logged with its values, as Django logs queries
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = %s",
            ["SELECT $1 + 1, $2"],
        )
        assert cursor.fetchone()[0] == 1


def test_sqlite_files_run_with_a_write_ahead_log_and_normal_syncs():
    """A commit appends to the log instead of syncing the database file twice
    (bench/results-ledger.md); readers and the writer no longer wait for each other."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's journal (the PostgreSQL run has its own write-ahead log)")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 1  # NORMAL
