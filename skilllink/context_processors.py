"""Settings every template may show (no app: core)."""

from django.conf import settings


def site_settings(request) -> dict:
    return {
        "room_opens_minutes": settings.ROOM_OPENS_MINUTES,
        "room_grace_minutes": settings.ROOM_GRACE_MINUTES,
    }
