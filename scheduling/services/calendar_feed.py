"""The private iCalendar feed: its secret token, and the RFC 5545 document."""

import secrets
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import User
from scheduling.models import Booking, CalendarFeed

PRODID = "-//SkillLink//Sessions//EN"
HISTORY = timedelta(days=30)


def calendar_feed_token(*, user: User) -> str:
    """The user's feed token, created on first use."""
    feed = CalendarFeed.objects.filter(user=user).first()
    if feed is None:
        with transaction.atomic():
            feed, _ = CalendarFeed.objects.get_or_create(
                user=user, defaults={"token": secrets.token_urlsafe(32)}
            )
    return feed.token


def calendar_feed_reset(*, user: User) -> str:
    """Revoke the old URL and issue a new one."""
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(user=user, defaults={"token": token})
    return token


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Fold content lines longer than 75 octets (RFC 5545 §3.1), never inside a UTF-8 sequence."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        if size + width > (75 if not parts else 74):
            parts.append(current)
            current, size = "", 0
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _description(booking: Booking, url: str) -> str:
    note = f"{booking.message}\n\n" if booking.message else ""
    return f"{note}Session page and room: {url}"


def calendar_feed_document(*, token: str, site_url: str, now: datetime | None = None) -> str | None:
    """The feed for ``token`` (None if no such feed): the owner's sessions as VEVENTs."""
    feed = CalendarFeed.objects.select_related("user").filter(token=token).first()
    if feed is None:
        return None
    user = feed.user
    now = now or timezone.now()
    S = Booking.Status
    bookings = (
        Booking.objects.filter(Q(learner=user) | Q(teacher=user))
        .filter(
            Q(status__in=[S.SCHEDULED, S.IN_PROGRESS])
            | Q(status__in=[S.COMPLETED, S.CANCELLED, S.NO_SHOW], start__gte=now - HISTORY)
        )
        .select_related("learner", "teacher", "skill")
        .annotate(moves=Count("events"))
        .order_by("start")
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(f'SkillLink — {user.username}')}",
        "REFRESH-INTERVAL;VALUE=DURATION:PT15M",
    ]
    for booking in bookings:
        other = booking.learner if booking.teacher_id == user.pk else booking.teacher
        role = "teaching" if booking.teacher_id == user.pk else "learning"
        skill = booking.skill.name if booking.skill else "Session"
        url = f"{site_url}/sessions/{booking.pk}/"
        status = "CANCELLED" if booking.status in (S.CANCELLED, S.NO_SHOW) else "CONFIRMED"
        lines += [
            "BEGIN:VEVENT",
            f"UID:booking-{booking.pk}@skilllink",
            f"DTSTAMP:{_utc(now)}",
            f"DTSTART:{_utc(booking.start)}",
            f"DTEND:{_utc(booking.end)}",
            f"SUMMARY:{_escape(f'{skill} with {other.username} ({role})')}",
            f"DESCRIPTION:{_escape(_description(booking, url))}",
            f"URL:{url}",
            f"STATUS:{status}",
            f"SEQUENCE:{booking.moves}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
