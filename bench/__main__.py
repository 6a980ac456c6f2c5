"""``python -m bench [--only discovery,match,notify] [--quick|--smoke] [--backends ...] [--json F]``

Runs every benchmark once per database backend, each backend in its own
subprocess (``bench.run_backend``) with its own ``DATABASE_URL`` so Django's
settings are clean, one backend after the other (this is a 2-core machine).
Prints one table; a full run writes the query plans to ``bench/explain.md``, ``--write``
the table to ``bench/results.md`` (the record of earlier issues), ``--json`` the numbers
for ``bench.report`` (``make bench``: the one report, ``bench/README.md``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.run_backend import BENCHMARKS
from bench.stats import Result, table

HERE = Path(__file__).resolve().parent
BASE_DIR = HERE.parent
BACKENDS = ("sqlite", "postgres")


def _machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _run_backend(backend: str, args, timeout: float) -> dict:
    with tempfile.NamedTemporaryFile(prefix=f"bench-{backend}-", suffix=".json") as out:
        command = [
            sys.executable,
            "-m",
            "bench.run_backend",
            backend,
            "--only",
            ",".join(args.only),
            "--out",
            out.name,
        ]
        if args.quick:
            command.append("--quick")
        if args.smoke:
            command += ["--quick", "--smoke"]
        if args.keep_db:
            command.append("--keep-db")
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1")}
        env.pop("DATABASE_URL", None)
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)  # it drops its database on the way out
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            print(f"[{backend}] stopped after the {timeout:.0f} s limit", flush=True)
        except BaseException:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            raise
        text = Path(out.name).read_text()
    if not text:
        return {"backend": backend, "error": f"exited {process.returncode} without a report"}
    return json.loads(text)


def _notes(reports: list[dict]) -> list[str]:
    notes = []
    for report in reports:
        backend = report["backend"]
        if report.get("skipped"):
            notes.append(f"- {backend}: skipped: {report['skipped']}")
            continue
        meta = report.get("meta", {})
        if meta.get("counts"):
            notes.append(
                f"- {backend} ({meta.get('server_version', '?')}): loaded {meta['counts']} "
                f"in {meta.get('load_seconds')} s; whole backend run {meta.get('seconds')} s"
            )
        if meta.get("notify_skipped"):
            notes.append(f"- {backend}: notify skipped: {meta['notify_skipped']}")
        if "notify_connect_seconds" in meta:
            notes.append(
                f"- {backend}: notify sockets connected in {meta['notify_connect_seconds']} s, "
                f"unexpected socket closes: {meta.get('notify_unexpected_closes')}"
            )
        if meta.get("notify_server_log_excerpt"):
            notes.append(
                f"- {backend}: server log excerpt: `{meta['notify_server_log_excerpt'][:300]}`"
            )
        if report.get("error"):
            last = report["error"].strip().splitlines()[-1]
            notes.append(f"- {backend}: FAILED: {last}")
    return notes


def _explain_md(reports: list[dict]) -> str:
    parts = ["# Query plans of the benchmarked requests (latest full run)", ""]
    parts.append(
        "The slowest SELECTs of one representative request each, as Django logged them; "
        "SQLite: `EXPLAIN QUERY PLAN`, PostgreSQL: `EXPLAIN (ANALYZE, BUFFERS)`. "
        "`ms` is the query's time inside that request."
    )
    for report in reports:
        for name, plans in report.get("explain", {}).items():
            parts += ["", f"## {report['backend']}: {name}"]
            for plan in plans:
                parts += [
                    "",
                    f"{plan['ms']} ms",
                    "",
                    "```sql",
                    plan["sql"][:3000],
                    "```",
                    "",
                    "```",
                    plan["plan"],
                    "```",
                ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="e.g. discovery,match")
    parser.add_argument("--quick", action="store_true", help="1,000 teachers, fewer samples")
    parser.add_argument(
        "--smoke", action="store_true", help="300 teachers, 30 samples (make bench-quick)"
    )
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--keep-db", action="store_true", help="leave the databases behind")
    parser.add_argument(
        "--write", action="store_true", help="write bench/results.md (make bench writes README.md)"
    )
    parser.add_argument("--json", help="write the results and notes here (bench.report reads it)")
    args = parser.parse_args(argv)
    args.only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = set(args.only) - set(BENCHMARKS)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown or not set(backends) <= set(BACKENDS):
        parser.error(f"benchmarks: {', '.join(BENCHMARKS)}; backends: {', '.join(BACKENDS)}")

    started = time.perf_counter()
    timeout = 240.0 if args.quick or args.smoke else 420.0
    reports = [_run_backend(backend, args, timeout) for backend in backends]
    results = [Result(**r) for report in reports for r in report.get("results", [])]
    elapsed = time.perf_counter() - started

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python -m bench" + ("" if len(sys.argv) < 2 else " " + " ".join(sys.argv[1:]))
    text = "\n".join(
        [
            "# SkillLink benchmark results",
            "",
            f"Measured {when} on {_machine()}; `DEBUG=1 {command}` took {elapsed:.0f} s.",
            "",
            "How it is measured (details in each module's docstring, `bench/*.py`):",
            "",
            "- **discovery, match, booking**: server time of one request handled "
            "in-process through Django's test `Client` (no network; the database "
            "connection stays open between requests), after warm-up; for match and "
            "booking every request comes from a different learner. Notes: `CPU` is "
            "this process's CPU time per request (Python, plus SQLite's own work; not "
            "PostgreSQL's), `SQL` the time Django logged for its queries (1 ms "
            "resolution; on PostgreSQL round trips included).",
            "- **notify**: two uvicorn processes (DEBUG off) on Redis pub/sub, loopback; from just "
            "before `POST /api/bookings/` is written to server A until the teacher's "
            "socket on server B receives the `notification` frame; lost = not within 5 s.",
            "- `load avg` is the 1-minute load average before/after the benchmark: this "
            "2-core machine is shared, and above ~2 every wall-clock number is inflated.",
            "- Data: 10,000 teachers over 50 skills, 200,000 slots in the next 60 days "
            '(25% for "any of my skills"), 2,000 learners with ~30,000 active and '
            "~6,000 inactive bookings; see `bench/data.py`. On PostgreSQL the loader then "
            "runs `VACUUM ANALYZE`, as autovacuum would on a live server (this machine's "
            "server runs with autovacuum off).",
            "",
            table(results),
            "",
            *_notes(reports),
            "",
        ]
    )
    print()
    print(text)
    full = set(args.only) == set(BENCHMARKS) and set(backends) == set(BACKENDS)
    if full and not (args.quick or args.smoke):
        (HERE / "explain.md").write_text(_explain_md(reports))
        print("Query plans written to bench/explain.md.")
    if args.write:
        (HERE / "results.md").write_text(text)
        print("Written to bench/results.md.")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "results": [  # percentiles, not the samples (results.json stays small)
                        {
                            **{k: v for k, v in r.to_json().items() if k != "samples_ms"},
                            "n": r.n,
                            "p50": r.p(50),
                            "p95": r.p(95),
                            "p99": r.p(99),
                            "max": max(r.samples_ms) if r.samples_ms else None,
                            "pass": r.passed,
                        }
                        for r in results
                    ],
                    "notes": _notes(reports),
                    "errors": [r["error"][-2000:] for r in reports if r.get("error")],
                    "seconds": round(elapsed, 1),
                }
            )
        )
    return 1 if any(r.get("error") for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
