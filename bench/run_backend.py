"""One database backend in one process: ``python -m bench.run_backend sqlite|postgres``.

Creates the benchmark database (SQLite: a file in a temporary directory;
PostgreSQL: ``skilllink_bench_<pid>``, created and dropped through the ``postgres``
database), points ``DATABASE_URL`` at it *before* Django is set up, migrates,
bulk-loads, runs the chosen benchmarks and writes their results as JSON to
``--out``. The database is removed at the end, also on failure or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

PG_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
# One database per run: two runs at once (a developer's and the lead's, say) must not drop
# each other's database (DROP ... WITH (FORCE) ends every session on it).
PG_BENCH_DB = os.environ.get("BENCH_PG_DATABASE", f"skilllink_bench_{os.getpid()}")
BENCHMARKS = ("discovery", "match", "notify")


def _pg_admin():
    import psycopg

    return psycopg.connect(**PG_ADMIN, connect_timeout=3, autocommit=True)


def pg_reachable() -> str:
    """ "" if PostgreSQL answers, else why not."""
    try:
        with _pg_admin() as conn:
            conn.execute("SELECT 1")
    except Exception as error:
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0]}"
    return ""


def pg_create() -> str:
    from psycopg import sql

    with _pg_admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(PG_BENCH_DB))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_BENCH_DB)))
    return f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DB}"


def pg_drop() -> None:
    from psycopg import sql

    with _pg_admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(PG_BENCH_DB))
        )


def _stamp(backend: str, started: float, message: str) -> None:
    print(f"[{backend} {time.perf_counter() - started:6.1f}s] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_backend")
    parser.add_argument("backend", choices=["sqlite", "postgres"])
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="smaller than --quick (bench-quick)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--keep-db", action="store_true", help="leave the database for inspection")
    args = parser.parse_args(argv)
    only = [name for name in args.only.split(",") if name]
    backend = args.backend
    started = time.perf_counter()
    report: dict = {"backend": backend, "results": [], "explain": {}, "meta": {}}

    # SIGTERM (a timeout in the parent) unwinds through the finally blocks below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    tmpdir = None
    created_pg = False
    try:
        if backend == "sqlite":
            tmpdir = tempfile.mkdtemp(prefix="skilllink-bench-")
            database_url = "sqlite:///" + str(Path(tmpdir, "bench.sqlite3"))  # 4 slashes
        else:
            problem = pg_reachable()
            if problem:
                report["skipped"] = f"PostgreSQL not reachable at 127.0.0.1:5432 ({problem})"
                _stamp(backend, started, report["skipped"])
                return 0
            database_url = pg_create()
            created_pg = True
        os.environ["DATABASE_URL"] = database_url
        os.environ["DJANGO_SETTINGS_MODULE"] = "skilllink.settings"
        os.environ.setdefault("DEBUG", "1")
        # In-process benchmarks use the in-memory layer and cache; notify starts its
        # own servers on Redis.
        os.environ.pop("REDIS_URL", None)

        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from bench import data as bench_data

        call_command("migrate", verbosity=0, interactive=False)
        _stamp(backend, started, "migrated")
        scale = (
            bench_data.SMOKE if args.smoke else bench_data.QUICK if args.quick else bench_data.FULL
        )
        dataset = bench_data.load(scale)
        bench_data.analyze()
        report["meta"].update(
            load_seconds=round(dataset.seconds, 1),
            insert_seconds=dataset.insert_seconds,
            counts=dataset.counts,
            server_version=_server_version(connection),
        )
        _stamp(
            backend,
            started,
            f"loaded {dataset.counts} in {dataset.seconds:.1f}s (inserts: {dataset.insert_seconds})",
        )

        n, warmup = (30, 5) if args.smoke else (60, 10) if args.quick else (200, 20)
        results = []
        for name in BENCHMARKS:
            if name not in only:
                continue
            load_before = os.getloadavg()[0]
            if name == "discovery":
                from bench import discovery

                batch = discovery.run(
                    dataset, backend=backend, n=n, warmup=warmup, explain=report["explain"]
                )
            elif name == "match":
                from bench import match

                batch = match.run(
                    dataset, backend=backend, n=n, warmup=warmup, explain=report["explain"]
                )
            else:
                from bench import notify

                batch = notify.run(
                    dataset,
                    backend=backend,
                    database_url=database_url,
                    plan=notify.SMOKE
                    if args.smoke
                    else notify.QUICK
                    if args.quick
                    else notify.FULL,
                    meta=report["meta"],
                )
            # This machine is shared: the load average says how far to trust the numbers.
            load = f"load avg {load_before:.1f}→{os.getloadavg()[0]:.1f}"
            for result in batch:
                result.notes = f"{result.notes}, {load}" if result.notes else load
            results += batch
            _stamp(backend, started, f"{name} done ({load})")
        report["results"] = [r.to_json() for r in results]
        for r in results:
            _stamp(
                backend, started, f"{r.benchmark}: n={r.n} p50={r.p(50):.1f} p95={r.p(95):.1f} ms"
            )
    except BaseException as error:
        report["error"] = "".join(traceback.format_exception(error))[-4000:]
        print(report["error"], file=sys.stderr, flush=True)
        if not isinstance(error, Exception):
            raise
    finally:
        report["meta"]["seconds"] = round(time.perf_counter() - started, 1)
        Path(args.out).write_text(json.dumps(report))
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if args.keep_db:
            print(f"[{backend}] database kept: {os.environ.get('DATABASE_URL')}", flush=True)
        else:
            if tmpdir:
                shutil.rmtree(tmpdir, ignore_errors=True)
            if created_pg:
                pg_drop()
    return 1 if "error" in report else 0


def _server_version(connection) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            return f"SQLite {cursor.fetchone()[0]}"
        cursor.execute("show server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


if __name__ == "__main__":
    sys.exit(main())
