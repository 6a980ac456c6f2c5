"""Scheduling rules that several reads and writes must agree on, each defined once.

Pages, API endpoints, the state machine, the sweep, matchmaking, discovery and the room
consumer ask these functions; none of them restates a rule:

- ``room_access``: when a booking's room is open, and why not;
- ``booking_action_refusal`` / ``booking_actions``: what a participant may do now;
- ``DUE_MOVES`` / ``due_move`` / ``due_q``: the automatic moves and when they are due;
- ``slot_fits_skill`` / ``slot_fits_skill_q``: which slots serve a skill;
- ``overlapping_q``: sessions that overlap a time range;
- ``bookable_teachers`` (and its forms): who may be booked;
- ``horizon_check``: how far ahead anything may be offered or asked for;
- ``day_ranges`` / ``fits_day_range``: a learner's time of day (e.g. only 18:00-21:00).
"""

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import Combinable

from accounts.models import Skill, TeacherSkill, User
from credits.selectors import credits_price
from scheduling.models import SLOT_MAX_LENGTH, AvailabilitySlot, Booking, RescheduleRequest
from skilllink.errors import AppError, Conflict, Forbidden

S = Booking.Status


# --- The room ---------------------------------------------------------------------------
# A booking's room opens ROOM_OPENS_MINUTES before the start, for scheduled and running
# sessions, and closes ROOM_GRACE_MINUTES after the end.


def room_opens_before() -> timedelta:
    return timedelta(minutes=settings.ROOM_OPENS_MINUTES)


def room_grace_after() -> timedelta:
    return timedelta(minutes=settings.ROOM_GRACE_MINUTES)


ROOM_STATUSES = (S.SCHEDULED, S.IN_PROGRESS)


@dataclass(frozen=True)
class RoomAccess:
    opens: datetime
    closes: datetime
    # None when the room is open now; else why not, in a sentence for people.
    refusal: str | None

    @property
    def open(self) -> bool:
        return self.refusal is None

    @property
    def not_yet(self) -> bool:
        """Closed only because it is too early (a waiting room makes sense)."""
        return self.refusal is not None and self.refusal == _NOT_YET


_NOT_YET = "not yet"


def room_access(*, booking: Booking, now: datetime) -> RoomAccess:
    """Whether ``booking``'s room is open at ``now`` (for its participants), and if not, why."""
    opens, closes = booking.start - room_opens_before(), booking.end + room_grace_after()
    if booking.status not in ROOM_STATUSES:
        refusal = f"The room is only open for accepted sessions (this one is {booking.get_status_display().lower()})."
    elif now < opens:
        refusal = _NOT_YET
    elif now > closes:
        refusal = "The session's time is over."
    else:
        refusal = None
    return RoomAccess(opens=opens, closes=closes, refusal=refusal)


def room_closed_error(access: RoomAccess) -> AppError:
    detail = access.refusal
    if access.not_yet:
        detail = f"The room opens {settings.ROOM_OPENS_MINUTES} minutes before the session starts."
    return AppError(detail, code="room_closed", status=403)


# --- What a participant may do ----------------------------------------------------------

ACTIONS = (
    "accept",
    "decline",
    "cancel",
    "join",
    "complete",
    "rate",
    "reschedule",
    "accept_reschedule",
    "decline_reschedule",
    "withdraw_reschedule",
)
RESCHEDULE_ACTIONS = ACTIONS[6:]

_UNREAD = object()


def pending_reschedule(booking: Booking) -> RescheduleRequest | None:
    """The booking's pending request to move it, if any (read once per booking instance;
    the moves that change it set it, see ``pending_reschedule_known``)."""
    known = getattr(booking, "_pending_reschedule", _UNREAD)
    if known is _UNREAD:
        known = None
        if booking.status == S.SCHEDULED:
            known = (
                RescheduleRequest.objects.filter(
                    booking_id=booking.pk, status=RescheduleRequest.Status.PENDING
                )
                .select_related("slot")
                .first()
            )
        booking._pending_reschedule = known
    return known


def pending_reschedule_known(booking: Booking, request: RescheduleRequest | None) -> None:
    """Tell ``booking`` its pending request to move (after a move changed it)."""
    booking._pending_reschedule = request


def _reschedule_refusal(
    action: str, booking: Booking, user: User, now: datetime
) -> AppError | None:
    """Moving a scheduled session: the learner asks (or withdraws), the teacher answers;
    one request at a time, before the session starts."""
    is_learner = user.pk == booking.learner_id
    asks = action in ("reschedule", "withdraw_reschedule")
    if asks and not is_learner:
        return Forbidden("Only the learner can ask to move a session.")
    if not asks and is_learner:
        return Forbidden("Only the teacher answers a request to move a session.")
    if booking.status != S.SCHEDULED:
        label = booking.get_status_display().lower()
        return Conflict(f"A {label} session cannot be moved.", code="invalid_transition")
    if now >= booking.start:
        return Conflict(
            "The session has started; it can no longer be moved.", code="invalid_transition"
        )
    pending = pending_reschedule(booking)
    if action == "reschedule":
        if pending is not None:
            return Conflict(
                "You have already asked to move this session; wait for the answer or "
                "withdraw that request first.",
                code="reschedule_pending",
            )
        return None
    if pending is None:
        return Conflict("There is no request to move this session.", code="invalid_transition")
    return None


def booking_action_refusal(
    *, action: str, booking: Booking, user: User, now: datetime, rated: bool = False
) -> AppError | None:
    """Why ``user`` (a participant) may not ``action`` ``booking`` at ``now``, or None.

    The state machine refuses with exactly this error, and pages and payloads show the
    actions for which it is None (``booking_actions``). ``rated``: the learner's rating exists.
    """
    is_teacher = user.pk == booking.teacher_id
    status = booking.status
    label = booking.get_status_display().lower()
    if action in ("accept", "decline"):
        if not is_teacher:
            return Forbidden(f"Only the teacher can {action} a request.")
        if status != S.REQUESTED:
            verb = {"accept": "accepted", "decline": "declined"}[action]
            return Conflict(f"A {label} session cannot be {verb}.", code="invalid_transition")
        return None
    if action == "cancel":
        if status not in (S.REQUESTED, S.SCHEDULED):
            return Conflict(f"A {label} session cannot be cancelled.", code="invalid_transition")
        if now >= booking.start:
            return Conflict(
                "The session has started; it can no longer be cancelled.",
                code="invalid_transition",
            )
        return None
    if action == "join":
        access = room_access(booking=booking, now=now)
        return None if access.open else room_closed_error(access)
    if action == "complete":
        if status != S.IN_PROGRESS:
            return Conflict(f"A {label} session cannot be completed.", code="invalid_transition")
        if now < booking.start:
            # The room opens early, but a session cannot end before it began: that would
            # be a zero-minute "completed" session, settled and open to rating.
            return Conflict(
                f"The session starts at {user.local_label(booking.start)}; "
                "it can be ended from then on.",
                code="session_not_started",
            )
        return None
    if action in RESCHEDULE_ACTIONS:
        return _reschedule_refusal(action, booking, user, now)
    if action == "rate":
        if is_teacher:
            return Forbidden("Only the learner rates a session.")
        if status != S.COMPLETED:
            return Conflict("Only completed sessions can be rated.", code="invalid_transition")
        if rated:
            return Conflict("You have already rated this session.", code="already_rated")
        return None
    raise ValueError(f"unknown action {action!r}")


def booking_actions(
    *, booking: Booking, user: User, now: datetime, rated: bool = False
) -> frozenset[str]:
    """The actions ``user`` may take on ``booking`` now (see ``booking_action_refusal``)."""
    return frozenset(
        action
        for action in ACTIONS
        if booking_action_refusal(action=action, booking=booking, user=user, now=now, rated=rated)
        is None
    )


# --- Price -------------------------------------------------------------------------------


def session_price(*, start: datetime, end: datetime) -> int:
    """What a session of [start, end) costs its learner: the booked minutes (rounded up) at
    ``CREDITS_PER_MINUTE`` (``credits.selectors.credits_price``)."""
    return credits_price(minutes=math.ceil((end - start).total_seconds() / 60))


# --- Automatic moves ----------------------------------------------------------------------
# Each is due once its booking has sat in ``status`` until ``field`` + ``after``: one
# table read by the lazy path (``due_move``) and by the sweep's queries (``due_q``).


@dataclass(frozen=True)
class DueMove:
    action: str
    status: str
    field: str
    after: timedelta = timedelta(0)


def due_moves() -> tuple[DueMove, ...]:
    return (
        DueMove("expire", S.REQUESTED, "start"),  # never answered
        DueMove("no_show", S.SCHEDULED, "end"),  # nobody came
        DueMove("auto_complete", S.IN_PROGRESS, "end", room_grace_after()),  # nobody ended it
    )


def due_move(*, booking: Booking, now: datetime) -> str | None:
    """The automatic move due for ``booking`` at ``now``, if any."""
    for move in due_moves():
        if booking.status == move.status and now >= getattr(booking, move.field) + move.after:
            return move.action
    return None


def due_q(move: DueMove, *, now: datetime) -> Q:
    """The bookings for which ``move`` is due at ``now``."""
    return Q(status=move.status, **{f"{move.field}__lte": now - move.after})


REMINDER_BEFORE = timedelta(minutes=15)


# --- Slots and skills ----------------------------------------------------------------------
# A slot serves a skill when it is offered for that skill, or for "any of my skills" by a
# teacher who teaches it.


def slot_fits_skill(*, slot: AvailabilitySlot, skill: Skill) -> bool:
    if slot.skill_id is not None:
        return slot.skill_id == skill.pk
    return TeacherSkill.objects.filter(teacher_id=slot.teacher_id, skill=skill).exists()


def slot_fits_skill_q(skill_id: int) -> Q:
    """``slot_fits_skill`` on an ``AvailabilitySlot`` queryset."""
    teaches = TeacherSkill.objects.filter(teacher=OuterRef("teacher"), skill_id=skill_id)
    return Q(skill_id=skill_id) | Q(skill__isnull=True) & Q(Exists(teaches))


def slot_of_a_teacher_of_skill_fits_q(skill_id: int) -> Q:
    """``slot_fits_skill_q`` for slots of teachers already known to teach the skill (their
    cards on the skill's page): no need to ask again whether they teach it."""
    return Q(skill_id=skill_id) | Q(skill__isnull=True)


# --- Overlap -------------------------------------------------------------------------------


def overlapping_q(*, start: datetime | Combinable, end: datetime | Combinable) -> Q:
    """Rows (slots, bookings) whose [start, end) overlaps [start, end). No slot or session
    is longer than SLOT_MAX_LENGTH, so the redundant lower bound lets an index range-scan.
    ``start``/``end`` may be expressions (``OuterRef`` to the row of an outer query)."""
    return Q(start__lt=end, end__gt=start, start__gt=start - SLOT_MAX_LENGTH)


# --- Bookable teacher -------------------------------------------------------------------
# Who may be booked, matched and listed: an active account that still teaches. A teacher
# who switched to learning only, or a deactivated account, keeps past sessions but offers
# nothing new (slots stay in the database and come back if the role does).


def bookable_teachers() -> QuerySet[User]:
    """The rule, as the ORM reads it."""
    return User.objects.filter(is_active=True, is_teacher=True)


def bookable_teacher_q(prefix: str = "teacher__") -> Q:
    """The rule on a related user (``prefix`` leads from the queried model to it)."""
    return Q(**{f"{prefix}is_active": True, f"{prefix}is_teacher": True})


def teacher_is_bookable(user: User) -> bool:
    """The rule for a user already loaded (tests check it agrees with ``bookable_teachers``)."""
    return bool(user.is_active and user.is_teacher)


@cache
def _bookable_teacher_ids_sql(vendor: str) -> tuple[str, tuple]:
    sql, params = bookable_teachers().values("id").query.sql_with_params()
    return sql, tuple(params)


def bookable_teacher_ids_sql() -> tuple[str, list]:
    """``(SELECT id ...)`` text and params of ``bookable_teachers()``, for hand-written
    queries (compiled from the ORM rule once per database vendor)."""
    sql, params = _bookable_teacher_ids_sql(connection.vendor)
    return f"({sql})", list(params)


# --- Booking horizon ------------------------------------------------------------------
# Nothing is offered or asked for further ahead than BOOKING_HORIZON_DAYS: a slot in year
# 9999 is no offer anyone can take, and such dates overflow when shown east of UTC.


def horizon_end(now: datetime) -> datetime:
    return now + timedelta(days=settings.BOOKING_HORIZON_DAYS)


def horizon_check(*, moment: datetime, now: datetime, field: str) -> None:
    """400 ``beyond_horizon`` (naming ``field``) when ``moment`` lies past the horizon."""
    if moment > horizon_end(now):
        days = settings.BOOKING_HORIZON_DAYS
        raise AppError(
            f"Times can be at most {days} days ahead.",
            code="beyond_horizon",
            status=400,
            fields={field: [f"At most {days} days from now."]},
        )


# --- Time of day ------------------------------------------------------------------------
# "Only 18:00-21:00" in the learner's zone, on every day of a window: a session fits when
# it lies wholly inside one day's range. A range whose end is not after its start runs
# past midnight (22:00-01:00). Wall-clock times, so a DST change moves the UTC instants.


def day_ranges(
    *, start: datetime, end: datetime, day_start: time, day_end: time, zone: tzinfo
) -> list[tuple[datetime, datetime]]:
    """The instants [from, until) of the daily range within [start, end), in order."""
    ranges = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        begins = datetime.combine(day, day_start, tzinfo=zone)
        ends = datetime.combine(day, day_end, tzinfo=zone)
        if day_end <= day_start:
            ends = datetime.combine(day + timedelta(days=1), day_end, tzinfo=zone)
        begins, ends = max(begins, start), min(ends, end)
        if begins < ends:
            ranges.append((begins, ends))
        day += timedelta(days=1)
    return ranges


def fits_day_range(
    *, start: datetime, end: datetime, day_start: time, day_end: time, zone: tzinfo
) -> bool:
    """Whether the session [start, end) lies inside one day's range (``day_ranges``)."""
    around = day_ranges(
        start=start - timedelta(days=1),
        end=end + timedelta(days=1),
        day_start=day_start,
        day_end=day_end,
        zone=zone,
    )
    return any(begins <= start and end <= ends for begins, ends in around)
