"""Chat side by side with a Socket.IO peer, in the same run (issue 16).

``DEBUG=1 .venv/bin/python -m bench.compare [--quick] [--rounds N] [--profile auto|always|never]``

On a shared 2-core machine an absolute latency proves little (the 200-room p99 of the
same code ranged from 7.5 to 88.6 ms over twelve runs); a ratio against a peer doing
the same work, measured minutes apart under the same load, holds better. The peer is
``bench/peers/socketio/server.js`` (Node.js, Socket.IO 4, ``pg``, and with two workers
``@socket.io/redis-adapter``; installed by ``make bench-peer`` with ``npm ci``): it
authenticates each socket with the same JWT, checks the sender belongs to the room,
saves each message to the same ``meetings_chatmessage`` table before broadcasting it,
then broadcasts it to the room (see its header for the details).

Workloads (each room: a teacher and a learner, each sending 5 msg/s, so 10 msg/s a room):

- 50 rooms on one worker each: ours is one ``python -m skilllink.serve`` process with
  the in-memory channel layer (what one process runs without ``REDIS_URL``); the peer
  one ``node`` process with Socket.IO's default in-memory adapter.
- 200 rooms on two workers each: ours on the Redis pub/sub layer, the peer with its
  Redis adapter; the teacher's socket is on worker A and the learner's on worker B,
  so every message crosses processes through Redis on both systems.

One asyncio load generator (uvloop) drives both with the same schedule: the same
rooms, the same send times (a seeded phase per sender, on an absolute clock) and the
same texts. To ours it sends plain WebSocket JSON frames (``bench.wsclient``); to the
peer Engine.IO v4 / Socket.IO v5 frames (``bench.sioclient``: ``40`` connect with the
auth payload, ``42[...]`` events, ``2`` pings answered with ``3``). Latency is from just
before a frame is written to the other participant's socket receiving the message;
messages sent in the first 2 s count for loss only. Lost: not received 10 s after the
senders stopped.

Rounds alternate the order (ours, peer; then peer, ours; ...), each with fresh server
processes, and the samples of all rounds are pooled per system. Reported per system:
p50/p95/p99/max, lost, error frames, unexpected closes, server CPU per message (the
worker processes' utime+stime over the sending and draining time, divided by the
messages sent), database CPU per message (the PostgreSQL backends serving this
benchmark's database), resident memory per connected socket, and our figure as a ratio
to the peer's. Where our p99 is more than twice the peer's (``--profile auto``, not in
a quick run; ``always`` profiles every workload), one more round of ours runs under py-spy (``bench.profile``) and the report
says where the time goes per message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from bench.chat import (
    CONNECT_CONCURRENCY,
    DRAIN,
    PER_SIDE_RATE,
    SERVER_ENV,
    WARMUP,
    cpu_seconds,
    database,
    pg_reachable,
    prepare,
    run_generator,
)
from bench.stats import percentile

BASE_DIR = Path(__file__).resolve().parent.parent
PEER_DIR = BASE_DIR / "bench" / "peers" / "socketio"
REDIS_URL = os.environ.get("BENCH_CHAT_REDIS_URL", "redis://127.0.0.1:6379/6")
RATIO_TARGET = 2.0
OURS, PEER = "skilllink", "socketio"
LABELS = {
    OURS: "SkillLink (uvicorn + Channels)",
    PEER: "Socket.IO 4 peer (Node.js)",
}


@dataclass(frozen=True)
class Workload:
    name: str
    rooms: int
    workers: int
    seconds: float

    @property
    def label(self) -> str:
        return f"{self.rooms} rooms x 10 msg/s, {self.workers} worker{'s' * (self.workers > 1)}"


FULL = (Workload("one-worker", 50, 1, 20.0), Workload("two-workers", 200, 2, 20.0))
# make bench-quick: both layouts, fewer rooms on two workers, a few seconds each.
QUICK = (Workload("one-worker", 50, 1, 3.0), Workload("two-workers", 100, 2, 3.0))


# --- Servers ------------------------------------------------------------------------------


def peer_installed() -> str:
    """'' when the peer can run, else why not."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (PEER_DIR / "node_modules" / "socket.io").is_dir():
        return "the peer's packages are missing: run `make bench-peer` (npm ci)"
    return ""


class PeerServer:
    """One ``node server.js`` process on a free port (its own process group)."""

    def __init__(self, *, database_url: str, secret_key: str, redis_url: str | None, prefix: str):
        from tests.live_server import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix=f"peer-{self.port}-", suffix=".log", delete=False
        )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATABASE_URL": database_url,
            "SECRET_KEY": secret_key,
            "CHAT_RATE_LIMIT": SERVER_ENV["CHAT_RATE_LIMIT"],
            "NODE_ENV": "production",
        }
        if os.environ.get("PEER_PING_INTERVAL_MS"):  # to see the generator answer pings
            env["PING_INTERVAL_MS"] = os.environ["PEER_PING_INTERVAL_MS"]
        if redis_url:
            env["REDIS_URL"] = redis_url
            env["REDIS_PREFIX"] = prefix
        self.process = subprocess.Popen(
            ["node", "server.js"],
            cwd=PEER_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        try:
            return Path(self._log.name).read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the peer exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz/", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the peer on port {self.port} did not start:\n{self.output()}")

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        if not self._log.closed:
            self._log.close()
            with contextlib.suppress(OSError):
                os.unlink(self._log.name)


@contextlib.contextmanager
def started(system: str, workload: Workload, *, database_url: str, secret_key: str, prefix: str):
    """Start ``workload.workers`` processes of ``system``; yield them; stop them on exit."""
    from bench.servers import PRODUCTION_ENV
    from tests.live_server import Server

    redis_url = REDIS_URL if workload.workers > 1 else None
    processes = []
    try:
        for _ in range(workload.workers):
            if system == OURS:
                extra = {**PRODUCTION_ENV, **SERVER_ENV}
                if redis_url:
                    extra["REDIS_PREFIX"] = prefix
                processes.append(
                    Server(
                        database_url=database_url,
                        secret_key=secret_key,
                        redis_url=redis_url,
                        extra_env=extra,
                    )
                )
            else:
                processes.append(
                    PeerServer(
                        database_url=database_url,
                        secret_key=secret_key,
                        redis_url=redis_url,
                        prefix=f"{prefix}-sio",
                    )
                )
        for process in processes:
            process.wait_ready(timeout=30.0)
        yield processes
    finally:
        for process in processes:
            process.stop()


# --- Process measurements -------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def backend_pids(database_name: str) -> list[int]:
    """The PostgreSQL server processes serving ``database_name`` (their CPU is the
    database's share of the work; both systems write the same rows)."""
    import psycopg

    from bench.chat import PG_ADMIN

    with psycopg.connect(**PG_ADMIN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [database_name],
        ).fetchall()
    return [pid for (pid,) in rows]


# --- Load generator ---------------------------------------------------------------------


class Run:
    """One system, one round: sockets, schedule, arrivals."""

    def __init__(self, system: str, workload: Workload, schedule_seed: int):
        self.system = system
        self.workload = workload
        self.seed = schedule_seed
        self.tag = secrets.token_hex(3)
        self.sent: dict[str, float] = {}
        self.measured: set[str] = set()
        self.received: dict[str, float] = {}
        self.errors: list[str] = []
        self.lag: list[float] = []
        self.unexpected_closes = 0
        self.closing = False

    def handler(self, side: str):
        sent, received, errors = self.sent, self.received, self.errors

        def on_frame(frame: dict) -> None:
            now = time.perf_counter()
            kind = frame.get("type")
            if kind == "chat.message":
                mid = frame["message"]["text"].split(" ", 1)[0]
                if mid[0] != side and mid in sent and mid not in received:
                    received[mid] = now
            elif kind == "error":
                errors.append(str(frame.get("code") or frame))

        return on_frame

    def attach(self, socket, side: str) -> None:
        on_frame = self.handler(side)
        if self.system == OURS:
            for raw in socket.backlog:
                on_frame(orjson.loads(raw))
            socket.backlog.clear()
            socket.on_text = lambda raw: on_frame(orjson.loads(raw))
        else:
            for frame in socket.frames:
                on_frame(frame)
            socket.frames.clear()
            socket.on_frame = on_frame

        def on_closed(_future) -> None:
            if not self.closing:
                self.unexpected_closes += 1

        socket.closed.add_done_callback(on_closed)

    async def sender(self, socket, room: int, side: str, t0: float) -> None:
        interval = 1.0 / PER_SIDE_RATE
        # The same phase for the same sender on both systems: the same schedule.
        phase = random.Random(f"{self.seed}:{room}:{side}").random() * interval
        count = int(self.workload.seconds * PER_SIDE_RATE)
        ours = self.system == OURS
        for k in range(count):
            due = t0 + phase + k * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            mid = f"{side}{self.tag}:{room}.{k}"
            now = time.perf_counter()
            self.lag.append(max(0.0, now - due) * 1000)
            self.sent[mid] = now
            if now - t0 >= WARMUP:
                self.measured.add(mid)
            text = f"{mid} {now:.6f}"
            try:
                if ours:
                    socket.send(orjson.dumps({"type": "chat.send", "text": text}).decode())
                else:
                    socket.emit("chat.send", {"text": text})
            except Exception as error:  # a closed socket: the rest is lost
                self.errors.append(f"send: {type(error).__name__}")
                return


async def _connect(system: str, server, row: dict, who: str, sem: asyncio.Semaphore):
    async with sem:
        if system == OURS:
            from bench import wsclient

            url = f"{server.ws_url}/ws/meetings/{row['booking']}/?token={row[who]['token']}"
            socket = await wsclient.connect(url, timeout=60)
            first = orjson.loads(await socket.first_text(60))
        else:
            from bench import sioclient

            auth = {"token": row[who]["token"], "booking": row["booking"]}
            socket = await sioclient.connect(server.ws_url, auth, timeout=60)
            first = await socket.first_frame(60)
        if first.get("type") != "room":
            raise RuntimeError(f"{system}: unexpected first frame {str(first)[:200]}")
        return socket


async def run_round(
    system: str,
    workload: Workload,
    processes,
    rows: list[dict],
    *,
    seed: int,
    db_name: str,
    on_sending=None,
) -> dict:
    run = Run(system, workload, seed)
    pids = [p.process.pid for p in processes]
    rss_before = [rss_kb(pid) for pid in pids]
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
    chosen = rows[: workload.rooms]
    placement = []  # (room index, side, socket job)
    for i, row in enumerate(chosen):
        for side, who, server in (
            ("t", "teacher", processes[0]),
            ("l", "learner", processes[-1]),  # the other worker when there are two
        ):
            placement.append((i, side, _connect(system, server, row, who, sem)))
    connect_started = time.perf_counter()
    sockets = await asyncio.gather(*(job for _, _, job in placement))
    connect_seconds = time.perf_counter() - connect_started
    for (_, side, _), socket in zip(placement, sockets, strict=True):
        run.attach(socket, side)
    await asyncio.sleep(1.0)  # presence frames and pool warm-up settle
    rss_after = [rss_kb(pid) for pid in pids]
    db_pids = await asyncio.to_thread(backend_pids, db_name)
    db_before = {pid: cpu_seconds(pid) for pid in db_pids}
    cpu_before = [cpu_seconds(pid) for pid in pids]
    own_before = time.process_time()
    wall_before = time.perf_counter()
    t0 = time.perf_counter() + 0.1
    senders = [
        asyncio.create_task(run.sender(socket, room, side, t0))
        for (room, side, _), socket in zip(placement, sockets, strict=True)
    ]
    if on_sending is not None:
        await on_sending(pids)
    await asyncio.gather(*senders)
    send_wall = time.perf_counter() - wall_before
    drain_until = time.perf_counter() + DRAIN
    while len(run.received) < len(run.sent) and time.perf_counter() < drain_until:
        await asyncio.sleep(0.05)
    cpu = sum(cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True))
    db_now = await asyncio.to_thread(backend_pids, db_name)
    db_cpu = sum(cpu_seconds(pid) - db_before.get(pid, 0.0) for pid in db_now)
    own_cpu = (time.process_time() - own_before) / (time.perf_counter() - wall_before)
    run.closing = True
    pings = sum(getattr(s, "pings", 0) for s in sockets)  # Engine.IO pings answered
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    latencies = [
        (run.received[mid] - run.sent[mid]) * 1000 for mid in run.measured if mid in run.received
    ]
    sent = len(run.sent)
    per_worker_sockets = len(sockets) / len(pids)
    return {
        "system": system,
        "sockets": len(sockets),
        "connect_seconds": round(connect_seconds, 2),
        "sent": sent,
        "received": len(run.received),
        "lost": sent - len(run.received),
        "latencies": latencies,
        "rate": sent / send_wall,
        "server_cpu_seconds": cpu,
        "db_cpu_seconds": db_cpu,
        "generator_cpu": own_cpu,
        "lag_p99": percentile(run.lag, 99),
        "errors": sorted(set(run.errors))[:5],
        "error_count": len(run.errors),
        "unexpected_closes": run.unexpected_closes,
        "pings_answered": pings,
        "rss_mb_before": [round(kb / 1024, 1) for kb in rss_before],
        "rss_kb_per_socket": sum(
            (after - before) / per_worker_sockets
            for before, after in zip(rss_before, rss_after, strict=True)
        )
        / len(pids),
    }


# --- Pooling and the table ------------------------------------------------------------------


def summarize(rounds: list[dict]) -> dict:
    """Pool one system's rounds of one workload."""
    latencies = [x for r in rounds for x in r["latencies"]]
    sent = sum(r["sent"] for r in rounds)

    def ms(value: float) -> float:
        return round(value, 2)

    return {
        "rounds": len(rounds),
        "sockets": rounds[0]["sockets"] if rounds else 0,
        "n": len(latencies),
        "p50": ms(percentile(latencies, 50)),
        "p95": ms(percentile(latencies, 95)),
        "p99": ms(percentile(latencies, 99)),
        "max": ms(max(latencies)) if latencies else float("nan"),
        "sent": sent,
        "lost": sum(r["lost"] for r in rounds),
        "error_frames": sum(r["error_count"] for r in rounds),
        "errors": sorted({e for r in rounds for e in r["errors"]})[:5],
        "unexpected_closes": sum(r["unexpected_closes"] for r in rounds),
        "pings_answered": sum(r.get("pings_answered", 0) for r in rounds),
        "rate": round(sum(r["rate"] for r in rounds) / max(1, len(rounds))),
        "server_cpu_ms_per_msg": ms(
            sum(r["server_cpu_seconds"] for r in rounds) * 1000 / max(1, sent)
        ),
        "db_cpu_ms_per_msg": ms(sum(r["db_cpu_seconds"] for r in rounds) * 1000 / max(1, sent)),
        "rss_mb_before": rounds[0]["rss_mb_before"] if rounds else [],
        "rss_kb_per_socket": round(
            sum(r["rss_kb_per_socket"] for r in rounds) / max(1, len(rounds)), 1
        ),
        "connect_seconds": max((r["connect_seconds"] for r in rounds), default=0.0),
        "generator_cpu": round(max((r["generator_cpu"] for r in rounds), default=0.0), 2),
        "lag_p99": ms(max((r["lag_p99"] for r in rounds), default=0.0)),
    }


def _ratio(ours: float, peer: float) -> float:
    if not peer or peer != peer or ours != ours:
        return float("nan")
    return round(ours / peer, 2)


def compare(workload: Workload, ours: dict, peer: dict) -> dict:
    ratios = {
        key: _ratio(ours[key], peer[key])
        for key in ("p50", "p95", "p99", "max", "server_cpu_ms_per_msg", "db_cpu_ms_per_msg")
    }
    clean = all(
        s["lost"] == 0 and s["error_frames"] == 0 and s["unexpected_closes"] == 0 and s["n"]
        for s in (ours, peer)
    )
    return {
        "workload": asdict(workload),
        "label": workload.label,
        OURS: ours,
        PEER: peer,
        "ratio": ratios,
        "clean": clean,
        "pass": clean and ratios["p99"] <= RATIO_TARGET,
        "target": f"0 lost on both; our p99 <= {RATIO_TARGET:g}x the peer's",
    }


def _f(value, digits: int = 1) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        return f"{value:.{digits}f}" if value < 100 else f"{value:.0f}"
    return str(value)


def table(results: list[dict]) -> str:
    lines = [
        "| workload | system | n | p50 ms | p95 ms | p99 ms | max ms | lost | errors | "
        "server CPU ms/msg | DB CPU ms/msg | RSS KB/socket | msg/s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        for system in (OURS, PEER):
            s = result[system]
            lines.append(
                f"| {result['label']} | {LABELS[system]} | {s['n']} | {_f(s['p50'])} | "
                f"{_f(s['p95'])} | {_f(s['p99'])} | {_f(s['max'])} | {s['lost']} | "
                f"{s['error_frames'] + s['unexpected_closes']} | "
                f"{_f(s['server_cpu_ms_per_msg'], 3)} | {_f(s['db_cpu_ms_per_msg'], 3)} | "
                f"{_f(s['rss_kb_per_socket'])} | {s['rate']} |"
            )
        r = result["ratio"]
        lines.append(
            f"| {result['label']} | **ours / peer** | | {_f(r['p50'], 2)}x | {_f(r['p95'], 2)}x | "
            f"**{_f(r['p99'], 2)}x** | {_f(r['max'], 2)}x | | | "
            f"{_f(r['server_cpu_ms_per_msg'], 2)}x | {_f(r['db_cpu_ms_per_msg'], 2)}x | | |"
        )
    return "\n".join(lines)


# --- Entry points ---------------------------------------------------------------------------


def run(
    quick: bool = False,
    *,
    rounds: int | None = None,
    profile: str = "auto",
    workloads: tuple[Workload, ...] | None = None,
    verbose: bool = True,
) -> dict:
    """Both systems on every workload. Returns ``{"results": [...], "skipped": reason?}``."""
    from bench import servers

    def say(message: str) -> None:
        if verbose:
            print(f"[compare] {message}", flush=True)

    problem = peer_installed()
    if not problem and not pg_reachable():
        problem = "PostgreSQL is not reachable at 127.0.0.1:5432 (both systems write chat there)"
    if not problem and not servers.redis_reachable(REDIS_URL):
        problem = f"Redis is not reachable at {REDIS_URL}"
    if problem:
        say(f"skipped: {problem}")
        return {"results": [], "skipped": problem}
    workloads = workloads or (QUICK if quick else FULL)
    rounds = rounds or (1 if quick else 2)
    secret_key = secrets.token_urlsafe(40)
    prefix = f"skilllink-compare-{os.getpid()}-{secrets.token_hex(4)}"
    results = []
    with database("postgres", tag="compare") as (_backend, database_url):
        db_name = database_url.rsplit("/", 1)[1]
        try:
            for workload in workloads:
                prepared = time.perf_counter()
                rows = prepare(database_url, secret_key, workload.rooms * rounds)
                say(
                    f"{workload.label}: {len(rows)} bookings in {time.perf_counter() - prepared:.1f} s"
                )
                per_system: dict[str, list[dict]] = {OURS: [], PEER: []}
                for k in range(rounds):
                    order = (OURS, PEER) if k % 2 == 0 else (PEER, OURS)
                    # Fresh rooms per round (both systems of a round share them: same history).
                    round_rows = rows[k * workload.rooms : (k + 1) * workload.rooms]
                    for system in order:
                        with started(
                            system,
                            workload,
                            database_url=database_url,
                            secret_key=secret_key,
                            prefix=prefix,
                        ) as processes:
                            result = run_generator(
                                run_round(
                                    system, workload, processes, round_rows, seed=k, db_name=db_name
                                )
                            )
                            logs = "\n".join(p.output() for p in processes)
                        result["log_errors"] = logs.count("Traceback") + logs.count("Error:")
                        per_system[system].append(result)
                        say(
                            f"  round {k + 1} {system}: p50 {percentile(result['latencies'], 50):.1f} "
                            f"p99 {percentile(result['latencies'], 99):.1f} ms, lost {result['lost']}, "
                            f"CPU {result['server_cpu_seconds'] * 1000 / max(1, result['sent']):.3f} ms/msg"
                        )
                        if result["log_errors"]:
                            say(f"  {system} server logs:\n{logs[-3000:]}")
                entry = compare(workload, summarize(per_system[OURS]), summarize(per_system[PEER]))
                slow = not entry["ratio"]["p99"] <= RATIO_TARGET
                if profile == "always" or (profile == "auto" and slow and not quick):
                    from bench import profile as profiler

                    say(
                        f"{workload.label}: our p99 is {entry['ratio']['p99']}x the peer's: profiling"
                    )
                    rows_more = prepare(database_url, secret_key, workload.rooms)
                    entry["profile"] = profiler.profile_ours(
                        workload,
                        rows_more,
                        database_url=database_url,
                        secret_key=secret_key,
                        prefix=prefix,
                        db_name=db_name,
                    )
                results.append(entry)
        finally:
            servers.redis_cleanup(REDIS_URL, prefix)
    return {"results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare")
    parser.add_argument("--quick", action="store_true", help="3 s per system and workload")
    parser.add_argument("--rounds", type=int, help="rounds per workload (default 2; quick 1)")
    parser.add_argument("--seconds", type=float, help="sending time per round")
    parser.add_argument("--rooms", type=int, help="rooms per workload (sizing runs)")
    parser.add_argument("--only", help="one-worker,two-workers")
    parser.add_argument(
        "--profile",
        choices=["auto", "always", "never"],
        default="auto",
        help="py-spy round of ours: auto = where our p99 > 2x the peer's (not with --quick)",
    )
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    workloads = QUICK if args.quick else FULL
    if args.only:
        workloads = tuple(w for w in workloads if w.name in args.only.split(","))
    if args.seconds or args.rooms:
        workloads = tuple(
            Workload(w.name, args.rooms or w.rooms, w.workers, args.seconds or w.seconds)
            for w in workloads
        )
    report = run(args.quick, rounds=args.rounds, profile=args.profile, workloads=workloads)
    if report.get("skipped"):
        print(f"skipped: {report['skipped']}")
        if args.json:
            Path(args.json).write_text(json.dumps(report))
        return 1
    print()
    print(table(report["results"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0 if all(r["clean"] for r in report["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
