"""Issue 4: booking request → the teacher's socket gets the notification, across processes.

Two servers (A, B; uvicorn, DEBUG off) share the benchmark database and Redis (the pub/sub
channel layer the app builds from ``REDIS_URL``, under a prefix unique to this
run). Half of the connected users are teachers, half learners; each holds one
``/ws/notifications/?token=`` socket (no Origin), alternately on A or B. A sample
is one ``POST /api/bookings/`` over HTTP (keep-alive, raw asyncio) to the server
the teacher is *not* connected to, timed from just before the request is written
to the teacher's socket receiving the ``{"type": "notification"}`` frame. A frame
that has not arrived 5 s after the request was sent is counted lost (frames are
matched to their booking by its URL, so a late frame never counts for another sample).

Phase 1 sends one booking at a time (latency without queueing); phase 2 keeps 8
requests in flight (server CPU and Redis shared by concurrent bookings).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass
from datetime import timedelta

from bench import measure, servers
from bench.chat import run_generator
from bench.data import HORIZON_DAYS, Dataset, grant_credits, users
from bench.rawhttp import HttpConnection
from bench.stats import Result, percentile

TARGET_MS = 25.0
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
FRAME_TIMEOUT = 5.0
CONNECT_CONCURRENCY = 25
WARMUP = 20


@dataclass
class Plan:
    users: int  # connected sockets: half teachers, half learners
    sequential_rounds: int  # phase 1 samples = rounds * learners
    concurrent_rounds: int
    concurrency: int = 8


FULL = Plan(users=500, sequential_rounds=2, concurrent_rounds=1)
QUICK = Plan(users=100, sequential_rounds=2, concurrent_rounds=1)
SMOKE = Plan(users=40, sequential_rounds=1, concurrent_rounds=1)  # make bench-quick


def _setup(data: Dataset, plan: Plan, rng: random.Random) -> dict:
    """Teachers with one slot per round (past the data's horizon: nothing else there),
    premium learners, and a JWT for everyone."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Skill, TeacherSkill, User
    from scheduling.models import AvailabilitySlot

    half = plan.users // 2
    rounds = 1 + plan.sequential_rounds + plan.concurrent_rounds  # round 0: warm-up
    skill = Skill.objects.get(slug=data.skill_slugs[1])
    base = data.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=HORIZON_DAYS + 2)
    with transaction.atomic():
        teachers = User.objects.bulk_create(
            users("notiteacher", half, teacher=True, learner=False, rng=rng)
        )
        rows = users("notilearner", half, teacher=False, learner=True, rng=rng)
        for user in rows:
            user.subscription_type = User.Plan.PREMIUM
            user.subscription_expiry = timezone.now() + timedelta(days=30)
        learners = User.objects.bulk_create(rows)
        grant_credits(learners)
        TeacherSkill.objects.bulk_create([TeacherSkill(teacher=t, skill=skill) for t in teachers])
        slots = AvailabilitySlot.objects.bulk_create(
            [
                AvailabilitySlot(
                    teacher=t,
                    skill=skill,
                    start=base + timedelta(hours=2 * k),
                    end=base + timedelta(hours=2 * k + 1),
                )
                for k in range(rounds)
                for t in teachers
            ]
        )
    slot_of = {(s.teacher_id, k): s.pk for k, s in ((i // half, s) for i, s in enumerate(slots))}
    return {
        "teachers": [(t.pk, measure.access_token(t)) for t in teachers],
        "learners": [(u.pk, measure.access_token(u)) for u in learners],
        "slot_of": slot_of,
    }


class Sockets:
    """One socket per user; every notification frame's arrival time is kept by its URL
    (``/sessions/<booking id>/``), so a sample waits for *its* booking's frame."""

    def __init__(self):
        self.arrived: dict[str, float] = {}
        self.signal: dict[int, asyncio.Event] = {}
        self.sockets = []
        self.readers: list[asyncio.Task] = []
        self.unexpected_closes = 0
        self.closing = False

    async def connect(self, ws_url: str, user_id: int, token: str, sem: asyncio.Semaphore):
        import websockets

        async with sem:
            socket = await websockets.connect(
                f"{ws_url}/ws/notifications/?token={token}",
                open_timeout=20,
                close_timeout=2,
                ping_interval=None,
            )
            first = json.loads(await asyncio.wait_for(socket.recv(), 20))
            if first.get("type") != "unread":
                raise RuntimeError(f"unexpected first frame {first}")
        self.sockets.append(socket)
        self.signal[user_id] = asyncio.Event()
        self.readers.append(asyncio.create_task(self._read(socket, user_id)))

    async def _read(self, socket, user_id: int) -> None:
        import websockets

        try:
            async for message in socket:
                received = time.perf_counter()
                frame = json.loads(message)
                if frame.get("type") == "notification":
                    self.arrived[frame["notification"].get("url", "")] = received
                    self.signal[user_id].set()
        except websockets.ConnectionClosed:
            pass
        finally:
            if not self.closing:
                self.unexpected_closes += 1

    async def wait_for(self, user_id: int, url: str, deadline: float) -> float | None:
        """Arrival time of the frame for ``url`` on ``user_id``'s socket; None if too late."""
        event = self.signal[user_id]
        while url not in self.arrived:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            event.clear()
            if url in self.arrived:
                break
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return None
        return self.arrived.pop(url)

    async def close(self) -> None:
        self.closing = True
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def _sample(conn, sockets, teacher_id, learner_token, slot_id, out) -> None:
    started = time.perf_counter()
    try:
        status, body = await conn.request(
            "POST",
            "/api/bookings/",
            body={"slot": slot_id, "message": ""},
            headers={"Authorization": f"Bearer {learner_token}"},
        )
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
        out["errors"].append(repr(error))
        await conn.close()
        return
    finally:
        answered = time.perf_counter()
        out["http_ms"].append((answered - started) * 1000)
    if status != 201:
        out["errors"].append(f"HTTP {status}: {body[:200]!r}")
        return
    url = f"/sessions/{json.loads(body)['id']}/"
    received = await sockets.wait_for(teacher_id, url, started + FRAME_TIMEOUT)
    if received is None:
        out["lost"] += 1
        return
    out["latency_ms"].append((received - started) * 1000)
    out["after_answer_ms"].append((received - answered) * 1000)


async def _phase(
    setup, servers_, sockets, rounds: range, concurrency: int, limit: int | None = None
) -> dict:
    teachers, learners, slot_of = setup["teachers"], setup["learners"], setup["slot_of"]
    half = len(teachers)
    jobs: asyncio.Queue = asyncio.Queue()
    for k in rounds:
        for li, (_learner_id, learner_token) in enumerate(learners):
            ti = (li + k) % half
            teacher_id = teachers[ti][0]
            # Teacher ti's socket is on server ti % 2: book through the other one.
            jobs.put_nowait((1 - ti % 2, teacher_id, learner_token, slot_of[(teacher_id, k)]))
            if limit is not None and jobs.qsize() >= limit:
                break
    out = {"latency_ms": [], "http_ms": [], "after_answer_ms": [], "lost": 0, "errors": []}

    async def worker():
        conns = [HttpConnection("127.0.0.1", s.port) for s in servers_]
        try:
            while not jobs.empty():
                server_index, teacher_id, token, slot_id = jobs.get_nowait()
                await _sample(conns[server_index], sockets, teacher_id, token, slot_id, out)
        finally:
            for conn in conns:
                await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    out["seconds"] = time.perf_counter() - started
    return out


async def _run_async(setup, servers_, plan: Plan) -> dict:
    sockets = Sockets()
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
    people = [*setup["teachers"], *setup["learners"]]
    started = time.perf_counter()
    try:
        await asyncio.gather(
            *(
                sockets.connect(servers_[i % 2].ws_url, user_id, token, sem)
                for i, (user_id, token) in enumerate(people)
            )
        )
        connect_seconds = time.perf_counter() - started
        await asyncio.sleep(0.5)
        warm = await _phase(setup, servers_, sockets, range(1), 2, limit=WARMUP)
        sequential = await _phase(setup, servers_, sockets, range(1, 1 + plan.sequential_rounds), 1)
        first = 1 + plan.sequential_rounds
        rounds = range(first, first + plan.concurrent_rounds)
        concurrent = await _phase(setup, servers_, sockets, rounds, plan.concurrency)
        return {
            "connected": len(sockets.sockets),
            "connect_seconds": connect_seconds,
            "sequential": sequential,
            "concurrent": concurrent,
            "warm": warm,
            "unexpected_closes": sockets.unexpected_closes,
        }
    finally:
        await sockets.close()


def _note(phase: dict, connected: int, extra: str = "") -> str:
    lost = phase["lost"] + len(phase["errors"])
    parts = [
        f"{connected} sockets on 2 servers",
        f"lost {lost}",
        f"{len(phase['latency_ms']) / phase['seconds']:.0f} bookings/s",
        f"frame vs HTTP answer: median {percentile(phase['after_answer_ms'], 50):+.1f} ms",
    ]
    if phase["errors"]:
        parts.append(f"errors: {sorted(set(phase['errors']))[:2]}")
    if extra:
        parts.append(extra)
    return ", ".join(parts)


def run(data: Dataset, *, backend: str, database_url: str, plan: Plan, meta: dict) -> list[Result]:
    from django.conf import settings
    from django.db import connections

    if not servers.redis_reachable(REDIS_URL):
        meta["notify_skipped"] = f"Redis not reachable at {REDIS_URL}"
        print(f"[{backend}] notify: skipped, Redis not reachable at {REDIS_URL}", flush=True)
        return []
    rng = random.Random(5)
    setup = _setup(data, plan, rng)
    # SQLite: nothing of ours may hold the file while the servers write.
    connections.close_all()
    prefix = f"skilllink-bench-{os.getpid()}-{rng.randrange(1 << 30):x}"
    server_errors = ""
    try:
        with servers.cluster(
            2,
            database_url=database_url,
            secret_key=settings.SECRET_KEY,
            redis_url=REDIS_URL,
            redis_prefix=prefix,
        ) as pair:
            outcome = run_generator(_run_async(setup, pair, plan))
            logs = "\n".join(s.output() for s in pair)
            tracebacks = logs.count("Traceback")
            if tracebacks:
                server_errors = f"{tracebacks} tracebacks in server logs"
                meta["notify_server_log_excerpt"] = logs[logs.index("Traceback") :][:3000]
    finally:
        servers.redis_cleanup(REDIS_URL, prefix)
    meta["notify_connect_seconds"] = round(outcome["connect_seconds"], 2)
    meta["notify_unexpected_closes"] = outcome["unexpected_closes"]
    connected = outcome["connected"]
    seq, conc = outcome["sequential"], outcome["concurrent"]
    return [
        Result(
            "notify: booking → teacher socket, cross-process (1 in flight)",
            backend,
            seq["latency_ms"],
            TARGET_MS,
            _note(seq, connected, server_errors),
        ),
        Result(
            f"notify: booking → teacher socket, cross-process ({plan.concurrency} in flight)",
            backend,
            conc["latency_ms"],
            TARGET_MS,
            _note(conc, connected),
        ),
        Result(
            "notify: POST /api/bookings/ HTTP response on the server (1 in flight)",
            backend,
            seq["http_ms"],
            None,
            "client-side, loopback",
        ),
    ]
