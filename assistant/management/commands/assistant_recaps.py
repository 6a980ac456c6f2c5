"""Write recaps of completed sessions, once or forever with --loop (several processes
are safe: each session's recap is claimed by one row)."""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from assistant.services import recaps_run_due

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Write the assistant's recaps of completed sessions that have none yet."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running.")
        parser.add_argument(
            "--interval",
            type=float,
            default=settings.SWEEP_INTERVAL_SECONDS,
            help="Seconds between runs (default: SKILLLINK_SWEEP_INTERVAL).",
        )
        parser.add_argument("--limit", type=int, default=10, help="Recaps per run.")

    def handle(self, *args, loop: bool = False, interval: float = 15.0, limit: int = 10, **options):
        if not settings.GEMINI_API_KEY:
            self.stderr.write("The assistant is not configured (GEMINI_API_KEY): no recaps.")
        while True:
            if loop:
                close_old_connections()  # a long-lived process must not keep a dead connection
            try:
                count = recaps_run_due(limit=limit)
            except Exception:
                if not loop:
                    raise
                logger.exception("Recaps failed; retrying in %.0fs", interval)
            else:
                if count or not loop:
                    self.stdout.write(f"recaps={count}")
            if not loop:
                return
            time.sleep(interval)
