"""Issue 13: what the assistant's streaming adds, and what it does to the room's chat.

``DEBUG=1 .venv/bin/python -m bench.assistant [--quick] [--db postgres|sqlite]``

A fresh database (as ``bench.chat``: PostgreSQL when it answers, else SQLite) holds
scheduled bookings in their room window (``bench.chat.prepare``). The fake Gemini
server of the tests (``tests/assistant/fake_gemini.py``, a real HTTP server in a
thread of this process) answers every question after a fixed delay (``FIRST_DELAY``)
with a stream of chunks. Two servers (``bench.servers``: uvicorn, DEBUG off) share the
database and Redis (the pub/sub layer) and reach the fake through the real
google-genai SDK (``GEMINI_BASE_URL``); quotas and the chat limit are raised out of
the way. Without Redis, one server on the in-memory layer (both sides on it).

1. Added latency. In each room the learner (server B) asks, one question after the
   other (rooms start at random offsets, not in lockstep; each room's first question
   warms up and is not counted); the teacher is on server A. For every answer, the time from the fake
   writing its first chunk (``perf_counter()`` after the write) to the first
   ``assistant.delta`` of that answer arriving on each participant's socket: the
   SDK reading and parsing the chunk, our fan-out through the channel layer, the
   consumer's send, loopback. The asker's server runs the stream, so the learner's
   copy stays in one process and the teacher's crosses Redis.
2. Chat beside answers. Both sides of every room chat at ``CHAT_RATE`` messages a
   second; latency from just before a frame is written to the other side receiving
   its ``chat.message``, in alternating rounds: with no answer streaming, and while
   every room has an answer streaming all the time (the learner asks again as each
   one ends; chunks of Gemini's size every 80 ms).

Clients are ``bench.wsclient`` sockets on one uvloop (little CPU taken from the
servers on this 2-core machine); the fake shares this process, so its threads and
the clients compete for one GIL — that inflates (1), never flatters it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import time
from pathlib import Path

import orjson

from bench.chat import (
    BASE_DIR,
    database,
    prepare,
    run_generator,
    server_env,
    table,
    write_results,
)
from bench.stats import percentile
from tests.assistant.fake_gemini import FakeGemini, Reply

REDIS_URL = os.environ.get("BENCH_ASSISTANT_REDIS_URL", "redis://127.0.0.1:6379/6")
TARGET_ADDED_P95_MS = 10.0
FIRST_DELAY = 0.2  # seconds before the fake's first chunk
CHUNK = "Streaming text from the model, about forty chars. "
ANSWER_CHUNKS = 12
CHUNK_GAP = 0.03  # seconds between chunks
CHAT_RATE = 5.0  # messages per second from each side
# While answers stream beside the chat: chunks the size Gemini sends (a few hundred
# characters), every 80 ms, so each room always has an answer in flight.
BUSY_CHUNK = CHUNK * 4
BUSY_CHUNKS = 12
BUSY_GAP = 0.08
QUICK = {"rooms": 4, "asks": 5, "chat_seconds": 4.0, "rounds": 1}
FULL = {"rooms": 8, "asks": 12, "chat_seconds": 5.0, "rounds": 3}


class Room:
    """One room's two sockets and what they received."""

    def __init__(self, row: dict, bench: AssistantBench) -> None:
        self.row = row
        self.bench = bench
        self.index = row["index"]
        self.sockets: dict[str, object] = {}
        self.started: dict[int, str] = {}  # request_id -> marker
        self.first_delta: dict[tuple[int, str], float] = {}  # (request_id, side) -> t
        self.done: dict[int, set[str]] = {}
        self.done_event = asyncio.Event()
        self.chat_sent: dict[str, float] = {}
        self.chat_received: dict[str, float] = {}
        self.errors: list[str] = []

    def on_text(self, side: str, raw: str) -> None:
        now = time.perf_counter()
        frame = orjson.loads(raw)
        kind = frame.get("type")
        if kind == "assistant.delta":
            self.first_delta.setdefault((frame["request_id"], side), now)
        elif kind == "chat.message":
            mid = frame["message"]["text"].split(" ", 1)[0]
            if mid[0] != side[0] and mid in self.chat_sent:
                self.chat_received.setdefault(mid, now)
        elif kind == "assistant.started":
            self.started[frame["request_id"]] = frame["prompt"].split(" ", 1)[0]
        elif kind in ("assistant.done", "assistant.error"):
            if kind == "assistant.error":
                self.errors.append(f"{frame.get('code')}: {frame.get('detail')}")
                if frame.get("request_id") is None:
                    self.done_event.set()
                    return
            sides = self.done.setdefault(frame["request_id"], set())
            sides.add(side)
            if len(sides) == 2:
                self.done_event.set()
        elif kind == "error":
            self.errors.append(str(frame.get("code")))

    async def ask(self, marker: str) -> None:
        self.done_event.clear()
        self.sockets["learner"].send(
            orjson.dumps({"type": "assistant.ask", "prompt": f"{marker} explain"}).decode()
        )
        await asyncio.wait_for(self.done_event.wait(), 60)

    async def chat(self, side: str, seconds: float, tag: str) -> None:
        interval = 1.0 / CHAT_RATE
        start = time.perf_counter() + random.random() * interval
        for k in range(int(seconds * CHAT_RATE)):
            delay = start + k * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            mid = f"{side[0]}{tag}:{self.index}.{k}"
            self.chat_sent[mid] = time.perf_counter()
            self.sockets[side].send(
                orjson.dumps({"type": "chat.send", "text": f"{mid} x"}).decode()
            )


class AssistantBench:
    def __init__(self, servers: list, rows: list[dict], fake: FakeGemini) -> None:
        self.servers = servers
        self.fake = fake
        self.rooms = [Room({**row, "index": i}, self) for i, row in enumerate(rows)]

    async def connect(self) -> None:
        from bench import wsclient

        teacher_server = self.servers[0]
        learner_server = self.servers[-1]
        for room in self.rooms:
            for side, server in (("teacher", teacher_server), ("learner", learner_server)):
                url = (
                    f"{server.ws_url}/ws/meetings/{room.row['booking']}/"
                    f"?token={room.row[side]['token']}"
                )
                socket = await wsclient.connect(url, timeout=30)
                first = orjson.loads(await socket.first_text(30))
                if first.get("type") != "room" or not first["assistant"]["configured"]:
                    raise RuntimeError(f"unexpected first frame {first}")
                socket.backlog.clear()
                socket.on_text = lambda raw, room=room, side=side: room.on_text(side, raw)
                room.sockets[side] = socket
        await asyncio.sleep(0.5)  # presence settles

    async def close(self) -> None:
        for room in self.rooms:
            for socket in room.sockets.values():
                await socket.close()

    # --- 1: added latency -------------------------------------------------------------

    async def added_latency(self, asks: int) -> dict[str, list[float]]:
        self.fake.default = Reply.text(
            *([CHUNK] * ANSWER_CHUNKS), delay=CHUNK_GAP, first_delay=FIRST_DELAY
        )

        async def room_loop(room: Room) -> None:
            # Rooms are independent: they do not ask in lockstep. Question 0 warms up
            # (first use of the SDK's models and the layer in each process): not counted.
            await asyncio.sleep(random.random() * 0.5)
            for k in range(asks + 1):
                await room.ask(f"q{room.index}.{k}")

        await asyncio.gather(*(room_loop(room) for room in self.rooms))
        first_chunk = {}
        for request in self.fake.requests:
            marker = request.user_text.split(" ", 1)[0]
            if request.first_chunk_at is not None:
                first_chunk[marker] = request.first_chunk_at
        samples: dict[str, list[float]] = {"learner": [], "teacher": []}
        for room in self.rooms:
            for request_id, marker in room.started.items():
                if marker.endswith(".0"):
                    continue  # the warm-up question
                upstream = first_chunk.get(marker)
                for side in samples:
                    arrived = room.first_delta.get((request_id, side))
                    if upstream is not None and arrived is not None:
                        samples[side].append((arrived - upstream) * 1000)
        return samples

    # --- 2: chat with and without answers streaming -----------------------------------

    async def chat_latency(self, seconds: float, *, streaming: bool) -> tuple[list[float], int]:
        tag = secrets.token_hex(2)
        for room in self.rooms:
            room.chat_sent.clear()
            room.chat_received.clear()
        stop = asyncio.Event()
        answers = 0

        async def keep_answering(room: Room) -> None:
            nonlocal answers
            while not stop.is_set():
                await room.ask(f"s{tag}.{room.index}.{answers}")
                answers += 1

        self.fake.default = Reply.text(
            *([BUSY_CHUNK] * BUSY_CHUNKS), delay=BUSY_GAP, first_delay=0.05
        )
        streams = [asyncio.create_task(keep_answering(r)) for r in self.rooms] if streaming else []
        if streaming:
            await asyncio.sleep(0.5)  # every room is mid-answer
        await asyncio.gather(
            *(
                room.chat(side, seconds, tag)
                for room in self.rooms
                for side in ("teacher", "learner")
            )
        )
        stop.set()
        await asyncio.sleep(1.0)  # the last messages arrive
        await asyncio.gather(*streams)
        latencies, lost = [], 0
        for room in self.rooms:
            for mid, sent in room.chat_sent.items():
                if mid in room.chat_received:
                    latencies.append((room.chat_received[mid] - sent) * 1000)
                else:
                    lost += 1
        return latencies, lost


def _row(
    name: str, backend: str, samples: list[float], target: str, passed, notes: str = ""
) -> dict:
    return {
        "benchmark": name,
        "backend": backend,
        "n": len(samples),
        "p50": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "p99": percentile(samples, 99),
        "max": max(samples) if samples else float("nan"),
        "lost": 0,
        "target": target,
        "pass": passed,
        "notes": notes,
    }


async def _run(servers, rows, fake, size: dict, backend: str, say) -> list[dict]:
    bench = AssistantBench(servers, rows, fake)
    await bench.connect()
    out = []
    try:
        say(f"{len(bench.rooms)} rooms, {size['asks']} questions each …")
        added = await bench.added_latency(size["asks"])
        errors = sorted({e for room in bench.rooms for e in room.errors})
        for side, where in (
            ("learner", "asker's socket, same process as the stream"),
            (
                "teacher",
                "other participant, other process (Redis)"
                if len(servers) > 1
                else "other participant",
            ),
        ):
            samples = added[side]
            p95 = percentile(samples, 95)
            out.append(
                _row(
                    f"assistant: first upstream chunk → first assistant.delta, {where}",
                    backend,
                    samples,
                    f"p95 < {TARGET_ADDED_P95_MS:g} ms",
                    bool(samples) and p95 < TARGET_ADDED_P95_MS,
                    f"{len(bench.rooms)} rooms asking one after the other (+1 warm-up each), fake answers after "
                    f"{FIRST_DELAY * 1000:.0f} ms, {ANSWER_CHUNKS} chunks {CHUNK_GAP * 1000:.0f} ms apart"
                    + (f"; errors {errors[:3]}" if errors else ""),
                )
            )
        # Alternate short rounds of both, so a change in the machine's load (it is
        # shared) falls on both sides of the comparison.
        seconds, rounds = size["chat_seconds"], size["rounds"]
        quiet, busy, quiet_lost, busy_lost = [], [], 0, 0
        for n in range(rounds):
            say(f"round {n + 1}/{rounds}: chat for {seconds:.0f} s without answers, then with …")
            samples, lost = await bench.chat_latency(seconds, streaming=False)
            quiet += samples
            quiet_lost += lost
            samples, lost = await bench.chat_latency(seconds, streaming=True)
            busy += samples
            busy_lost += lost
        base_p95 = percentile(quiet, 95)
        allowed = max(base_p95 * 1.25, base_p95 + 1.0)
        rate = (
            f"{len(bench.rooms)} rooms x {2 * CHAT_RATE:g} msg/s, {rounds} x {seconds:.0f} s "
            "alternating with the next row"
        )
        out.append(
            _row(
                "chat in the room, no answer streaming",
                backend,
                quiet,
                "baseline",
                "-",
                f"{rate}, lost {quiet_lost}",
            )
        )
        row = _row(
            "chat in the room while answers stream (every room, all the time)",
            backend,
            busy,
            "p95 ≤ baseline +25% (or +1 ms)",
            bool(busy) and busy_lost == 0 and percentile(busy, 95) <= allowed,
            f"{rate}, lost {busy_lost}; each answer {BUSY_CHUNKS} chunks of "
            f"{len(BUSY_CHUNK)} characters {BUSY_GAP * 1000:.0f} ms apart",
        )
        row["lost"] = busy_lost
        out[-1]["lost"] = quiet_lost
        out.append(row)
    finally:
        await bench.close()
    return out


def run(quick: bool = False, *, db: str = "auto", verbose: bool = True) -> list[dict]:
    from bench import servers as bench_servers

    def say(message: str) -> None:
        if verbose:
            print(f"[assistant] {message}", flush=True)

    size = QUICK if quick else FULL
    secret_key = secrets.token_urlsafe(40)
    with FakeGemini() as fake, database(db, tag="assistant") as (backend, database_url):
        rows = prepare(database_url, secret_key, size["rooms"])
        env = {
            "CHAT_RATE_LIMIT": "100000/10",
            "GEMINI_API_KEY": "bench-key",
            "GEMINI_BASE_URL": fake.url,
            "GEMINI_TIMEOUT_SECONDS": "30",
            "ASSISTANT_DAILY_PROMPTS": "1000000",
            "ASSISTANT_DAILY_PROMPTS_PREMIUM": "1000000",
        }
        redis = bench_servers.redis_reachable(REDIS_URL)
        prefix = f"skilllink-assistantbench-{os.getpid()}-{secrets.token_hex(4)}"
        with server_env(env):
            if redis:
                label = f"uvicorn x2 + RedisPubSubChannelLayer, {backend}"
                context = bench_servers.cluster(
                    2,
                    database_url=database_url,
                    secret_key=secret_key,
                    redis_url=REDIS_URL,
                    redis_prefix=prefix,
                )
            else:
                say(f"Redis not reachable at {REDIS_URL}: one server, in-memory layer")
                label = f"uvicorn x1 + InMemoryChannelLayer, {backend}"
                context = _single(database_url, secret_key)
            try:
                with context as started:
                    result = run_generator(_run(started, rows, fake, size, label, say))
                    logs = "\n".join(s.output() for s in started)
                    if "Traceback" in logs:
                        say(
                            "tracebacks in the server logs:\n"
                            + logs[logs.index("Traceback") :][:3000]
                        )
            finally:
                if redis:
                    bench_servers.redis_cleanup(REDIS_URL, prefix)
    return result


class _single:
    """One server without Redis (same start-up as ``bench.servers.cluster``)."""

    def __init__(self, database_url: str, secret_key: str) -> None:
        self.database_url, self.secret_key = database_url, secret_key

    def __enter__(self):
        from bench.servers import PRODUCTION_ENV, Server

        self.server = Server(
            database_url=self.database_url, secret_key=self.secret_key, extra_env=PRODUCTION_ENV
        )
        self.server.wait_ready(timeout=30.0)
        return [self.server]

    def __exit__(self, *exc_info):
        self.server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.assistant")
    parser.add_argument("--quick", action="store_true", help="fewer rooms and questions")
    parser.add_argument("--db", choices=["auto", "postgres", "sqlite"], default="auto")
    parser.add_argument(
        "--write", action="store_true", help="also write its bench/results-*.md page"
    )
    parser.add_argument("--json", help="write the rows here (bench.report reads it)")
    args = parser.parse_args(argv)
    rows = run(args.quick, db=args.db)
    print()
    print(table(rows) if rows else "no results (see above)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, default=str))
    if args.write:
        write_results(
            BASE_DIR / "bench" / "results-assistant.md",
            "The assistant's streaming: latency it adds, chat beside it (issue 13)",
            rows,
            "How: `python -m bench.assistant` (see its docstring). Added latency is from the "
            "fake Gemini server writing an answer's first chunk to that answer's first "
            "`assistant.delta` reaching a participant's socket; chat latency is from just "
            "before `chat.send` is written to the other participant receiving it.",
        )
    checked = [row for row in rows if isinstance(row["pass"], bool)]
    return 0 if checked and all(row["pass"] for row in checked) else 1


if __name__ == "__main__":
    sys.exit(main())
