"""The periodic jobs: the scheduling sweep and the assistant's recaps.

``manage.py sweep`` runs them once (or, with ``--loop``, each in its own thread on its
interval); without Redis the server process runs them instead (``InProcessJobs``: one
task per job on the server's loop, started at ASGI lifespan startup, or with the first
connection on a server without lifespan, such as daphne). With the in-memory channel
layer only code in the server process can reach its sockets, so there they must run in
the server (design §2).

Each job is idempotent and safe in several processes at once (every move re-checks its
row under a lock; a recap is claimed by one insert), so one runner per deployment is
enough and more are harmless. Jobs run apart so a slow one (a recap waits on Gemini) never
holds up another (sessions expire and complete on time).
"""

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from assistant.services import recaps_run_due
from scheduling.services.sweep import sweep

logger = logging.getLogger(__name__)

RECAPS_PER_RUN = 3  # each may wait on Gemini (up to about 2 x GEMINI_TIMEOUT_SECONDS)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[], dict[str, int]]


def _recaps() -> dict[str, int]:
    return {"recaps": recaps_run_due(limit=RECAPS_PER_RUN)}


JOBS = (Job("sweep", lambda: sweep()), Job("recaps", _recaps))


def periodic_run() -> dict[str, int]:
    """One pass of every job, one after the other; what each did, by name."""
    counts: dict[str, int] = {}
    for job in JOBS:
        counts.update(job.run())
    return counts


def _run_once(job: Job) -> dict[str, int]:
    close_old_connections()  # a long-lived loop must not keep a dead connection
    try:
        return job.run()
    finally:
        close_old_connections()


def job_loop(job: Job, interval: float, report: Callable[[str, dict[str, int]], None]) -> None:
    """Run ``job`` every ``interval`` seconds, forever (a thread of ``manage.py sweep --loop``)."""
    while True:
        try:
            counts = _run_once(job)
        except Exception:
            logger.exception("Periodic job %s failed; retrying in %.0fs", job.name, interval)
        else:
            if any(counts.values()):
                report(job.name, counts)
        time.sleep(interval)


def job_threads(interval: float, report: Callable[[str, dict[str, int]], None]) -> list:
    threads = [
        threading.Thread(target=job_loop, args=(job, interval, report), name=job.name, daemon=True)
        for job in JOBS
    ]
    for thread in threads:
        thread.start()
    return threads


class InProcessJobs:
    """ASGI wrapper that runs every job every ``SWEEP_INTERVAL_SECONDS`` on this server's
    loop (when ``SWEEP_IN_PROCESS``), each in its own task."""

    def __init__(self, app):
        self.app = app
        self.tasks: list[asyncio.Task] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        self._start()
        return await self.app(scope, receive, send)

    def _start(self) -> None:
        if not self.tasks and settings.SWEEP_IN_PROCESS:
            loop = asyncio.get_running_loop()
            self.tasks = [loop.create_task(self._run(job)) for job in JOBS]

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self.tasks:
                    task.cancel()
                self.tasks = []
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _run(self, job: Job) -> None:
        while True:
            try:
                counts = await sync_to_async(_run_once, thread_sensitive=False)(job)
                if any(counts.values()):
                    logger.info("%s: %s", job.name, counts)
            except Exception:
                logger.exception("In-process job %s failed", job.name)
            await asyncio.sleep(settings.SWEEP_INTERVAL_SECONDS)
