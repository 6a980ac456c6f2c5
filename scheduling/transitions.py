"""The booking state machine: the one table of allowed moves, one function per move.

Every move runs in a transaction holding a row lock on the booking, stamps its
time, records who made it in a ``BookingEvent`` (actor None = the system), and
tells the people concerned after commit. A move a person may not make now is refused
with the error ``scheduling.rules.booking_action_refusal`` gives (the same rule pages
and payloads use to show the actions); any other move raises ``Conflict``
(``invalid_transition``, 409).

    requested --accept--> scheduled --join--> in_progress --complete--> completed
        |--decline--> declined            \\--(end + grace, auto)--> completed
        |--cancel---> cancelled  scheduled --cancel--> cancelled (before the start)
        |--(start passes unanswered, auto)--> expired
    scheduled --(nobody joined by the end, auto)--> no_show
    in_progress --(ended, one of them never came)--> no_show
    completed --rate (the learner, once)--> completed, with a rating

Credits move with the booking, in the same transaction (``credits.services``): a request
holds the session's price; declining, cancelling, expiring and nobody coming release it;
ending settles it from attendance (``scheduling.attendance``):

- both came: the teacher is paid for the minutes both were present (whole minutes rounded
  up, at least 1 when they overlapped at all, capped at the booked length), the rest
  returns to the learner; the teacher has taught one more session;
- the teacher never came: full refund, and the teacher's reliability drops;
- the learner never came (the teacher waited): the teacher is paid in full;
- nobody came: full refund.

Settlement is idempotent (``credits_settle`` closes a hold once), so a second ``complete``
or sweep pays nothing more.
"""

import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import notification_send
from credits.models import Rating
from credits.selectors import credits_price, rating_exists
from credits.services import (
    credits_release,
    credits_settle,
    rating_clean,
    rating_record,
    teacher_reliability_record,
)
from scheduling.attendance import attendance_measure, visit_open
from scheduling.models import Booking, BookingEvent
from scheduling.payloads import booking_payload
from scheduling.rules import booking_action_refusal, due_move, room_grace_after
from skilllink.errors import Conflict, NotFound
from skilllink.realtime import meeting_group, send_on_commit, user_group

S = Booking.Status

ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({S.REQUESTED}), S.SCHEDULED),
    "decline": (frozenset({S.REQUESTED}), S.DECLINED),
    "cancel": (frozenset({S.REQUESTED, S.SCHEDULED}), S.CANCELLED),
    "expire": (frozenset({S.REQUESTED}), S.EXPIRED),
    "join": (frozenset({S.SCHEDULED}), S.IN_PROGRESS),
    "complete": (frozenset({S.IN_PROGRESS}), S.COMPLETED),
    "auto_complete": (frozenset({S.IN_PROGRESS}), S.COMPLETED),
    "no_show": (frozenset({S.SCHEDULED}), S.NO_SHOW),
    "absent": (frozenset({S.IN_PROGRESS}), S.NO_SHOW),
}

# A teacher's cancellation this close to the start counts against their reliability.
LATE_CANCEL_WITHIN = timedelta(hours=24)


def booking_get_for_user(*, user: User, booking_id: int, now: datetime | None = None) -> Booking:
    """The booking if ``user`` takes part in it, brought up to date: an automatic move that
    has come due (expiry, no-show, auto-completion) is applied first, so what is shown is
    never stale. Raises ``NotFound`` for strangers: the same answer as for a booking that
    does not exist."""
    booking = _fetch(booking_id, lock=False)
    if booking is None or user.pk not in (booking.learner_id, booking.teacher_id):
        raise NotFound("No such session.")
    return booking_apply_due(booking=booking, now=now)


def bookings_apply_due(
    *, bookings: Iterable[Booking], now: datetime | None = None
) -> list[Booking]:
    """``bookings`` brought up to date (see ``booking_get_for_user``), in order."""
    now = now or timezone.now()
    return [booking_apply_due(booking=booking, now=now) for booking in bookings]


def _fetch(booking_id: int, *, lock: bool) -> Booking | None:
    qs = Booking.objects.select_related("learner", "teacher", "skill")
    if lock:
        qs = qs.select_for_update(of=("self",))
    return qs.filter(pk=booking_id).first()


def _move(
    booking: Booking,
    action: str,
    *,
    actor: User | None,
    now: datetime,
    note: str = "",
    stamp: Callable[[Booking], list[str]] | None = None,
) -> Booking:
    """Check the table, set the status, stamp, log, and queue the live update. Caller holds the lock."""
    sources, target = ALLOWED[action]
    if booking.status not in sources:
        raise Conflict(
            f"A {booking.get_status_display().lower()} session cannot be {_past(action)}.",
            code="invalid_transition",
        )
    previous = booking.status
    booking.status = target
    fields = ["status"] + (stamp(booking) if stamp else [])
    booking.save(update_fields=fields)
    BookingEvent.objects.create(
        booking=booking,
        from_status=previous,
        to_status=target,
        actor=actor,
        at=now,
        note=note[:500],
    )
    payload = booking_payload(booking)
    for user_id in (booking.learner_id, booking.teacher_id):
        send_on_commit(user_group(user_id), {"type": "booking.updated", "booking": payload})
    return booking


def _past(action: str) -> str:
    return {
        "accept": "accepted",
        "decline": "declined",
        "cancel": "cancelled",
        "expire": "expired",
        "join": "joined",
        "complete": "completed",
        "auto_complete": "completed",
        "no_show": "marked as a no-show",
        "absent": "marked as a no-show",
    }[action]


def _locked_for(user: User, booking_id: int, now: datetime) -> Booking:
    """The participant's booking, row-locked, with any due automatic move applied."""
    booking = _fetch(booking_id, lock=True)
    if booking is None or user.pk not in (booking.learner_id, booking.teacher_id):
        raise NotFound("No such session.")
    return _apply_due_locked(booking, now)


def _require(action: str, booking: Booking, user: User, now: datetime, **facts) -> None:
    refusal = booking_action_refusal(action=action, booking=booking, user=user, now=now, **facts)
    if refusal is not None:
        raise refusal


def _session_url(booking: Booking) -> str:
    return f"/sessions/{booking.pk}/"


def _when(booking: Booking, user: User) -> str:
    return user.local_label(booking.start)


# --- Moves made by people ----------------------------------------------------------------


@transaction.atomic
def booking_accept(*, booking_id: int, teacher: User, now: datetime | None = None) -> Booking:
    now = now or timezone.now()
    booking = _locked_for(teacher, booking_id, now)
    _require("accept", booking, teacher, now)

    def stamp(b: Booking) -> list[str]:
        b.accepted_at = now
        return ["accepted_at"]

    _move(booking, "accept", actor=teacher, now=now, stamp=stamp)
    notification_send(
        user=booking.learner,
        kind="booking.accepted",
        title=f"{teacher.username} accepted your {booking.session_label}",
        body=_when(booking, booking.learner),
        url=_session_url(booking),
    )
    return booking


@transaction.atomic
def booking_decline(
    *, booking_id: int, teacher: User, reason: str = "", now: datetime | None = None
) -> Booking:
    now = now or timezone.now()
    booking = _locked_for(teacher, booking_id, now)
    _require("decline", booking, teacher, now)

    def stamp(b: Booking) -> list[str]:
        b.declined_at, b.reason, b.counts_for_quota = now, reason[:500], False
        return ["declined_at", "reason", "counts_for_quota"]

    _move(booking, "decline", actor=teacher, now=now, note=reason, stamp=stamp)
    credits_release(booking_id=booking.pk, reason="Request declined", actor=teacher, now=now)
    notification_send(
        user=booking.learner,
        kind="booking.declined",
        title=f"{teacher.username} declined your {booking.session_label} request",
        body=reason or "The slot is not available after all. Try another time or teacher.",
        url=_session_url(booking),
    )
    return booking


@transaction.atomic
def booking_cancel(
    *, booking_id: int, user: User, reason: str = "", now: datetime | None = None
) -> Booking:
    """Either participant may cancel before the start; a teacher's cancel frees the learner's quota."""
    now = now or timezone.now()
    booking = _locked_for(user, booking_id, now)
    _require("cancel", booking, user, now)
    by_teacher = user.pk == booking.teacher_id
    # A teacher calling off an agreed session shortly before it counts against them.
    late = by_teacher and booking.status == S.SCHEDULED and booking.start - now < LATE_CANCEL_WITHIN

    def stamp(b: Booking) -> list[str]:
        b.cancelled_at, b.cancelled_by, b.reason = now, user, reason[:500]
        fields = ["cancelled_at", "cancelled_by", "reason"]
        if by_teacher:
            b.counts_for_quota = False
            fields.append("counts_for_quota")
        return fields

    _move(booking, "cancel", actor=user, now=now, note=reason, stamp=stamp)
    credits_release(booking_id=booking.pk, reason="Session cancelled", actor=user, now=now)
    if late:
        teacher_reliability_record(teacher=booking.teacher, event="late_cancel")
    other = booking.learner if by_teacher else booking.teacher
    notification_send(
        user=other,
        kind="booking.cancelled",
        title=f"{user.username} cancelled the {booking.session_label}",
        body=f"{_when(booking, other)}" + (f" — {reason}" if reason else ""),
        url=_session_url(booking),
    )
    return booking


@transaction.atomic
def booking_join(*, booking_id: int, user: User, now: datetime | None = None) -> Booking:
    """A participant enters the room: the first join inside the window starts the session.

    Opens the participant's visit (``booking.visit``): they are present until it closes
    (the room's socket leaving), or, joined through the API, until the session ends.
    """
    now = now or timezone.now()
    booking = _locked_for(user, booking_id, now)
    _require("join", booking, user, now)
    if booking.status == S.SCHEDULED:

        def stamp(b: Booking) -> list[str]:
            b.started_at = now
            return ["started_at"]

        _move(booking, "join", actor=user, now=now, stamp=stamp)
    booking.visit = visit_open(booking=booking, user=user, now=now)
    return booking


@transaction.atomic
def booking_complete(*, booking_id: int, user: User, now: datetime | None = None) -> Booking:
    """Either participant ends the session (from its start on); its duration is measured,
    capped at the booked length."""
    now = now or timezone.now()
    booking = _locked_for(user, booking_id, now)
    _require("complete", booking, user, now)
    _finish(booking, actor=user, now=now, action="complete")
    return booking


@transaction.atomic
def booking_rate(
    *,
    booking_id: int,
    learner: User,
    stars: object,
    feedback: str = "",
    now: datetime | None = None,
) -> Rating:
    """The learner rates a completed session, once; the teacher's ranking moves with it
    (``credits.services.rating_record``, in this transaction)."""
    now = now or timezone.now()
    stars, feedback = rating_clean(stars=stars, feedback=feedback)
    booking = _locked_for(learner, booking_id, now)
    _require("rate", booking, learner, now, rated=rating_exists(booking_id=booking.pk))
    return rating_record(
        booking_id=booking.pk,
        teacher=booking.teacher,
        learner=learner,
        stars=stars,
        feedback=feedback,
        url=_session_url(booking),
    )


def paid_minutes(*, both_seconds: float, booked_seconds: int) -> int:
    """The minutes a teacher is paid for: both present, rounded up to whole minutes, at
    least 1 when they overlapped at all, capped at the booked length."""
    if both_seconds <= 0:
        return 0
    return min(max(1, math.ceil(both_seconds / 60)), math.ceil(booked_seconds / 60))


def _finish(booking: Booking, *, actor: User | None, now: datetime, action: str) -> None:
    """End a running session: measure attendance, settle the credits, and move it to
    ``completed`` (both came) or ``no_show`` (one never came)."""
    ended = min(now, booking.end + room_grace_after())
    attended = attendance_measure(booking=booking, until=ended)
    both_came = attended.learner_came and attended.teacher_came
    absent = {
        (True, True): Booking.Absent.NOBODY,
        (True, False): Booking.Absent.TEACHER,
        (False, True): Booking.Absent.LEARNER,
        (False, False): Booking.Absent.BOTH,
    }[(attended.learner_came, attended.teacher_came)]
    minutes = paid_minutes(
        both_seconds=attended.both_seconds, booked_seconds=booking.length_seconds
    )

    def stamp(b: Booking) -> list[str]:
        b.ended_at, b.ended_by, b.absent = ended, actor, absent
        b.duration_seconds = min(math.ceil(attended.both_seconds), b.length_seconds)
        fields = ["ended_at", "ended_by", "duration_seconds", "absent"]
        if absent in (Booking.Absent.TEACHER, Booking.Absent.BOTH):
            b.counts_for_quota = False  # not the learner's doing
            fields.append("counts_for_quota")
        return fields

    settle = {"booking_id": booking.pk, "actor": actor, "now": now}
    if both_came:
        credits_settle(
            **settle,
            payer=booking.learner,
            payee=booking.teacher,
            paid_amount=credits_price(minutes=minutes),
            reason=f"{minutes} minutes together",
        )
        teacher_reliability_record(teacher=booking.teacher, event="taught")
    elif absent == Booking.Absent.LEARNER:
        credits_settle(
            **settle,
            payer=booking.learner,
            payee=booking.teacher,
            paid_amount=credits_price(minutes=math.ceil(booking.length_seconds / 60)),
            reason="The learner did not come; the teacher waited",
        )
    else:
        credits_release(
            **settle,
            reason="The teacher did not come"
            if absent == Booking.Absent.TEACHER
            else "Nobody came",
        )
        if absent == Booking.Absent.TEACHER:
            teacher_reliability_record(teacher=booking.teacher, event="no_show")
    _move(booking, action if both_came else "absent", actor=actor, now=now, stamp=stamp)
    # Everyone still in the room sees that it ended (whoever or whatever ended it).
    send_on_commit(
        meeting_group(booking.pk),
        {"type": "room.ended", "by": actor.pk if actor else None, "status": booking.status},
    )


def booking_act(*, action: str, booking_id: int, user: User, reason: str = "") -> Booking:
    """A person's move by name (``accept``, ``decline``, ``cancel``, ``join``, ``complete``),
    for the API and the pages alike. ``NotFound`` for an unknown action."""
    moves: dict[str, Callable[[], Booking]] = {
        "accept": lambda: booking_accept(booking_id=booking_id, teacher=user),
        "decline": lambda: booking_decline(booking_id=booking_id, teacher=user, reason=reason),
        "cancel": lambda: booking_cancel(booking_id=booking_id, user=user, reason=reason),
        "join": lambda: booking_join(booking_id=booking_id, user=user),
        "complete": lambda: booking_complete(booking_id=booking_id, user=user),
    }
    if action not in moves:
        raise NotFound("No such action.")
    return moves[action]()


# --- Automatic moves (the sweep, and lazily on read) ---------------------------------------


def booking_apply_due(*, booking: Booking, now: datetime | None = None) -> Booking:
    """Apply the automatic move that is due for ``booking`` (if any) and return it fresh."""
    now = now or timezone.now()
    if due_move(booking=booking, now=now) is None:
        return booking
    with transaction.atomic():
        locked = _fetch(booking.pk, lock=True)
        return _apply_due_locked(locked, now)


def _apply_due_locked(booking: Booking, now: datetime) -> Booking:
    action = due_move(booking=booking, now=now)
    if action == "expire":

        def stamp(b: Booking) -> list[str]:
            b.expired_at, b.counts_for_quota = now, False
            return ["expired_at", "counts_for_quota"]

        _move(booking, "expire", actor=None, now=now, stamp=stamp)
        credits_release(booking_id=booking.pk, reason="Request expired unanswered", now=now)
        for person in (booking.learner, booking.teacher):
            notification_send(
                user=person,
                kind="booking.expired",
                title=f"The {booking.session_label} request expired unanswered",
                body=_when(booking, person),
                url=_session_url(booking),
            )
    elif action == "no_show":

        def stamp(b: Booking) -> list[str]:
            # Nobody joined: the learner is not charged a quota place for the teacher's absence.
            b.counts_for_quota, b.absent = False, Booking.Absent.BOTH
            return ["counts_for_quota", "absent"]

        _move(booking, "no_show", actor=None, now=now, stamp=stamp)
        credits_release(booking_id=booking.pk, reason="Nobody came", now=now)
    elif action == "auto_complete":
        _finish(booking, actor=None, now=now, action="auto_complete")
    return booking


def booking_send_reminder(*, booking: Booking, now: datetime) -> bool:
    """Send the 15-minute reminder once (row lock + stamp make it idempotent)."""
    with transaction.atomic():
        locked = _fetch(booking.pk, lock=True)
        if locked.status != S.SCHEDULED or locked.reminder_sent_at is not None:
            return False
        locked.reminder_sent_at = now
        locked.save(update_fields=["reminder_sent_at"])
        for person in (locked.learner, locked.teacher):
            notification_send(
                user=person,
                kind="booking.reminder",
                title=f"Your {locked.session_label} starts soon",
                body=_when(locked, person),
                url=_session_url(locked),
            )
    return True
