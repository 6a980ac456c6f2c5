"""Issue 5 (a): meeting-room chat latency and loss across two server processes (uvicorn) on Redis.

``DEBUG=1 .venv/bin/python -m bench.chat [--quick] [--db postgres|sqlite]``

A fresh database (PostgreSQL ``skilllink_chatbench_<pid>`` when it answers on
127.0.0.1:5432, else a temporary SQLite file) is migrated and loaded with N
scheduled bookings whose start is ~5 minutes away (so their rooms are open), each
with its own teacher and learner, through the real services (``slot_create``,
``booking_request``, ``booking_accept``). The preparation runs in a child process
(``--prepare``) so ``run()`` never touches the caller's Django setup.

Two servers (``bench.servers``: uvicorn, DEBUG off) share that database and Redis
(``REDIS_URL`` → the pub/sub layer, with a prefix unique to this run), with
``CHAT_RATE_LIMIT`` raised so the limiter never refuses benchmark traffic. In each
room the teacher connects to server A and the learner to server B
(``/ws/meetings/<id>/?token=<JWT>``), so every message crosses processes.

Each side sends ``chat.send`` at a fixed rate (5/s per side = 10/s per room) on an
absolute schedule with a random phase. The text carries a unique id and the send
timestamp; latency is from just before the frame is written to the *other*
participant's socket receiving the matching ``chat.message``. Messages sent in the
first ``WARMUP`` seconds count for loss but not for latency. After the senders stop,
the generator waits up to ``DRAIN`` seconds; whatever the other side has not
received by then is lost. The load generator is one asyncio process on uvloop
with a minimal WebSocket client (``bench.wsclient``: frames handled as they arrive,
no task or future per frame), since its CPU is taken from the servers on this
machine; its own CPU and schedule lag are reported so a saturated generator is visible.
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
from collections.abc import Iterator
from pathlib import Path

import orjson

from bench.stats import percentile

BASE_DIR = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_CHAT_REDIS_URL", "redis://127.0.0.1:6379/6")
PG_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
# The servers' environment for the run: the limiter must not shape benchmark traffic,
# and a persistent DB connection per worker thread is the normal deployment setting.
SERVER_ENV = {
    "CHAT_RATE_LIMIT": "100000/10",
    "DATABASE_CONN_MAX_AGE": os.environ.get("BENCH_CONN_MAX_AGE", "60"),
}
TARGET_P99_MS = 15.0
PER_SIDE_RATE = 5.0  # messages per second from each participant: 10/s per room
WARMUP = 2.0
DRAIN = 10.0
CONNECT_CONCURRENCY = 20
CASES_FULL = ((50, 20.0), (200, 20.0))
CASES_QUICK = ((50, 10.0),)


# --- Database: create, prepare (in a child process), drop ------------------------------


def pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(**PG_ADMIN, connect_timeout=2, autocommit=True) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


@contextlib.contextmanager
def database(kind: str = "auto", tag: str = "chat") -> Iterator[tuple[str, str]]:
    """Yield ``(backend, DATABASE_URL)`` of an empty database; it is removed on exit."""
    if kind == "auto":
        kind = "postgres" if pg_reachable() else "sqlite"
    if kind == "postgres":
        import psycopg
        from psycopg import sql

        name = f"skilllink_{tag}bench_{os.getpid()}"
        ident = sql.Identifier(name)
        with psycopg.connect(**PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        try:
            yield "postgres", f"postgres://postgres@127.0.0.1:5432/{name}"
        finally:
            with psycopg.connect(**PG_ADMIN, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
    else:
        directory = tempfile.mkdtemp(prefix=f"skilllink-{tag}bench-")
        try:
            yield "sqlite", "sqlite:///" + str(Path(directory, "bench.sqlite3"))
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def prepare(database_url: str, secret_key: str, pairs: int, *, sessions: bool = False) -> list:
    """Migrate and load ``pairs`` scheduled bookings in the room window (child process).

    Returns ``[{"booking", "teacher": {"id", "token", "sessionid"?}, "learner": {...}}]``.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "skilllink.settings",
        "DEBUG": "1",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secret_key,
    }
    env.pop("REDIS_URL", None)  # the in-memory layer: the moves' notifications go nowhere
    with tempfile.NamedTemporaryFile(prefix="bench-chat-prep-", suffix=".json") as out:
        command = [sys.executable, "-m", "bench.chat", "--prepare", str(pairs), "--out", out.name]
        if sessions:
            command.append("--sessions")
        subprocess.run(command, cwd=BASE_DIR, env=env, check=True)
        return json.loads(Path(out.name).read_text())


def _prepare_child(pairs: int, out: str, sessions: bool) -> None:
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import transaction
    from django.test import Client
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import Skill, TeacherSkill, User
    from bench.data import grant_credits, users
    from scheduling.services.bookings import booking_request
    from scheduling.services.slots import slot_create
    from scheduling.transitions import booking_accept

    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(6)
    tag = f"{os.getpid() % 100000}x"
    skill, _ = Skill.objects.get_or_create(slug="python", defaults={"name": "Python"})
    with transaction.atomic():
        teachers = User.objects.bulk_create(
            users(f"chatt{tag}", pairs, teacher=True, learner=False, rng=rng)
        )
        learners = User.objects.bulk_create(
            users(f"chatl{tag}", pairs, teacher=False, learner=True, rng=rng)
        )
        TeacherSkill.objects.bulk_create([TeacherSkill(teacher=t, skill=skill) for t in teachers])
    with transaction.atomic():  # one commit for all the grants
        grant_credits(learners)
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    rows = []

    def person(user) -> dict:
        entry = {"id": user.pk, "token": str(RefreshToken.for_user(user).access_token)}
        if sessions:
            client = Client()
            client.force_login(user)
            entry["sessionid"] = client.cookies["sessionid"].value
        return entry

    for teacher, learner in zip(teachers, learners, strict=True):
        slot = slot_create(teacher=teacher, start=start, end=start + timedelta(minutes=60))
        booking = booking_request(learner=learner, slot_id=slot.pk)
        booking_accept(booking_id=booking.pk, teacher=teacher)
        rows.append({"booking": booking.pk, "teacher": person(teacher), "learner": person(learner)})
    Path(out).write_text(json.dumps(rows))


# --- Redis and process helpers ---------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server_env(extra: dict[str, str]) -> Iterator[None]:
    """bench.servers copies os.environ into the servers: set ``extra`` for their start only."""
    saved = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- Load generator ----------------------------------------------------------------------


def run_generator(coroutine):
    """Run the load generator on uvloop: the less CPU it needs on this shared 2-core
    machine, the less it takes from the servers it measures (its own CPU is reported)."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


class Case:
    def __init__(self, rooms: int, duration: float):
        self.tag = secrets.token_hex(3)  # ids unique to this case: nothing older can match
        self.rooms = rooms
        self.duration = duration
        self.sent: dict[str, float] = {}
        self.measured: set[str] = set()  # sent after the warm-up
        self.received: dict[str, float] = {}  # by the *other* participant
        self.errors: list[str] = []
        self.lag: list[float] = []  # how late each send was against its schedule (ms)
        self.unexpected_closes = 0
        self.closing = False

    def attach(self, socket, side: str) -> None:
        """Handle the socket's frames as they arrive (``bench.wsclient``: no reader task)."""

        def on_text(raw: str) -> None:
            now = time.perf_counter()
            frame = orjson.loads(raw)
            kind = frame.get("type")
            if kind == "chat.message":
                mid = frame["message"]["text"].split(" ", 1)[0]
                if mid[0] != side and mid in self.sent and mid not in self.received:
                    self.received[mid] = now
            elif kind == "error":
                self.errors.append(str(frame.get("code") or frame))

        def on_closed(_future) -> None:
            if not self.closing:
                self.unexpected_closes += 1

        for raw in socket.backlog:
            on_text(raw)
        socket.backlog.clear()
        socket.on_text = on_text
        socket.closed.add_done_callback(on_closed)

    async def sender(self, socket, room: int, side: str, t0: float) -> None:
        interval = 1.0 / PER_SIDE_RATE
        phase = random.random() * interval
        count = int(self.duration * PER_SIDE_RATE)
        for k in range(count):
            due = t0 + phase + k * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            mid = f"{side}{self.tag}:{room}.{k}"
            sent = time.perf_counter()
            self.lag.append(max(0.0, sent - due) * 1000)
            self.sent[mid] = sent
            if sent - t0 >= WARMUP:
                self.measured.add(mid)
            try:
                socket.send(
                    orjson.dumps({"type": "chat.send", "text": f"{mid} {sent:.6f}"}).decode()
                )
            except Exception as error:  # a closed socket: the message is lost
                self.errors.append(f"send: {type(error).__name__}")
                return


async def _connect(url: str, sem: asyncio.Semaphore):
    from bench import wsclient

    async with sem:
        socket = await wsclient.connect(url, timeout=60)
        first = json.loads(await socket.first_text(60))
        if first.get("type") != "room":
            raise RuntimeError(f"unexpected first frame {first}")
        return socket


async def _top_snapshot(pids: list[int]) -> str:
    process = await asyncio.create_subprocess_exec(
        "top", "-b", "-n", "1", "-w", "160", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    lines = out.decode(errors="replace").splitlines()
    return "\n".join(lines[:16])


async def run_case(rows: list[dict], pair, rooms: int, duration: float) -> dict:
    case = Case(rooms, duration)
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
    chosen = rows[:rooms]
    connect_started = time.perf_counter()
    jobs = []
    for row in chosen:
        for _side, who, server in (("t", "teacher", pair[0]), ("l", "learner", pair[1])):
            url = f"{server.ws_url}/ws/meetings/{row['booking']}/?token={row[who]['token']}"
            jobs.append(_connect(url, sem))
    sockets = await asyncio.gather(*jobs)
    connect_seconds = time.perf_counter() - connect_started
    for i, socket in enumerate(sockets):
        case.attach(socket, "t" if i % 2 == 0 else "l")
    await asyncio.sleep(1.0)  # presence frames settle
    pids = [s.process.pid for s in pair]
    cpu_before = [cpu_seconds(pid) for pid in pids]
    own_before = time.process_time()
    wall_before = time.perf_counter()
    t0 = time.perf_counter() + 0.1
    senders = [
        asyncio.create_task(case.sender(socket, i // 2, "t" if i % 2 == 0 else "l", t0))
        for i, socket in enumerate(sockets)
    ]
    await asyncio.sleep(duration / 2)
    top = await _top_snapshot(pids)
    await asyncio.gather(*senders)
    wall = time.perf_counter() - wall_before
    cpu = [(cpu_seconds(pid) - before) / wall for pid, before in zip(pids, cpu_before, strict=True)]
    own_cpu = (time.process_time() - own_before) / wall
    drain_until = time.perf_counter() + DRAIN
    while len(case.received) < len(case.sent) and time.perf_counter() < drain_until:
        await asyncio.sleep(0.1)
    drained_after = DRAIN - max(0.0, drain_until - time.perf_counter())
    case.closing = True
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    latencies = [
        (case.received[mid] - case.sent[mid]) * 1000
        for mid in case.measured
        if mid in case.received
    ]
    return {
        "rooms": rooms,
        "sockets": len(sockets),
        "duration": duration,
        "connect_seconds": connect_seconds,
        "sent": len(case.sent),
        "received": len(case.received),
        "lost": len(case.sent) - len(case.received),
        "latencies": latencies,
        "rate": len(case.sent) / wall,
        "server_cpu": cpu,
        "generator_cpu": own_cpu,
        "lag_p99": percentile(case.lag, 99),
        "lag_max": max(case.lag) if case.lag else 0.0,
        "errors": sorted(set(case.errors))[:5],
        "error_count": len(case.errors),
        "unexpected_closes": case.unexpected_closes,
        "drain_seconds": drained_after,
        "top": top,
    }


# --- Rows and table ----------------------------------------------------------------------


def _row(result: dict, backend: str) -> dict:
    lat = result["latencies"]
    p99 = percentile(lat, 99)
    passed = bool(lat) and result["lost"] == 0 and p99 < TARGET_P99_MS
    notes = (
        f"{result['rooms']} rooms/{result['sockets']} sockets, {result['duration']:.0f} s, "
        f"sent {result['sent']} ({result['rate']:.0f}/s), received {result['received']}, "
        f"server CPU {' + '.join(f'{c:.0%}' for c in result['server_cpu'])} of a core, "
        f"generator CPU {result['generator_cpu']:.0%}, send lag p99 {result['lag_p99']:.1f} ms"
        f" (max {result['lag_max']:.0f}), connect {result['connect_seconds']:.1f} s"
    )
    if result["error_count"]:
        notes += f", {result['error_count']} error frames {result['errors']}"
    if result["unexpected_closes"]:
        notes += f", {result['unexpected_closes']} sockets closed by the server"
    return {
        "benchmark": f"chat: chat.send → other side's chat.message, {result['rooms']} rooms "
        "x 10 msg/s, cross-process",
        "backend": backend,
        "n": len(lat),
        "p50": percentile(lat, 50),
        "p95": percentile(lat, 95),
        "p99": p99,
        "max": max(lat) if lat else float("nan"),
        "lost": result["lost"],
        "target": f"0 lost, p99 < {TARGET_P99_MS:g} ms",
        "pass": passed,
        "notes": notes,
    }


def _fmt(value) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.1f}" if value < 100 else f"{value:.0f}"
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    return str(value)


def table(rows: list[dict]) -> str:
    """Markdown table of rows from ``run()`` (times in ms)."""
    lines = [
        "| benchmark | backend | n | p50 ms | p95 ms | p99 ms | max ms | lost | target | pass "
        "| notes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for row in rows:
        cells = [row[k] for k in ("benchmark", "backend", "n", "p50", "p95", "p99", "max")]
        cells += [row["lost"], row["target"], row["pass"], row.get("notes", "")]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(lines)


def write_results(path: Path, title: str, rows: list[dict], how: str) -> None:
    """Write ``rows`` as a markdown page: when, on what, how measured, the table."""
    import platform

    load = os.getloadavg()
    header = (
        f"# {title}\n\n"
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; load average "
        f"(1/5/15 min) at the end: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        "(this machine is shared: above ~2 every wall-clock number is inflated).\n\n"
        f"{how}\n\n"
    )
    path.write_text(header + table(rows) + "\n")
    print(f"Written to {path.relative_to(BASE_DIR)}.")


# --- Entry points --------------------------------------------------------------------------


def run(
    quick: bool = False,
    *,
    db: str = "auto",
    verbose: bool = True,
    cases: tuple[tuple[int, float], ...] | None = None,
) -> list[dict]:
    """Run the chat cases (quick: 50 rooms for 10 s; else 50 and 200 rooms for 20 s each).

    Rows: ``{benchmark, backend, n, p50, p95, p99, max, lost, target, pass, notes}``,
    times in milliseconds. Returns ``[]`` (and says why) when Redis does not answer.
    """
    from bench import servers

    def say(message: str) -> None:
        if verbose:
            print(f"[chat] {message}", flush=True)

    if not servers.redis_reachable(REDIS_URL):
        say(f"skipped: Redis not reachable at {REDIS_URL}")
        return []
    cases = cases or (CASES_QUICK if quick else CASES_FULL)
    rooms = max(r for r, _ in cases)
    secret_key = secrets.token_urlsafe(40)
    prefix = f"skilllink-chatbench-{os.getpid()}-{secrets.token_hex(4)}"
    rows_out: list[dict] = []
    with database(db) as (backend, database_url):
        started = time.perf_counter()
        rows = prepare(database_url, secret_key, rooms)
        say(
            f"{backend}: {len(rows)} scheduled bookings ready in {time.perf_counter() - started:.1f} s"
        )
        label = f"uvicorn x2 + RedisPubSubChannelLayer, {backend}"
        try:
            for room_count, duration in cases:
                # Fresh servers per case: a backlog left by one case must not leak into the next.
                with (
                    server_env(SERVER_ENV),
                    servers.cluster(
                        2,
                        database_url=database_url,
                        secret_key=secret_key,
                        redis_url=REDIS_URL,
                        redis_prefix=prefix,
                    ) as pair,
                ):
                    say(f"{room_count} rooms for {duration:.0f} s …")
                    result = run_generator(run_case(rows, pair, room_count, duration))
                    row = _row(result, label)
                    rows_out.append(row)
                    say(
                        f"{room_count} rooms: p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms, "
                        f"lost {row['lost']}; {row['notes']}"
                    )
                    say("top during the run:\n" + result["top"])
                    logs = "\n".join(s.output() for s in pair)
                    tracebacks = logs.count("Traceback")
                    if tracebacks:
                        excerpt = logs[logs.index("Traceback") :][:5000]
                        say(f"{tracebacks} tracebacks in the server logs; first:\n{excerpt}")
                        row["notes"] += f", {tracebacks} tracebacks in server logs"
        finally:
            servers.redis_cleanup(REDIS_URL, prefix)
    return rows_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chat")
    parser.add_argument("--quick", action="store_true", help="50 rooms for 10 s only")
    parser.add_argument("--db", choices=["auto", "postgres", "sqlite"], default="auto")
    parser.add_argument("--rooms", help="other cases, e.g. 5,20 (rooms per case)")
    parser.add_argument("--seconds", type=float, default=20.0, help="with --rooms")
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sessions", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument(
        "--write", action="store_true", help="also write its bench/results-*.md page"
    )
    parser.add_argument("--json", help="write the rows here (bench.report reads it)")
    args = parser.parse_args(argv)
    if args.prepare is not None:
        _prepare_child(args.prepare, args.out, args.sessions)
        return 0
    cases = None
    if args.rooms:
        cases = tuple((int(r), args.seconds) for r in args.rooms.split(",") if r)
    rows = run(args.quick, db=args.db, cases=cases)
    print()
    print(table(rows) if rows else "no results (see above)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, default=str))
    if args.write:
        write_results(
            BASE_DIR / "bench" / "results-chat.md",
            "Chat delivery across two server processes (issue 5a)",
            rows,
            "How: `python -m bench.chat` (see its docstring). Latency is from just before "
            "the sender's frame is written to the other participant's socket receiving it; "
            "every message is saved to the database before it is broadcast.",
        )
    return 0 if rows and all(row["pass"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
