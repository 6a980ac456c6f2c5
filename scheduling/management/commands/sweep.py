"""Run the scheduling sweep once, or forever with --loop (one process per deployment is enough;
several are safe: every move re-checks its row under a lock)."""

import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from scheduling.services.sweep import sweep

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Expire requests, complete/no-show ended sessions, send reminders, expire match requests."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running.")
        parser.add_argument("--interval", type=float, default=15.0, help="Seconds between runs.")

    def handle(self, *args, loop: bool = False, interval: float = 15.0, **options):
        while True:
            if loop:
                close_old_connections()  # a long-lived process must not keep a dead connection
            try:
                counts = sweep()
            except Exception:
                if not loop:
                    raise
                logger.exception("Sweep failed; retrying in %.0fs", interval)
            else:
                if any(counts.values()) or not loop:
                    self.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()))
            if not loop:
                return
            time.sleep(interval)
