"""The free plan's booking quota, in one place: its size, what it counts, the refusal.

A free learner may create at most ``FREE_PLAN_BOOKINGS_PER_WINDOW`` bookings in any
rolling ``FREE_PLAN_WINDOW_DAYS`` days (of 24 h). Bookings that ended through no act of the
learner (declined, expired, cancelled by the teacher, nobody came) stop counting: the
moves that cause those clear ``Booking.counts_for_quota``, so usage is one indexed
count (``booking_learner_created``). Premium (``User.is_premium``, read from the
database on every request) lifts the cap.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from accounts.models import User
from scheduling.models import Booking
from skilllink.errors import AppError

FREE_PLAN_BOOKINGS_PER_WINDOW = 2
FREE_PLAN_WINDOW_DAYS = 7
QUOTA_WINDOW = timedelta(days=FREE_PLAN_WINDOW_DAYS)


def quota_usage(*, learner: User, now: datetime) -> tuple[int, datetime | None]:
    """(bookings counted in the rolling window, when the oldest of them leaves it)."""
    usage = Booking.objects.filter(
        learner=learner, counts_for_quota=True, created_at__gt=now - QUOTA_WINDOW
    ).aggregate(used=Count("pk"), oldest=Min("created_at"))
    oldest = usage["oldest"]
    return usage["used"], (oldest + QUOTA_WINDOW if oldest else None)


def quota_refusal(*, learner: User, now: datetime) -> AppError | None:
    """403 ``upgrade_required`` when a free learner has used the window's bookings, else None."""
    if learner.is_premium(now):
        return None
    used, frees_at = quota_usage(learner=learner, now=now)
    if used < FREE_PLAN_BOOKINGS_PER_WINDOW:
        return None
    when = learner.local_label(frees_at) if frees_at else "a few days"
    return AppError(
        f"Free accounts book {FREE_PLAN_BOOKINGS_PER_WINDOW} sessions in any "
        f"{FREE_PLAN_WINDOW_DAYS} days. Upgrade to premium, or book again after {when}.",
        code="upgrade_required",
        status=403,
    )


def quota_check(*, learner: User, now: datetime) -> None:
    """Raise ``quota_refusal`` if there is one. Call under ``learner_lock`` so two requests
    cannot both take the last place."""
    refusal = quota_refusal(learner=learner, now=now)
    if refusal is not None:
        raise refusal


def plan_summary(*, user: User, now: datetime | None = None) -> dict[str, Any]:
    """The plan as ``/api/subscription/`` shows it, usage included."""
    now = now or timezone.now()
    premium = user.is_premium(now)
    used, frees_at = quota_usage(learner=user, now=now)
    return {
        "type": "premium" if premium else "free",
        "expires_at": user.subscription_expiry if premium else None,
        "bookings_used": used,
        "bookings_limit": None if premium else FREE_PLAN_BOOKINGS_PER_WINDOW,
        "window_days": FREE_PLAN_WINDOW_DAYS,
        # When the oldest counted booking leaves the window (a place frees up).
        "next_free_at": frees_at if not premium and used >= FREE_PLAN_BOOKINGS_PER_WINDOW else None,
    }
