"""Reads for the assistant: quotas, saved exchanges, recaps, what a room needs on join."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from assistant import client
from assistant.models import Exchange, SessionRecap
from scheduling.models import Booking

ROOM_HISTORY_LIMIT = 50
# Sessions that ended longer ago than this get no recap (e.g. when a key is added later).
RECAP_LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class Quota:
    used: int
    limit: int
    resets_at: datetime  # the next midnight in the user's time zone

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def payload(self) -> dict[str, Any]:
        return {
            "used": self.used,
            "limit": self.limit,
            "remaining": self.remaining,
            "resets_at": self.resets_at.isoformat(),
        }


def daily_limit(user: User, now: datetime) -> int:
    if user.is_premium(now):
        return settings.ASSISTANT_DAILY_PROMPTS_PREMIUM
    return settings.ASSISTANT_DAILY_PROMPTS


def day_bounds(user: User, now: datetime) -> tuple[datetime, datetime]:
    """The user's current local day, as aware datetimes (start, next midnight)."""
    local = now.astimezone(user.zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Aware arithmetic adds wall-clock time: next midnight in that day's offset (DST-safe).
    return start, start + timedelta(days=1)


def quota_for(*, user: User, now: datetime | None = None) -> Quota:
    """Questions the user asked today (their zone) that count, out of their daily limit."""
    now = now or timezone.now()
    start, end = day_bounds(user, now)
    used = Exchange.objects.filter(
        asked_by=user, created_at__gte=start, counts_for_quota=True
    ).count()
    return Quota(used=used, limit=daily_limit(user, now), resets_at=end)


def exchange_payload(exchange: Exchange) -> dict[str, Any]:
    """An exchange as sockets and the API show it (``request_id`` is its id)."""
    error = None
    if exchange.error_code:
        error = {"code": exchange.error_code, "detail": exchange.error_detail}
    return {
        "request_id": exchange.pk,
        "booking": exchange.booking_id,
        "asked_by": {"id": exchange.asked_by_id, "name": exchange.asked_by.username},
        "prompt": exchange.prompt,
        "include_chat": exchange.include_chat,
        "status": exchange.status,
        "markdown": exchange.markdown,
        "html": exchange.html,
        "truncated": exchange.truncated,
        "error": error,
        "model": exchange.model,
        "created_at": exchange.created_at.isoformat(),
        "first_chunk_ms": exchange.first_chunk_ms,
        "total_ms": exchange.total_ms,
    }


def exchanges_for_booking(*, booking_id: int, limit: int = ROOM_HISTORY_LIMIT) -> list[Exchange]:
    """The session's last ``limit`` exchanges, oldest first. Caller checked access."""
    latest = (
        Exchange.objects.filter(booking_id=booking_id)
        .select_related("asked_by")
        .order_by("-created_at", "-id")[:limit]
    )
    return list(reversed(list(latest)))


def exchanges_on_page(*, user: User, limit: int = 20) -> list[Exchange]:
    """The user's own questions from the assistant page (no session), newest first."""
    return list(
        Exchange.objects.filter(asked_by=user, booking__isnull=True)
        .select_related("asked_by")
        .order_by("-created_at", "-id")[:limit]
    )


def room_state(*, booking_id: int, user: User, now: datetime | None = None) -> dict[str, Any]:
    """The assistant's part of the ``room`` frame a socket gets on connect: configured?,
    the user's quota, the session's saved exchanges, the answer running (its id) if any.
    Caller checked access."""
    configured = client.configured()
    history = exchanges_for_booking(booking_id=booking_id)
    running = next((e.pk for e in history if e.status == Exchange.Status.STREAMING), None)
    return {
        "configured": configured,
        "model": settings.GEMINI_MODEL if configured else None,
        "max_prompt_chars": settings.ASSISTANT_MAX_PROMPT_CHARS,
        "quota": quota_for(user=user, now=now).payload(),
        "history": [exchange_payload(e) for e in history],
        "running": running,
    }


def recap_for_booking(*, booking_id: int) -> SessionRecap | None:
    return SessionRecap.objects.filter(booking_id=booking_id).first()


def recaps_due(*, now: datetime, since: datetime, stale_before: datetime, limit: int) -> list[int]:
    """Completed sessions (ended since ``since``) with no recap, or whose recap claim was
    abandoned (running since before ``stale_before``), oldest first."""
    return list(
        Booking.objects.filter(status=Booking.Status.COMPLETED, ended_at__gte=since)
        .filter(
            Q(assistant_recap__isnull=True)
            | Q(
                assistant_recap__status=SessionRecap.Status.RUNNING,
                assistant_recap__claimed_at__lt=stale_before,
            )
        )
        .order_by("ended_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def session_panels(*, booking: Booking, user: User) -> list[dict[str, Any]]:
    """The assistant's panels on a session's page: the recap (once the session is
    completed) and the questions asked during it. ``user`` takes part in ``booking``."""
    panels: list[dict[str, Any]] = []
    if booking.status == Booking.Status.COMPLETED:
        recap = recap_for_booking(booking_id=booking.pk)
        coming = (
            client.configured()
            and booking.ended_at is not None
            and booking.ended_at >= timezone.now() - RECAP_LOOKBACK
        )
        if recap is not None or coming:
            panels.append({"template": "assistant/_session_recap.html", "recap": recap})
    exchanges = exchanges_for_booking(booking_id=booking.pk)
    if exchanges:
        panels.append({"template": "assistant/_session_exchanges.html", "exchanges": exchanges})
    return panels
