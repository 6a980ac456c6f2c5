"""The periodic jobs, in one pass (``periodic_run``), run by ``manage.py sweep --loop`` or
inside the server process.

With the in-memory channel layer only code running in the server process can reach its
sockets, so there the loop must run in the server (design §2). The loop starts at ASGI
lifespan startup (uvicorn) or, on a server without lifespan (daphne), with the first
connection the server handles; it is cancelled at lifespan shutdown.

Each job is idempotent and safe to run in several processes at once (every move
re-checks its row under a lock), so one loop per deployment is enough and more are
harmless.
"""

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from scheduling.services.sweep import sweep

logger = logging.getLogger(__name__)


def periodic_run() -> dict[str, int]:
    """One pass of every periodic job; what each did, by name."""
    return sweep()


def _run_once() -> dict[str, int]:
    close_old_connections()  # a long-lived loop must not keep a dead connection
    try:
        return periodic_run()
    finally:
        close_old_connections()


class InProcessSweep:
    """ASGI wrapper that runs ``periodic_run`` every ``SWEEP_INTERVAL_SECONDS`` on this
    server's loop (when ``SWEEP_IN_PROCESS``)."""

    def __init__(self, app):
        self.app = app
        self.task: asyncio.Task | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        self._start()
        return await self.app(scope, receive, send)

    def _start(self) -> None:
        if self.task is None and settings.SWEEP_IN_PROCESS:
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.task is not None:
                    self.task.cancel()
                    self.task = None
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _run(self) -> None:
        while True:
            try:
                counts = await sync_to_async(_run_once, thread_sensitive=False)()
                if any(counts.values()):
                    logger.info("sweep: %s", counts)
            except Exception:
                logger.exception("In-process sweep failed")
            await asyncio.sleep(settings.SWEEP_INTERVAL_SECONDS)
