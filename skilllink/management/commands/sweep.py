"""Run the periodic jobs (the sweep, the recaps) once, or forever with --loop (one process
per deployment is enough; several are safe: every move re-checks its row under a lock)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from skilllink.wiring.periodic import job_threads, periodic_run


class Command(BaseCommand):
    help = (
        "Expire requests, complete/no-show ended sessions, send reminders, expire match "
        "requests, write session recaps."
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
        if not loop:
            counts = periodic_run()
            self.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()))
            return
        interval = settings.SWEEP_INTERVAL_SECONDS if interval is None else interval

        def report(name: str, counts: dict[str, int]) -> None:
            self.stdout.write(f"{name}: " + " ".join(f"{k}={v}" for k, v in counts.items()))

        for thread in job_threads(interval, report):
            thread.join()  # forever: the jobs never return
