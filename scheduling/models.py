from datetime import UTC, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from skilllink.api_input import MOMENT_MAX_YEAR, MOMENT_MIN_YEAR, moment_in_range

SLOT_MIN_LENGTH = timedelta(minutes=15)
SLOT_MAX_LENGTH = timedelta(hours=4)


class AvailabilitySlot(models.Model):
    """A window a teacher offers. ``skill`` None means "any of my skills".

    A teacher's slots never overlap: checked in the service under a lock on the
    teacher's row and, on PostgreSQL, by an exclusion constraint (migration 0002).
    """

    # Indexed by slot_teacher_start: a second index on the teacher alone only tempted
    # PostgreSQL to read all of a teacher's slots and filter them by time.
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slots", db_index=False
    )
    skill = models.ForeignKey(
        "accounts.Skill", null=True, blank=True, on_delete=models.SET_NULL, related_name="slots"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="slot_end_after_start"),
        ]
        indexes = [
            models.Index(fields=["teacher", "start"], name="slot_teacher_start"),
            models.Index(fields=["start"], name="slot_start"),
            models.Index(fields=["skill", "start"], name="slot_skill_start"),
        ]

    def __str__(self) -> str:
        start, end = (t.astimezone(UTC) for t in (self.start, self.end))
        return f"{self.teacher} {start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"

    def clean(self) -> None:
        """Admin edits: no date any page would fail to show (services also keep a horizon)."""
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and not moment_in_range(value):
                raise ValidationError(
                    {name: f"Give a date between {MOMENT_MIN_YEAR} and {MOMENT_MAX_YEAR}."}
                )


class Booking(models.Model):
    """A mentoring session: a learner's request for a teacher's slot, and all that follows."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        DECLINED = "declined", "Declined"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"
        NO_SHOW = "no_show", "No show"

    ACTIVE_STATUSES = (Status.REQUESTED, Status.SCHEDULED, Status.IN_PROGRESS)
    # A slot with a booking in one of these is never offered again: a session that
    # ended early (completed) does not hand the rest of its time to someone else.
    SLOT_TAKEN_STATUSES = (*ACTIVE_STATUSES, Status.COMPLETED)

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings_as_learner"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings_as_teacher"
    )
    # SET_NULL: a teacher may delete an old slot; the booking keeps its own times.
    slot = models.ForeignKey(
        AvailabilitySlot, null=True, on_delete=models.SET_NULL, related_name="bookings"
    )
    skill = models.ForeignKey(
        "accounts.Skill", null=True, blank=True, on_delete=models.SET_NULL, related_name="bookings"
    )
    # Copied from the slot: a booked slot cannot move, and history must not either.
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED)
    message = models.TextField(blank=True, max_length=1000)
    # False once the booking ended through no act of the learner (declined, expired,
    # cancelled by the teacher, teacher no-show): it then frees its quota place.
    counts_for_quota = models.BooleanField(default=True)

    created_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    expired_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    # Seconds both participants were in the room (capped at the booked length): what the
    # teacher is paid for. Set when the session ends.
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Absent(models.TextChoices):
        NOBODY = "", "Both came"
        LEARNER = "learner", "The learner did not come"
        TEACHER = "teacher", "The teacher did not come"
        BOTH = "both", "Nobody came"

    # Who never came, for a session that ended as a no-show.
    absent = models.CharField(max_length=7, blank=True, choices=Absent.choices, default="")

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(status__in=["requested", "scheduled", "in_progress", "completed"]),
                name="booking_one_per_slot",
                violation_error_message="That slot has just been taken.",
            ),
            models.CheckConstraint(condition=~Q(learner=F("teacher")), name="booking_not_own_slot"),
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="booking_end_after_start"),
        ]
        indexes = [
            models.Index(fields=["learner", "created_at"], name="booking_learner_created"),
            models.Index(fields=["learner", "start"], name="booking_learner_start"),
            models.Index(fields=["teacher", "start"], name="booking_teacher_start"),
            models.Index(fields=["status", "start"], name="booking_status_start"),
        ]

    def __str__(self) -> str:
        return f"Booking {self.pk}: {self.learner} with {self.teacher} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def length_seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def session_label(self) -> str:
        """What the session is, for sentences: "Python session", or "session" without a skill."""
        return f"{self.skill.name} session" if self.skill else "session"


class BookingEvent(models.Model):
    """Audit trail: every move of a booking, when, and who made it (None = the system)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, blank=True, choices=Booking.Status.choices)
    to_status = models.CharField(max_length=12, choices=Booking.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.booking_id}: {self.from_status or '∅'} → {self.to_status}"


class MatchRequest(models.Model):
    """A learner's standing request for a skill within a time window, matched FIFO."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        MATCHED = "matched", "Matched"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="match_requests"
    )
    skill = models.ForeignKey("accounts.Skill", on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    message = models.TextField(blank=True, max_length=1000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # Why a pending request is still waiting, when a fitting slot was found but could not
    # be taken (not enough credits, say).
    reason = models.CharField(max_length=300, blank=True)
    booking = models.OneToOneField(
        Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="match_request"
    )
    # Only slots inside this time of day (the learner's zone, every day of the window);
    # both None: any time. ``day_end`` before ``day_start`` runs past midnight.
    day_start = models.TimeField(null=True, blank=True)
    day_end = models.TimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_end__gt=F("window_start")), name="match_window_valid"
            )
        ]
        indexes = [
            models.Index(
                fields=["skill", "created_at"],
                condition=Q(status="pending"),
                name="match_pending_fifo",
            )
        ]

    def __str__(self) -> str:
        return f"Match {self.pk}: {self.learner} wants {self.skill} ({self.status})"


class RescheduleRequest(models.Model):
    """A learner's request to move a scheduled session to another open slot of its teacher.

    At most one pending per booking (a partial unique index). Accepting moves the booking
    to ``slot`` (the old slot is open again); declining or withdrawing changes nothing.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"
        # The session was cancelled or began before anyone answered.
        CLOSED = "closed", "Closed"

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="reschedules")
    slot = models.ForeignKey(
        AvailabilitySlot, null=True, on_delete=models.SET_NULL, related_name="reschedules"
    )
    # The proposed time (copied from the slot) and the time it would replace.
    start = models.DateTimeField()
    end = models.DateTimeField()
    from_start = models.DateTimeField()
    from_end = models.DateTimeField()
    message = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["booking"],
                condition=Q(status="pending"),
                name="reschedule_one_pending_per_booking",
                violation_error_message="This session already has a pending request to move it.",
            ),
            models.CheckConstraint(
                condition=Q(end__gt=F("start")), name="reschedule_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"Move of booking {self.booking_id} ({self.status})"


class CalendarFeed(models.Model):
    """A private iCalendar feed URL: whoever has the token sees the user's sessions.

    Revoking replaces the token, so old subscriptions stop working at once.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"


class RoomVisit(models.Model):
    """One participant's time in the room through one connection (join and leave times).

    The facts of attendance: presence is read from open visits (so it holds across server
    processes), and settlement from all of them (a person is present while any of their
    connections is: several tabs and reconnects count once). Opened by ``booking_join``
    (the room socket, or the API's ``/join/`` for scripts, whose visit then lasts until
    the session ends), closed by ``room_leave``.
    """

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="room_visits")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_visits"
    )
    joined_at = models.DateTimeField(default=timezone.now)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        indexes = [
            models.Index(
                fields=["booking", "user"],
                condition=models.Q(left_at__isnull=True),
                name="visit_open",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in booking {self.booking_id} from {self.joined_at:%H:%M}"
