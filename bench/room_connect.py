"""Issue 5 (b): time from both participants pressing Join to WebRTC ``connected``.

``DEBUG=1 .venv/bin/python -m bench.room_connect [--runs 20]``

One server process (uvicorn, in-memory channel layer, ``SKILLLINK_ICE_SERVERS=[]`` so only
host candidates are gathered) on a fresh SQLite database holding one scheduled
booking per run (start ~5 minutes away: the room is open), prepared by
``bench.chat.prepare`` in a child process, with a session cookie for every
participant (Django's test ``Client.force_login``; the cookie is copied into the
browser context, which skips the login form).

Per run: two Playwright contexts (teacher, learner) in one Debian Chromium with fake
camera and microphone open ``/sessions/<id>/room/``, wait for the pre-join preview,
then ``[data-join]`` is clicked in both pages concurrently. The sample is from the
earlier click to the later of the two pages' ``RTCPeerConnection`` reaching
``connected`` (timestamps taken inside the pages by an init script, on the shared
wall clock); a run fails if either page is not ``connected`` within 10 s
(``window.__room.pc.connectionState``). One warm-up run is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import sys
import time
from pathlib import Path

from bench.chat import BASE_DIR, database, prepare, table, write_results
from bench.stats import percentile
from tests.browser import CHROMIUM_ARGS, ROOM_OBSERVER  # shared with the browser tests

CHROMIUM = "/usr/lib/chromium/chromium"
CONNECT_TIMEOUT_MS = 10_000
PAGE_TIMEOUT_MS = 20_000
TARGET_P50_MS = 1000.0
WARMUP_RUNS = 1

PREVIEW_READY = "() => document.querySelector('[data-preview]')?.videoWidth > 0"
PC_CONNECTED = "() => window.__room?.pc?.connectionState === 'connected'"


async def _open(browser, base_url: str, booking_id: int, sessionid: str):
    context = await browser.new_context(viewport={"width": 1000, "height": 700})
    await context.add_cookies([{"name": "sessionid", "value": sessionid, "url": base_url}])
    page = await context.new_page()
    await page.add_init_script(ROOM_OBSERVER)
    response = await page.goto(f"{base_url}/sessions/{booking_id}/room/")
    if response is None or response.status != 200:
        raise RuntimeError(f"room page answered {response and response.status}")
    await page.wait_for_function(PREVIEW_READY, timeout=PAGE_TIMEOUT_MS)
    return context, page


async def _one_run(browser, base_url: str, row: dict) -> dict:
    booking = row["booking"]
    contexts = []
    try:
        opened = await asyncio.gather(
            _open(browser, base_url, booking, row["teacher"]["sessionid"]),
            _open(browser, base_url, booking, row["learner"]["sessionid"]),
        )
        contexts = [context for context, _ in opened]
        pages = [page for _, page in opened]
        started = time.perf_counter()
        await asyncio.gather(*(page.click("[data-join]") for page in pages))
        try:
            await asyncio.gather(
                *(
                    page.wait_for_function(PC_CONNECTED, timeout=CONNECT_TIMEOUT_MS, polling=20)
                    for page in pages
                )
            )
        except Exception as error:
            states = [
                await page.evaluate("window.__room?.pc?.connectionState ?? null") for page in pages
            ]
            return {"ok": False, "why": f"{type(error).__name__}: states {states}"}
        client_ms = (time.perf_counter() - started) * 1000
        marks = [await page.evaluate("window.__observed") for page in pages]
        join = min(m["joinAt"] for m in marks)
        connected = max(m["connectedAt"] for m in marks)
        skew = abs(marks[0]["joinAt"] - marks[1]["joinAt"])
        return {"ok": True, "ms": connected - join, "client_ms": client_ms, "skew_ms": skew}
    except Exception as error:
        return {"ok": False, "why": f"{type(error).__name__}: {str(error).splitlines()[0]}"}
    finally:
        for context in contexts:
            await context.close()


async def _runs(base_url: str, rows: list[dict], verbose: bool) -> list[dict]:
    from playwright.async_api import async_playwright

    outcomes = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for i, row in enumerate(rows):
                outcome = await _one_run(browser, base_url, row)
                outcome["warmup"] = i < WARMUP_RUNS
                outcomes.append(outcome)
                if verbose:
                    label = "warm-up" if outcome["warmup"] else f"run {i - WARMUP_RUNS + 1}"
                    detail = (
                        f"{outcome['ms']:.0f} ms (client {outcome['client_ms']:.0f} ms, "
                        f"join skew {outcome['skew_ms']:.0f} ms)"
                        if outcome["ok"]
                        else f"FAILED {outcome['why']}"
                    )
                    print(f"[room_connect] {label}: {detail}", flush=True)
        finally:
            await browser.close()
    return outcomes


def run(quick: bool = False, *, runs: int | None = None, verbose: bool = True) -> list[dict]:
    """Join → both ``connected`` over ``runs`` browser runs (default 20; quick: 5).

    One row: ``{benchmark, backend, n, p50, p95, p99, max, lost, target, pass, notes}``
    (times in ms; ``lost`` = failed runs, ``n`` = successful runs).
    """
    from tests.live_server import Server

    runs = runs or (5 if quick else 20)
    secret_key = secrets.token_urlsafe(40)
    with database("sqlite", tag="room") as (backend, database_url):
        rows = prepare(database_url, secret_key, runs + WARMUP_RUNS, sessions=True)
        server = Server(
            database_url=database_url,
            secret_key=secret_key,
            redis_url=None,
            extra_env={"SKILLLINK_ICE_SERVERS": "[]"},
        )
        try:
            server.wait_ready()
            outcomes = asyncio.run(_runs(server.url, rows, verbose))
            tracebacks = server.output().count("Traceback")
        finally:
            server.stop()
    counted = [o for o in outcomes if not o["warmup"]]
    times = [o["ms"] for o in counted if o["ok"]]
    failed = len(counted) - len(times)
    p50 = percentile(times, 50)
    success = len(times) / len(counted) if counted else 0.0
    failures = sorted({o["why"] for o in counted if not o["ok"]})[:3]
    notes = (
        f"success {len(times)}/{len(counted)} ({success:.0%}), one uvicorn server, in-memory layer, "
        f"{backend}, host candidates only, Chromium fake media, 1 warm-up run not counted; "
        f"client-side wall p50 {percentile([o['client_ms'] for o in counted if o['ok']], 50):.0f} ms"
    )
    if failures:
        notes += f"; failures: {failures}"
    if tracebacks:
        notes += f"; {tracebacks} tracebacks in the server log"
    return [
        {
            "benchmark": "room: both press Join → RTCPeerConnection connected on both",
            "backend": "uvicorn x1, InMemoryChannelLayer, sqlite",
            "n": len(times),
            "p50": p50,
            "p95": percentile(times, 95),
            "p99": percentile(times, 99),
            "max": max(times) if times else math.nan,
            "lost": failed,
            "target": f"100% success, p50 < {TARGET_P50_MS:g} ms",
            "pass": bool(times) and failed == 0 and p50 < TARGET_P50_MS,
            "notes": notes,
        }
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.room_connect")
    parser.add_argument("--runs", type=int, help="counted runs (default 20; quick 5)")
    parser.add_argument("--quick", action="store_true", help="5 runs")
    parser.add_argument(
        "--write", action="store_true", help="also write its bench/results-*.md page"
    )
    parser.add_argument("--json", help="write the rows here (bench.report reads it)")
    args = parser.parse_args(argv)
    rows = run(args.quick, runs=args.runs)
    print()
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, default=str))
    if args.write:
        write_results(
            BASE_DIR / "bench" / "results-room.md",
            "Meeting room: Join to connected (issue 5b)",
            rows,
            "How: `python -m bench.room_connect` (see its docstring): two Chromium pages "
            "with fake camera and microphone, loopback, host ICE candidates only.",
        )
    return 0 if all(row["pass"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
