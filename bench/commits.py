"""``python -m bench.commits --ref REV [--only match] [--rounds N] [--write FILE]``

This tree's in-process request benchmarks (``bench.run_backend``: discovery, match and
booking through Django's test client, 10,000 teachers) beside another commit's, in one
run on one machine. The machine is shared and its speed drifts from hour to hour (the
same code measured 20 ms one day and 30 ms another), so a claim about a change holds as
the ratio to the code before it, measured minutes apart, with the load average beside.

The other commit is checked out with ``git worktree`` into a temporary folder and run
with this virtual environment (its own ``bench/`` code, so ``REV`` must have
``bench.run_backend``, which every commit since issue 4 has). Runs alternate between
the two trees (ABBA over the backends, and rounds repeat it) so a slow minute does not
fall on one side only. Each run loads its own database (SQLite in a temporary folder;
PostgreSQL ``skilllink_bench_<pid>``), as ``python -m bench`` does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.__main__ import _machine
from bench.run_backend import pg_reachable
from bench.stats import Result

BASE_DIR = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(BASE_DIR), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _run(tree: Path, backend: str, only: str, quick: bool) -> tuple[list[Result], str]:
    """One ``bench.run_backend`` in ``tree``: its results and the load average around it."""
    with tempfile.NamedTemporaryFile(prefix="bench-commits-", suffix=".json") as out:
        command = [sys.executable, "-m", "bench.run_backend", backend, "--only", only]
        command += ["--out", out.name] + (["--quick"] if quick else [])
        env = {**os.environ, "DEBUG": "1", "PYTHONPATH": str(tree)}
        env.pop("DATABASE_URL", None)
        # A fixed name per tree would let an older run_backend drop the other's database.
        env["BENCH_PG_DATABASE"] = f"skilllink_bench_commits_{os.getpid()}"
        before = os.getloadavg()[0]
        subprocess.run(command, cwd=tree, env=env, check=False, timeout=900)
        after = os.getloadavg()[0]
        report = json.loads(Path(out.name).read_text() or "{}")
    if report.get("error"):
        raise SystemExit(f"{tree} {backend} failed:\n{report['error']}")
    results = [Result(**row) for row in report.get("results", [])]
    return results, f"{before:.2f}→{after:.2f}"


def _note(result: Result, word: str) -> str:
    """The part of a result's notes that starts with ``word`` (e.g. "CPU", "queries")."""
    for part in result.notes.split(", "):
        if part.startswith(word):
            return part
    return "-"


def _merge(runs: list[list[Result]]) -> dict[tuple[str, str], Result]:
    """Rounds of one tree pooled per (benchmark, backend)."""
    pooled: dict[tuple[str, str], Result] = {}
    for results in runs:
        for r in results:
            key = (r.benchmark, r.backend)
            if key in pooled:
                pooled[key].samples_ms += r.samples_ms
            else:
                pooled[key] = Result(
                    r.benchmark, r.backend, list(r.samples_ms), r.target_p95_ms, r.notes
                )
    return pooled


def report(
    ref: str, ref_sha: str, head_sha: str, sides: dict, loads: list[str], elapsed: float
) -> str:
    before, after = _merge(sides["ref"]), _merge(sides["head"])
    lines = [
        "| benchmark | backend | n | before p50 | before p95 | after p50 | after p95 | after/before p95 | target | after meets it | before: CPU, queries | after: CPU, queries |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
    ]
    for key, new in after.items():
        old = before.get(key)
        if old is None:
            continue
        target = "-" if new.target_p95_ms is None else f"p95 < {new.target_p95_ms:g} ms"
        met = {None: "-", True: "yes", False: "**no**"}[new.passed]
        lines.append(
            f"| {new.benchmark} | {new.backend} | {new.n} | {old.p(50):.1f} | {old.p(95):.1f} | "
            f"{new.p(50):.1f} | {new.p(95):.1f} | **{new.p(95) / old.p(95):.2f}x** | {target} | "
            f"{met} | {_note(old, 'CPU')}, {_note(old, 'queries')} | "
            f"{_note(new, 'CPU')}, {_note(new, 'queries')} |"
        )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"Measured {when} by `python -m bench.commits --ref {ref}` ({elapsed:.0f} s) on "
            f"{_machine()}. Before: `{ref_sha[:10]}`; after: `{head_sha[:10]}`"
            " (this tree, with any uncommitted changes).",
            "",
            "Load average (1 min) around each run, in order: " + "; ".join(loads) + ".",
            "",
            *lines,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.commits", description=__doc__.split("\n\n")[1]
    )
    parser.add_argument("--ref", required=True, help="the commit to compare with (e.g. HEAD~1)")
    parser.add_argument("--only", default="match", help="benchmarks of bench.run_backend")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="1,000 teachers")
    parser.add_argument("--write", help="also write the table to this file")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    if "postgres" in backends and pg_reachable():
        print(f"PostgreSQL not reachable ({pg_reachable()}): SQLite only", flush=True)
        backends.remove("postgres")
    ref_sha, head_sha = _git("rev-parse", args.ref), _git("rev-parse", "HEAD")
    started = time.perf_counter()
    sides: dict[str, list[list[Result]]] = {"ref": [], "head": []}
    loads: list[str] = []
    with tempfile.TemporaryDirectory(prefix="skilllink-ref-") as folder:
        ref_tree = Path(folder) / "tree"
        _git("worktree", "add", "--detach", str(ref_tree), ref_sha)
        try:
            trees = {"ref": ref_tree, "head": BASE_DIR}
            order = ["ref", "head"]
            for round_number in range(args.rounds):
                for backend in backends:
                    for side in order:
                        print(f"== round {round_number + 1}: {side} ({backend})", flush=True)
                        results, load = _run(trees[side], backend, args.only, args.quick)
                        sides[side].append(results)
                        loads.append(f"{side} {backend} {load}")
                    order.reverse()  # ABBA: neither side always runs first
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                _git("worktree", "remove", "--force", str(ref_tree))
    text = report(args.ref, ref_sha, head_sha, sides, loads, time.perf_counter() - started)
    print(text)
    if args.write:
        Path(args.write).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
