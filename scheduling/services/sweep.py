"""The automatic moves, in one idempotent pass: run it as often as you like."""

from datetime import datetime

from django.utils import timezone

from scheduling.models import Booking
from scheduling.rules import REMINDER_BEFORE, due_moves, due_q
from scheduling.services.matching import match_requests_expire
from scheduling.transitions import booking_apply_due, booking_send_reminder

BATCH = 500
# How the sweep reports each automatic move.
COUNTED_AS = {"expire": "expired", "no_show": "no_show", "auto_complete": "completed"}


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Expire unanswered requests, complete or no-show ended sessions, send reminders,
    expire match requests. Each move re-checks its row under a lock, so overlapping
    sweeps (several processes, or a read applying the same move) do nothing twice."""
    now = now or timezone.now()
    counts = {"expired": 0, "no_show": 0, "completed": 0, "reminded": 0, "matches_expired": 0}
    for move in due_moves():
        for booking in Booking.objects.filter(due_q(move, now=now)).order_by("start")[:BATCH]:
            before = booking.status
            if booking_apply_due(booking=booking, now=now).status != before:
                counts[COUNTED_AS[move.action]] += 1
    for booking in Booking.objects.filter(
        status=Booking.Status.SCHEDULED,
        reminder_sent_at__isnull=True,
        start__gt=now,
        start__lte=now + REMINDER_BEFORE,
    )[:BATCH]:
        counts["reminded"] += booking_send_reminder(booking=booking, now=now)
    counts["matches_expired"] = match_requests_expire(now=now)
    return counts
