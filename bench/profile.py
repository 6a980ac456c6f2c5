"""Where our chat time goes, per message: one more round of ours under py-spy.

``bench.compare`` calls :func:`profile_ours` for a workload where our p99 is more than
twice the peer's. The round is the same as a measured one (same generator, schedule
and servers); py-spy (``py-spy record --nonblocking --gil --format raw``, 200 samples
a second of the thread holding the GIL) attaches to each worker for the sending time. From the
collapsed stacks it reports, per message sent:

- the workers' sampled CPU time, split by where the innermost frame of each sample
  lives (the WebSocket protocol, Channels, the channel layer, redis-py, psycopg, our
  room code, the event loop...): "self time by component";
- the functions of ours and of the libraries with the most time inclusive of what
  they call.

``--nonblocking`` reads the workers' memory without stopping them, so the profile does
not pause the servers it measures (samples can be slightly torn; fine for a split).
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

RATE = 200  # samples per second
# --gil: only the thread holding the GIL is sampled, so samples count Python CPU time
# (checked: samples / rate came within a few % of the workers' utime+stime from /proc).
# Without it py-spy counts a thread as busy while it waits in the run queue, which on
# this shared machine (load 5-8) tripled the "CPU" and made the event loop look busy.
SPY_OPTIONS = os.environ.get("BENCH_PYSPY_OPTIONS", "--nonblocking --gil").split()
BASE_DIR = Path(__file__).resolve().parent.parent

# Where a frame's file lives -> the component it is counted under (first match wins).
COMPONENTS = (
    ("meetings/", "room consumer and chat writer (meetings/)"),
    ("skilllink/sockets", "socket base, send watchdog (skilllink/sockets.py)"),
    (
        "skilllink/channel_layer",
        "channel layer, our pipelined publish (skilllink/channel_layer.py)",
    ),
    ("skilllink/", "other SkillLink core (skilllink/)"),
    ("channels_redis/", "channels-redis pub/sub layer"),
    ("channels/layers", "Channels in-memory layer"),
    ("channels/", "Channels consumer and dispatch"),
    ("redis/", "redis-py (asyncio client, hiredis parser)"),
    ("psycopg", "psycopg (PostgreSQL driver)"),
    ("uvicorn/protocols/websockets", "uvicorn WebSocket protocol"),
    ("websockets/", "websockets (sans-I/O frames)"),
    ("uvicorn/", "uvicorn (other)"),
    ("asgiref/", "asgiref (sync/async bridges)"),
    ("django/", "Django"),
    ("json", "JSON"),
    ("asyncio/", "asyncio (event loop, tasks, queues)"),
    ("uvloop", "uvloop"),
    ("threading.py", "threads (ORM/sweep thread waits)"),
)

ENTRY_FRAMES = {
    "_run_module_as_main", "_run_code", "<module>", "main", "run", "asyncio_run",
    "Server.run", "Server.serve", "Server._serve", "Server.main_loop", "Runner.run",
    "run_until_complete", "run_forever", "_run_once", "Thread._bootstrap",
    "Thread._bootstrap_inner", "Thread.run", "_worker",
}  # fmt: skip
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def py_spy() -> str | None:
    local = BASE_DIR / ".venv" / "bin" / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def component(path: str) -> str:
    for needle, name in COMPONENTS:
        if needle in path:
            return name
    if "site-packages" in path:
        return "other libraries"
    if "/lib/python" in path:
        return "Python standard library (other)"
    return "other"


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", str(BASE_DIR) + "/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def summarize(raw_files: list[Path], messages: int, top: int = 15) -> dict:
    """Split the collapsed stacks of ``raw_files`` per message sent."""
    self_time: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    total = 0
    for raw in raw_files:
        for line in raw.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = []
            for part in stack.split(";"):
                match = FRAME.match(part.strip())
                if match:
                    frames.append((match["func"], match["file"]))
            if not frames:
                continue
            total += n
            func, path = frames[-1]
            self_time[component(path)] += n
            leaves[f"{func} ({_short(path)})"] += n
            for name in {f"{f} ({_short(p)})" for f, p in frames}:
                inclusive[name] += n
    per_msg_us = 1e6 / RATE / max(1, messages)  # one sample ~ 1/RATE s of one thread's CPU

    def rows(counter: collections.Counter, limit: int) -> list[dict]:
        return [
            {"what": name, "us_per_msg": round(n * per_msg_us, 1), "share": round(n / total, 3)}
            for name, n in counter.most_common(limit)
        ]

    # Entry frames (the interpreter's, uvicorn's server, the event loop's run, thread
    # starts) hold everything beneath them and say nothing about where the time goes.
    interesting = collections.Counter(
        {
            name: n
            for name, n in inclusive.items()
            if name.split(" (", 1)[0] not in ENTRY_FRAMES and n < total * 0.98
        }
    )
    return {
        "samples": total,
        "rate_hz": RATE,
        "messages": messages,
        "sampled_cpu_ms_per_msg": round(total * per_msg_us / 1000, 3),
        "self_by_component": rows(self_time, 20),
        "self_by_function": rows(leaves, top),
        "inclusive_by_function": rows(interesting, top),
    }


def profile_ours(workload, rows, *, database_url, secret_key, prefix, db_name) -> dict:
    """One round of ours under py-spy; the summary (or ``{"error": ...}``)."""
    from bench.chat import run_generator
    from bench.compare import OURS, run_round, started

    spy = py_spy()
    if spy is None:
        return {"error": "py-spy is not installed (requirements-dev.txt)"}
    directory = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    spies: list[subprocess.Popen] = []

    async def attach(pids: list[int]) -> None:
        for pid in pids:
            spies.append(
                subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--pid",
                        str(pid),
                        *SPY_OPTIONS,
                        "--rate",
                        str(RATE),
                        "--format",
                        "raw",
                        "--output",
                        str(directory / f"{pid}.txt"),
                        "--duration",
                        str(max(1, int(workload.seconds))),  # the sending time only
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        await asyncio.sleep(0)

    try:
        with started(
            OURS, workload, database_url=database_url, secret_key=secret_key, prefix=prefix
        ) as processes:
            result = run_generator(
                run_round(
                    OURS, workload, processes, rows, seed=99, db_name=db_name, on_sending=attach
                )
            )
            problems = []
            for process in spies:
                try:
                    _, err = process.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    process.send_signal(signal.SIGINT)
                    _, err = process.communicate(timeout=10)
                if process.returncode:
                    problems.append(err.decode(errors="replace").strip()[-300:])
        files = [f for f in directory.glob("*.txt") if f.stat().st_size]
        keep = os.environ.get("BENCH_PROFILE_KEEP")  # a folder for the raw collapsed stacks
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for f in files:
                shutil.copy(f, Path(keep) / f"{workload.name}-{f.name}")
        if not files:
            return {"error": "py-spy wrote nothing: " + "; ".join(problems)}
        summary = summarize(files, result["sent"])
        summary["round"] = {
            "sent": result["sent"],
            "lost": result["lost"],
            "p99_ms": round(
                sorted(result["latencies"])[int(0.99 * (len(result["latencies"]) - 1))], 2
            )
            if result["latencies"]
            else None,
            "server_cpu_ms_per_msg": round(
                result["server_cpu_seconds"] * 1000 / max(1, result["sent"]), 3
            ),
        }
        return summary
    finally:
        for process in spies:
            if process.poll() is None:
                process.kill()
        shutil.rmtree(directory, ignore_errors=True)


def text(summary: dict, *, limit: int = 10) -> str:
    """The summary as markdown."""
    if "error" in summary:
        return f"Profile not taken: {summary['error']}."
    lines = [
        f"py-spy, {summary['rate_hz']} Hz, {summary['samples']} samples over "
        f"{summary['messages']} messages: {summary['sampled_cpu_ms_per_msg']} ms of sampled "
        f"worker CPU per message (the round: {summary['round']}).",
        "",
        "| self time by component | µs/msg | share |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| {row['what']} | {row['us_per_msg']} | {row['share']:.0%} |"
        for row in summary["self_by_component"][:limit]
    ]
    lines += ["", "| most time, inclusive of callees | µs/msg | share |", "| --- | ---: | ---: |"]
    lines += [
        f"| `{row['what']}` | {row['us_per_msg']} | {row['share']:.0%} |"
        for row in summary["inclusive_by_function"][:limit]
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # summarize saved raw files: python -m bench.profile N FILE...
    import json
    import sys

    print(json.dumps(summarize([Path(p) for p in sys.argv[2:]], int(sys.argv[1])), indent=1))
    os._exit(0)
