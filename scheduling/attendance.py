"""Attendance: who was in the room when, measured from the room's visits.

A person is present while any of their connections is open (several tabs and reconnects
count once: their visits are merged). What the teacher is paid for is the time both were
present inside the booked time (``scheduling.transitions`` settles from it); a visit still
open when a session ends (a closed laptop, a server that died) counts until that end.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from accounts.models import User
from scheduling.models import Booking, RoomVisit

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Attendance:
    """Seconds present inside the booked time (fractions kept: a moment counts as coming)."""

    learner_seconds: float
    teacher_seconds: float
    both_seconds: float

    @property
    def learner_came(self) -> bool:
        return self.learner_seconds > 0

    @property
    def teacher_came(self) -> bool:
        return self.teacher_seconds > 0


def _merged(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _seconds(spans: list[Span]) -> float:
    return sum((end - start).total_seconds() for start, end in spans)


def _overlap(a: list[Span], b: list[Span]) -> list[Span]:
    both: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            both.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return both


def attendance_measure(*, booking: Booking, until: datetime) -> Attendance:
    """Who was present within the booked time up to ``until`` (the session's end)."""
    window_start, window_end = booking.start, min(booking.end, until)
    spans: dict[int, list[Span]] = {booking.learner_id: [], booking.teacher_id: []}
    visits = RoomVisit.objects.filter(booking=booking).values_list(
        "user_id", "joined_at", "left_at"
    )
    for user_id, joined, left in visits:
        start, end = max(joined, window_start), min(left or window_end, window_end)
        if user_id in spans and start < end:
            spans[user_id].append((start, end))
    learner, teacher = _merged(spans[booking.learner_id]), _merged(spans[booking.teacher_id])
    return Attendance(
        learner_seconds=_seconds(learner),
        teacher_seconds=_seconds(teacher),
        both_seconds=_seconds(_overlap(learner, teacher)),
    )


def visit_open(*, booking: Booking, user: User, now: datetime) -> RoomVisit:
    """A participant's connection enters the room (call inside ``booking_join``)."""
    return RoomVisit.objects.create(booking=booking, user=user, joined_at=now)


def visit_close(*, visit_id: int, now: datetime | None = None) -> None:
    """A connection left the room (idempotent)."""
    RoomVisit.objects.filter(pk=visit_id, left_at__isnull=True).update(
        left_at=now or timezone.now()
    )


def room_connections(*, booking_id: int) -> dict[int, int]:
    """Open visits (sockets) per user in the room: presence."""
    counts: dict[int, int] = {}
    for user_id in RoomVisit.objects.filter(
        booking_id=booking_id, left_at__isnull=True
    ).values_list("user_id", flat=True):
        counts[user_id] = counts.get(user_id, 0) + 1
    return counts
