"""Reads for accounts."""

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Notification, User
from skilllink.errors import NotFound

FREE_PLAN_BOOKINGS_PER_WINDOW = 2
FREE_PLAN_WINDOW_DAYS = 7


def notification_payload(notification: Notification) -> dict[str, Any]:
    """The one JSON shape of a notification (REST list and socket push alike)."""
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }


def notification_list(*, user: User, unread_only: bool = False, limit: int = 50) -> QuerySet:
    qs = Notification.objects.filter(user=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")[:limit]


def notification_unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_get_for_user(*, user: User, notification_id: int) -> Notification:
    try:
        return Notification.objects.get(pk=notification_id, user=user)
    except Notification.DoesNotExist:
        raise NotFound("No such notification.") from None


def user_subscription_summary(*, user: User) -> dict[str, Any]:
    """Plan facts derivable from the account itself.

    ``bookings_used`` joins this once bookings exist (the booking issue owns the quota).
    """
    premium = user.is_premium(timezone.now())
    return {
        "type": "premium" if premium else "free",
        "expires_at": user.subscription_expiry.isoformat()
        if premium and user.subscription_expiry
        else None,
        "bookings_limit": None if premium else FREE_PLAN_BOOKINGS_PER_WINDOW,
        "window_days": FREE_PLAN_WINDOW_DAYS,
    }
