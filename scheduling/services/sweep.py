"""The automatic moves, in one idempotent pass: run it as often as you like."""

from datetime import datetime

from django.utils import timezone

from scheduling.models import Booking
from scheduling.services.matching import match_requests_expire
from scheduling.transitions import (
    REMINDER_BEFORE,
    ROOM_GRACE_AFTER,
    booking_apply_due,
    booking_send_reminder,
)

BATCH = 500


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Expire unanswered requests, complete or no-show ended sessions, send reminders,
    expire match requests. Each move re-checks its row under a lock, so overlapping
    sweeps (several processes, or a read applying the same move) do nothing twice."""
    now = now or timezone.now()
    counts = {"expired": 0, "no_show": 0, "completed": 0, "reminded": 0, "matches_expired": 0}
    S = Booking.Status
    due = [
        ("expired", Booking.objects.filter(status=S.REQUESTED, start__lte=now)),
        ("no_show", Booking.objects.filter(status=S.SCHEDULED, end__lte=now)),
        (
            "completed",
            Booking.objects.filter(status=S.IN_PROGRESS, end__lte=now - ROOM_GRACE_AFTER),
        ),
    ]
    for key, queryset in due:
        for booking in queryset.order_by("start")[:BATCH]:
            before = booking.status
            if booking_apply_due(booking=booking, now=now).status != before:
                counts[key] += 1
    for booking in Booking.objects.filter(
        status=S.SCHEDULED,
        reminder_sent_at__isnull=True,
        start__gt=now,
        start__lte=now + REMINDER_BEFORE,
    )[:BATCH]:
        counts["reminded"] += booking_send_reminder(booking=booking, now=now)
    counts["matches_expired"] = match_requests_expire(now=now)
    return counts
