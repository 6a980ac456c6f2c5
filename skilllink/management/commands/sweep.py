"""Run the periodic jobs once, or forever with --loop (one process per deployment is
enough; several are safe: every move re-checks its row under a lock)."""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from skilllink.wiring.periodic import periodic_run

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Expire requests, complete/no-show ended sessions, send reminders, expire match "
        "requests (and every other periodic job)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between runs (default: SKILLLINK_SWEEP_INTERVAL, 15).",
        )

    def handle(self, *args, loop: bool = False, interval: float | None = None, **options):
        interval = settings.SWEEP_INTERVAL_SECONDS if interval is None else interval
        while True:
            if loop:
                close_old_connections()  # a long-lived process must not keep a dead connection
            try:
                counts = periodic_run()
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
