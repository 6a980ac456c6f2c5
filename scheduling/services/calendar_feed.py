"""The private iCalendar feed: its secret token, and the RFC 5545 document."""

import secrets
from datetime import UTC, datetime, timedelta

import icalendar
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
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"SkillLink — {user.username}")
    calendar.add("refresh-interval", timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    for booking in bookings:
        other = booking.learner if booking.teacher_id == user.pk else booking.teacher
        role = "teaching" if booking.teacher_id == user.pk else "learning"
        skill = booking.skill.name if booking.skill else "Session"
        url = f"{site_url}/sessions/{booking.pk}/"
        event = icalendar.Event()
        event.add("uid", f"booking-{booking.pk}@skilllink")
        event.add("dtstamp", now.astimezone(UTC))
        event.add("dtstart", booking.start.astimezone(UTC))
        event.add("dtend", booking.end.astimezone(UTC))
        event.add("summary", f"{skill} with {other.username} ({role})")
        event.add("description", _description(booking, url))
        event.add("url", url)
        event.add(
            "status", "CANCELLED" if booking.status in (S.CANCELLED, S.NO_SHOW) else "CONFIRMED"
        )
        event.add("sequence", booking.moves)
        calendar.add_component(event)
    # The library escapes every text value (commas, semicolons, backslashes, line breaks)
    # and folds long lines (RFC 5545).
    return calendar.to_ical().decode()
