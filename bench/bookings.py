"""Booking load curves: open-loop arrivals against two of our workers on PostgreSQL (issue 16).

``DEBUG=1 .venv/bin/python -m bench.bookings [--quick] [--rates 25,50,100,200] [--seconds 20]``

A fresh PostgreSQL database (``skilllink_bookingsbench_<pid>``) is migrated and loaded in
a child process: one learner and one open slot for every request the run will send
(each request a different learner and slot, so none may fail), teachers with one skill
and up to 24 one-hour slots each tomorrow and after, and for the contended variant
groups of 20 learners and 5 slots. Every learner is granted credits through the
ledger's service (``bench.data.grant_credits``), so a booking never answers 402. Two servers
(``python -m skilllink.serve``, DEBUG off, Redis pub/sub layer as in production) share
that database.

Open loop: for each rate (25, 50, 100, 200 requests/s), requests are sent at Poisson
arrival times (a seeded exponential gap) for 20 s, whether or not earlier ones have
been answered, alternately to the two workers, each on an idle keep-alive connection
or a new one. A request is ``POST /api/bookings/ {"slot": id}`` with the learner's JWT.
Latency runs from the request's *scheduled* time to its answer, so a generator or
server falling behind shows in the figures (no coordinated omission). Errors: any
answer but 201 (or a timeout after 10 s). Achieved throughput: answers 201 per second
over the rate's span (first scheduled request to last answer).

Contended: every second, 20 new learners ask at the same moment for 5 new slots (4 per
slot), for 20 s. Expected: exactly one 201 per slot and 409 ``slot_unavailable`` for
the rest; anything else is an error. Double bookings are counted from the database
after the run (slots with more than one booking in a slot-taking status): must be 0.

The knee: the highest offered rate whose p95 stays within 3x the lowest rate's p95 and
whose achieved throughput is at least 95% of the offered rate; past it, queueing takes
over. Target (issue 16): at 100 requests/s, p95 under 50 ms and no errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.chat import BASE_DIR, cpu_seconds, database, pg_reachable, run_generator
from bench.stats import percentile

REDIS_URL = os.environ.get("BENCH_CHAT_REDIS_URL", "redis://127.0.0.1:6379/6")
RATES_FULL = (25, 50, 100, 200)
RATES_QUICK = (25, 50)  # within two workers' capacity here: bench-quick gates on errors
SECONDS_FULL, SECONDS_QUICK = 20.0, 3.0
WARMUP_REQUESTS = 40
CONTENDED_LEARNERS, CONTENDED_SLOTS = 20, 5
TARGET_RATE, TARGET_P95_MS = 100, 50.0
REQUEST_TIMEOUT = 10.0
MAX_CONNECTIONS = 200  # per server


# --- Data (child process) ----------------------------------------------------------------------


def _prepare_child(plan: dict, out: str) -> None:
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Skill, TeacherSkill, User
    from bench.data import LEARNER_CREDITS, grant_credits, users
    from scheduling.models import AvailabilitySlot

    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(16)
    tag = f"{os.getpid() % 100000}"
    skill, _ = Skill.objects.get_or_create(slug="python", defaults={"name": "Python"})
    free = plan["free"]
    rounds = plan["contended_rounds"]
    learner_count = free + rounds * CONTENDED_LEARNERS
    slot_count = free + rounds * CONTENDED_SLOTS
    per_teacher = 24
    base = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    with transaction.atomic():
        teachers = User.objects.bulk_create(
            users(f"bkt{tag}x", -(-slot_count // per_teacher), teacher=True, learner=False, rng=rng)
        )
        learners = User.objects.bulk_create(
            users(f"bkl{tag}x", learner_count, teacher=False, learner=True, rng=rng)
        )
        TeacherSkill.objects.bulk_create([TeacherSkill(teacher=t, skill=skill) for t in teachers])
        slots = AvailabilitySlot.objects.bulk_create(
            AvailabilitySlot(
                teacher=teachers[i // per_teacher],
                skill=skill,
                start=base + timedelta(hours=i % per_teacher),
                end=base + timedelta(hours=i % per_teacher, minutes=50),
            )
            for i in range(slot_count)
        )
    with transaction.atomic():  # one commit for all the grants
        grant_credits(learners)
    credits_note = (
        f"{len(learners)} learners granted {LEARNER_CREDITS:,} credits each "
        "(credits_grant_signup, as registration would)"
    )
    tokens = [str(AccessToken.for_user(user)) for user in learners]
    slot_ids = [slot.pk for slot in slots]
    contended = []
    for r in range(rounds):
        first_learner = free + r * CONTENDED_LEARNERS
        first_slot = free + r * CONTENDED_SLOTS
        contended.append(
            {
                "tokens": tokens[first_learner : first_learner + CONTENDED_LEARNERS],
                "slots": slot_ids[first_slot : first_slot + CONTENDED_SLOTS],
            }
        )
    Path(out).write_text(
        json.dumps(
            {
                "free": [
                    {"token": token, "slot": slot}
                    for token, slot in zip(tokens[:free], slot_ids[:free], strict=True)
                ],
                "contended": contended,
                "credits": credits_note,
            }
        )
    )


def prepare(database_url: str, secret_key: str, plan: dict) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "skilllink.settings",
        "DEBUG": "1",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secret_key,
    }
    env.pop("REDIS_URL", None)
    with tempfile.NamedTemporaryFile(prefix="bench-bookings-prep-", suffix=".json") as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.bookings",
                "--prepare",
                json.dumps(plan),
                "--out",
                out.name,
            ],
            cwd=BASE_DIR,
            env=env,
            check=True,
        )
        return json.loads(Path(out.name).read_text())


def double_bookings(database_url: str) -> dict:
    """Slots holding more than one booking in a slot-taking status, counted in the database."""
    import psycopg

    taken = ("requested", "scheduled", "in_progress", "completed")
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as conn:
        doubled = conn.execute(
            "SELECT count(*) FROM (SELECT slot_id FROM scheduling_booking WHERE status = ANY(%s)"
            " GROUP BY slot_id HAVING count(*) > 1) d",
            [list(taken)],
        ).fetchone()[0]
        bookings = conn.execute(
            "SELECT count(*) FROM scheduling_booking WHERE status = ANY(%s)", [list(taken)]
        ).fetchone()[0]
    return {"double_booked_slots": doubled, "bookings": bookings}


# --- Load generator --------------------------------------------------------------------------


class Pool:
    """Keep-alive connections to one server: an idle one if any, else a new one."""

    def __init__(self, port: int):
        self.port = port
        self.idle: list = []
        self.opened = 0

    async def post(self, path: str, body: dict, token: str) -> tuple[int, bytes]:
        from bench.rawhttp import HttpConnection

        headers = {"Authorization": f"Bearer {token}"}
        while self.idle:
            # An idle connection the server has meanwhile closed (uvicorn's keep-alive
            # timeout) fails before any answer: try the next, as HTTP clients do.
            connection = self.idle.pop()
            try:
                status, content = await connection.request("POST", path, body=body, headers=headers)
            except (asyncio.IncompleteReadError, ConnectionError):
                await connection.close()
                continue
            except BaseException:
                await connection.close()
                raise
            self._release(connection)
            return status, content
        self.opened += 1
        connection = HttpConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            status, content = await connection.request("POST", path, body=body, headers=headers)
        except BaseException:
            await connection.close()
            raise
        self._release(connection)
        return status, content

    def _release(self, connection) -> None:
        if len(self.idle) < MAX_CONNECTIONS:
            self.idle.append(connection)
        else:
            asyncio.get_running_loop().create_task(connection.close())

    async def close(self) -> None:
        for connection in self.idle:
            await connection.close()
        self.idle.clear()


async def _one(pool: Pool, item: dict, due: float, out: dict) -> None:
    delay = due - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
    out["lag"].append(max(0.0, time.perf_counter() - due) * 1000)
    try:
        status, content = await pool.post("/api/bookings/", {"slot": item["slot"]}, item["token"])
    except Exception as error:
        status, content = 0, type(error).__name__.encode()
    done = time.perf_counter()
    out["latency"].append((done - due) * 1000)
    out["statuses"][status] = out["statuses"].get(status, 0) + 1
    out["last"] = max(out["last"], done)
    if status == 409:
        try:
            code = json.loads(content).get("code")
        except ValueError:
            code = None
        out["codes"][code] = out["codes"].get(code, 0) + 1
    elif status not in (201,):
        out["samples"].append(f"{status} {content[:120]!r}")


def _new_out() -> dict:
    return {"latency": [], "lag": [], "statuses": {}, "codes": {}, "samples": [], "last": 0.0}


async def open_loop(pools: list[Pool], items: list[dict], rate: float, seed: int) -> dict:
    """Send ``items`` at Poisson arrivals of ``rate`` per second; wait for every answer."""
    rng = random.Random(seed)
    out = _new_out()
    start = time.perf_counter() + 0.2
    due = start
    tasks = []
    for i, item in enumerate(items):
        tasks.append(asyncio.create_task(_one(pools[i % len(pools)], item, due, out)))
        due += rng.expovariate(rate)
    await asyncio.gather(*tasks)
    out["span"] = max(out["last"], due) - start
    out["offered"] = rate
    return out


async def contended(pools: list[Pool], rounds: list[dict], interval: float) -> dict:
    """Every ``interval`` s, 20 learners at once for 5 slots (learner i -> slot i % 5)."""
    out = _new_out()
    start = time.perf_counter() + 0.2
    tasks = []
    for r, group in enumerate(rounds):
        due = start + r * interval
        for i, token in enumerate(group["tokens"]):
            item = {"token": token, "slot": group["slots"][i % CONTENDED_SLOTS]}
            tasks.append(asyncio.create_task(_one(pools[i % len(pools)], item, due, out)))
    await asyncio.gather(*tasks)
    out["span"] = out["last"] - start
    return out


async def drive(ports: list[int], data: dict, rates: tuple, seconds: float, pids: list[int]):
    pools = [Pool(port) for port in ports]
    free = list(data["free"])
    results = []
    try:
        warm = [free.pop() for _ in range(WARMUP_REQUESTS)]
        await open_loop(pools, warm, 20.0, seed=0)  # connections, caches, prepared plans
        for k, rate in enumerate(rates):
            count = int(rate * seconds)
            items, free = free[:count], free[count:]
            cpu_before = [cpu_seconds(pid) for pid in pids]
            load_before = os.getloadavg()[0]
            out = await open_loop(pools, items, rate, seed=k + 1)
            used = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
            out["server_cpu"] = [round(seconds / out["span"], 2) for seconds in used]
            out["server_cpu_seconds"] = sum(used)
            out["load"] = (round(load_before, 1), round(os.getloadavg()[0], 1))
            results.append(out)
            await asyncio.sleep(0.5)
        out = await contended(pools, data["contended"], 1.0)
        out["load"] = (None, round(os.getloadavg()[0], 1))
        return results, out, [p.opened for p in pools]
    finally:
        for pool in pools:
            await pool.close()


# --- Rows ----------------------------------------------------------------------------------------


def _row(name: str, out: dict, *, offered: float | None, expected: set[int]) -> dict:
    lat = out["latency"]
    ok = out["statuses"].get(201, 0)
    errors = sum(n for status, n in out["statuses"].items() if status not in expected)
    if 409 in expected:  # contended: a 409 must say the slot was taken
        errors += sum(n for code, n in out["codes"].items() if code != "slot_unavailable")
    return {
        "name": name,
        "offered_rps": offered,
        "requests": len(lat),
        "achieved_rps": round(ok / out["span"], 1) if out["span"] > 0 else 0.0,
        "p50": round(percentile(lat, 50), 2),
        "p95": round(percentile(lat, 95), 2),
        "p99": round(percentile(lat, 99), 2),
        "max": round(max(lat), 2) if lat else float("nan"),
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(out["statuses"].items())},
        "conflicts": out["codes"],
        "errors": errors,
        "error_samples": out["samples"][:3],
        "lag_p99": round(percentile(out["lag"], 99), 2),
        "server_cpu": out.get("server_cpu"),
        "server_cpu_ms_per_request": round(out["server_cpu_seconds"] * 1000 / len(lat), 1)
        if out.get("server_cpu_seconds") and lat
        else None,
        "timeouts": out["statuses"].get(0, 0),
        "load": out.get("load"),
    }


def knee(rows: list[dict]) -> dict:
    """The highest rate before queueing takes over (see the module docstring)."""
    curve = [r for r in rows if r["offered_rps"]]
    if not curve:
        return {"rate": None, "why": "no curve"}
    base = max(curve[0]["p95"], 1.0)
    best = None
    for row in curve:
        holds = row["p95"] <= 3 * base and row["achieved_rps"] >= 0.95 * row["offered_rps"]
        if not holds:
            return {
                "rate": best,
                "why": f"at {row['offered_rps']}/s: p95 {row['p95']} ms vs {base} ms at "
                f"{curve[0]['offered_rps']}/s, achieved {row['achieved_rps']}/s",
            }
        best = row["offered_rps"]
    return {"rate": best, "why": "every measured rate held (the knee is above it)"}


def run(quick: bool = False, *, rates=None, seconds=None, verbose: bool = True) -> dict:
    from bench import servers

    def say(message: str) -> None:
        if verbose:
            print(f"[bookings] {message}", flush=True)

    if not pg_reachable():
        say("skipped: PostgreSQL not reachable")
        return {"skipped": "PostgreSQL is not reachable at 127.0.0.1:5432"}
    if not servers.redis_reachable(REDIS_URL):
        return {"skipped": f"Redis is not reachable at {REDIS_URL}"}
    rates = tuple(rates or (RATES_QUICK if quick else RATES_FULL))
    seconds = seconds or (SECONDS_QUICK if quick else SECONDS_FULL)
    contended_rounds = int(seconds)
    plan = {
        "free": WARMUP_REQUESTS + sum(int(r * seconds) for r in rates),
        "contended_rounds": contended_rounds,
    }
    secret_key = secrets.token_urlsafe(40)
    prefix = f"skilllink-bookbench-{os.getpid()}-{secrets.token_hex(4)}"
    with database("postgres", tag="bookings") as (_backend, database_url):
        started = time.perf_counter()
        data = prepare(database_url, secret_key, plan)
        say(
            f"{len(data['free'])} learners and slots, {contended_rounds} contended groups "
            f"ready in {time.perf_counter() - started:.1f} s; credits: {data['credits']}"
        )
        try:
            with servers.cluster(
                2,
                database_url=database_url,
                secret_key=secret_key,
                redis_url=REDIS_URL,
                redis_prefix=prefix,
            ) as pair:
                curve, crowd, opened = run_generator(
                    drive(
                        [s.port for s in pair],
                        data,
                        rates,
                        seconds,
                        [s.process.pid for s in pair],
                    )
                )
                logs = "\n".join(s.output() for s in pair)
        finally:
            servers.redis_cleanup(REDIS_URL, prefix)
        counted = double_bookings(database_url)
    rows = [
        _row(f"{rate}/s open loop", out, offered=rate, expected={201})
        for rate, out in zip(rates, curve, strict=True)
    ]
    crowd_row = _row(
        f"contended: {CONTENDED_LEARNERS} learners on {CONTENDED_SLOTS} slots, every 1 s",
        crowd,
        offered=None,
        expected={201, 409},
    )
    crowd_row["expected_ok"] = contended_rounds * CONTENDED_SLOTS
    if crowd_row["ok"] != crowd_row["expected_ok"]:
        crowd_row["errors"] += abs(crowd_row["expected_ok"] - crowd_row["ok"])
    target_row = next((r for r in rows if r["offered_rps"] == TARGET_RATE), None)
    for row in rows:
        say(
            f"{row['name']}: p50 {row['p50']} p95 {row['p95']} p99 {row['p99']} ms, "
            f"achieved {row['achieved_rps']}/s, errors {row['errors']}, CPU {row['server_cpu']}"
        )
    say(
        f"{crowd_row['name']}: p95 {crowd_row['p95']} ms, {crowd_row['ok']} booked of "
        f"{crowd_row['expected_ok']}, statuses {crowd_row['statuses']}, errors {crowd_row['errors']}"
    )
    say(f"database: {counted}")
    tracebacks = logs.count("Traceback")
    return {
        "rates": rows,
        "contended": crowd_row,
        "double_bookings": counted["double_booked_slots"],
        "bookings_in_db": counted["bookings"],
        "knee": knee(rows),
        "seconds": seconds,
        "warmup_requests": WARMUP_REQUESTS,
        "connections_opened": opened,
        "credits": data["credits"],
        "server_tracebacks": tracebacks,
        "server_log_excerpt": logs[logs.index("Traceback") :][:2000] if tracebacks else "",
        "target": f"at {TARGET_RATE}/s p95 < {TARGET_P95_MS:g} ms and no errors; 0 double bookings",
        "pass": (
            target_row is not None
            and target_row["p95"] < TARGET_P95_MS
            and target_row["errors"] == 0
            and counted["double_booked_slots"] == 0
        )
        if target_row
        else None,
        # Errors at or below the target rate (and in the contended run) are failures; past
        # it they are the curve's overload (timeouts), reported, not failed on.
        "clean": all(
            r["errors"] == 0 for r in [*rows, crowd_row] if (r["offered_rps"] or 0) <= TARGET_RATE
        )
        and counted["double_booked_slots"] == 0,
    }


def table(report: dict) -> str:
    lines = [
        "| load | requests | achieved/s | p50 ms | p95 ms | p99 ms | max ms | errors | "
        "answers (0: no answer in 10 s) | server CPU (2 workers) | CPU ms/request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for row in [*report["rates"], report["contended"]]:
        cpu = " + ".join(f"{c:.0%}" for c in row["server_cpu"]) if row["server_cpu"] else "-"
        answers = ", ".join(f"{k} x{v}" for k, v in row["statuses"].items())
        lines.append(
            f"| {row['name']} | {row['requests']} | {row['achieved_rps']} | {row['p50']} | "
            f"{row['p95']} | {row['p99']} | {row['max']} | {row['errors']} | {answers} | {cpu} | "
            f"{row.get('server_cpu_ms_per_request') or '-'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bookings")
    parser.add_argument("--quick", action="store_true", help="25 and 50/s for 3 s")
    parser.add_argument("--rates", help="e.g. 25,50,100,200")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--json", help="also write the report here")
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        _prepare_child(json.loads(args.prepare), args.out)
        return 0
    rates = tuple(int(r) for r in args.rates.split(",")) if args.rates else None
    report = run(args.quick, rates=rates, seconds=args.seconds)
    if report.get("skipped"):
        print(f"skipped: {report['skipped']}")
        if args.json:
            Path(args.json).write_text(json.dumps(report))
        return 1
    print()
    print(table(report))
    print(f"\ndouble bookings: {report['double_bookings']}; knee: {report['knee']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0 if report["clean"] else 1


if __name__ == "__main__":
    sys.exit(main())
