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
    scheduled --reschedule (the learner asks for another open slot of the teacher)--> scheduled
        --accept_reschedule (the teacher: the booking moves to that slot)--> scheduled
        --decline_reschedule (the teacher) / withdraw_reschedule (the learner)--> scheduled

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

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import notification_send
from credits.models import Rating
from credits.selectors import credits_price, credits_summary, rating_exists
from credits.services import (
    credits_hold_change,
    credits_release,
    credits_settle,
    insufficient_credits,
    rating_clean,
    rating_record,
    teacher_reliability_record,
)
from scheduling.attendance import attendance_measure, visit_open
from scheduling.models import AvailabilitySlot, Booking, BookingEvent, RescheduleRequest
from scheduling.payloads import booking_payload
from scheduling.rules import (
    booking_action_refusal,
    due_move,
    horizon_check,
    pending_reschedule_known,
    room_grace_after,
    session_price,
    slot_fits_skill,
    teacher_is_bookable,
)
from scheduling.services.bookings import learner_lock, learner_sessions_overlapping
from skilllink.errors import AppError, Conflict, NotFound, ValidationFailed
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
    # Moving a scheduled session keeps it scheduled; the event rows record each step.
    "reschedule": (frozenset({S.SCHEDULED}), S.SCHEDULED),
    "accept_reschedule": (frozenset({S.SCHEDULED}), S.SCHEDULED),
    "decline_reschedule": (frozenset({S.SCHEDULED}), S.SCHEDULED),
    "withdraw_reschedule": (frozenset({S.SCHEDULED}), S.SCHEDULED),
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
    if previous == S.SCHEDULED and target != S.SCHEDULED:
        # A session cancelled or begun before its move was answered: nothing left to move.
        RescheduleRequest.objects.filter(
            booking_id=booking.pk, status=RescheduleRequest.Status.PENDING
        ).update(status=RescheduleRequest.Status.CLOSED, answered_at=now)
        pending_reschedule_known(booking, None)
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
        "reschedule": "moved",
        "accept_reschedule": "moved",
        "decline_reschedule": "kept at its time",
        "withdraw_reschedule": "kept at its time",
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


# --- Moving a scheduled session (the learner asks, the teacher answers) --------------------


def _new_slot_refusal(
    booking: Booking, slot: AvailabilitySlot | None, now: datetime
) -> AppError | None:
    """Why ``booking`` cannot move to ``slot`` now, or None. The slot must be another open,
    future slot of the same teacher, within the horizon, serving the session's skill, and
    overlap no other session of either participant. Call holding the booking's lock and
    the learner's (``learner_lock``)."""
    if slot is None or slot.teacher_id != booking.teacher_id:
        return ValidationFailed(
            "Choose one of this teacher's open times.",
            fields={"slot": ["Not an open time of this teacher."]},
        )
    if slot.pk == booking.slot_id:
        return ValidationFailed(
            "That is the session's current time.",
            fields={"slot": ["Choose another time."]},
        )
    if not teacher_is_bookable(booking.teacher):
        return Conflict("This teacher no longer takes bookings.", code="slot_unavailable")
    if slot.start <= now:
        return AppError("That time has already started.", code="slot_in_past", status=400)
    try:
        horizon_check(moment=slot.end, now=now, field="slot")
    except AppError as error:
        return error
    if Booking.objects.filter(slot=slot, status__in=Booking.SLOT_TAKEN_STATUSES).exists():
        return Conflict("That time has just been taken.", code="slot_unavailable")
    if booking.skill is not None and not slot_fits_skill(slot=slot, skill=booking.skill):
        return ValidationFailed(
            f"That time is not offered for {booking.skill.name}.",
            fields={"slot": [f"Not offered for {booking.skill.name}."]},
        )
    # A booking of this very slot is the "taken" check's and the one-per-slot index's
    # business: one committed between that check and this read still loses as
    # ``slot_unavailable`` (at the save), not as an overlap.
    for person in (booking.learner, booking.teacher):
        others = learner_sessions_overlapping(learner=person, start=slot.start, end=slot.end)
        if others.exclude(pk=booking.pk).exclude(slot=slot).exists():
            whose = "You already have" if person == booking.learner else "The teacher has"
            return Conflict(f"{whose} another session at that time.", code="booking_overlap")
    return None


def _slot_for_move(slot_id: int | None) -> AvailabilitySlot | None:
    if slot_id is None:
        return None
    return AvailabilitySlot.objects.select_related("skill").filter(pk=slot_id).first()


def _move_label(request: RescheduleRequest, user: User) -> str:
    return f"{user.local_label(request.from_start)} → {user.local_label(request.start)}"


@transaction.atomic
def booking_reschedule(
    *,
    booking_id: int,
    learner: User,
    slot_id: int,
    message: str = "",
    now: datetime | None = None,
) -> RescheduleRequest:
    """The learner asks to move their scheduled session to another open slot of its teacher.

    Refusals (nothing written): 403 not the learner, 409 ``invalid_transition`` (not
    scheduled, started), 409 ``reschedule_pending`` (one at a time; also a database
    constraint), 400 ``invalid`` (another teacher's or the current slot, the skill does not
    fit), 400 ``slot_in_past``/``beyond_horizon``, 409 ``slot_unavailable``/``booking_overlap``,
    402 ``insufficient_credits`` (a longer slot costs more than the learner has).
    The slot stays open to others until the teacher accepts.
    """
    now = now or timezone.now()
    if len(message) > 500:
        raise ValidationFailed(
            "Keep the message under 500 characters.", fields={"message": ["Too long."]}
        )
    booking = _locked_for(learner, booking_id, now)
    _require("reschedule", booking, learner, now)
    learner_lock(booking.learner)
    slot = _slot_for_move(slot_id)
    refusal = _new_slot_refusal(booking, slot, now)
    if refusal is not None:
        raise refusal
    extra = session_price(start=slot.start, end=slot.end) - session_price(
        start=booking.start, end=booking.end
    )
    if extra > 0:
        available = credits_summary(user=learner)["available"]
        if extra > available:
            raise insufficient_credits(needed=extra, available=available)
    try:
        with transaction.atomic():
            request = RescheduleRequest.objects.create(
                booking=booking,
                slot=slot,
                start=slot.start,
                end=slot.end,
                from_start=booking.start,
                from_end=booking.end,
                message=message,
                created_at=now,
            )
    except IntegrityError:
        raise Conflict(
            "You have already asked to move this session.", code="reschedule_pending"
        ) from None
    pending_reschedule_known(booking, request)
    _move(
        booking,
        "reschedule",
        actor=learner,
        now=now,
        note=f"Asked to move it to {learner.local_label(slot.start)}"
        + (f": “{message}”" if message else ""),
    )
    notification_send(
        user=booking.teacher,
        kind="booking.reschedule_requested",
        title=f"{learner.username} asks to move the {booking.session_label}",
        body=_move_label(request, booking.teacher) + (f" — “{message}”" if message else ""),
        url=_session_url(booking),
    )
    return request


@transaction.atomic
def booking_reschedule_accept(
    *, booking_id: int, teacher: User, now: datetime | None = None
) -> Booking:
    """The teacher accepts the pending move: the booking takes the new slot (the old one is
    open again) and the learner's hold follows the new price, in one transaction.

    Races resolve to one winner: accepts queue on the booking's row lock (the second finds
    nothing pending: 409 ``invalid_transition``), and the partial unique index on active
    bookings per slot refuses a slot someone booked meanwhile (409 ``slot_unavailable``;
    the request stays pending so the teacher can decline it). 402 ``insufficient_credits``
    when a longer slot's price is no longer covered. A refusal changes nothing.
    """
    now = now or timezone.now()
    booking = _locked_for(teacher, booking_id, now)
    _require("accept_reschedule", booking, teacher, now)
    request = (
        RescheduleRequest.objects.select_for_update()
        .filter(booking_id=booking.pk, status=RescheduleRequest.Status.PENDING)
        .get()
    )
    learner_lock(booking.learner)
    slot = _slot_for_move(request.slot_id)
    refusal = _new_slot_refusal(booking, slot, now)
    if refusal is not None:
        raise refusal
    old_slot_id = booking.slot_id
    booking.slot, booking.start, booking.end = slot, slot.start, slot.end
    booking.reminder_sent_at = None
    try:
        with transaction.atomic():
            booking.save(update_fields=["slot", "start", "end", "reminder_sent_at"])
    except IntegrityError:
        raise Conflict("That time has just been taken.", code="slot_unavailable") from None
    credits_hold_change(
        booking_id=booking.pk,
        amount=session_price(start=slot.start, end=slot.end),
        change_key=f"reschedule:{request.pk}",
        reason="Session moved to a time of another length",
        actor=teacher,
        now=now,
    )
    request.status = RescheduleRequest.Status.ACCEPTED
    request.answered_at, request.answered_by = now, teacher
    request.save(update_fields=["status", "answered_at", "answered_by"])
    pending_reschedule_known(booking, None)
    _move(
        booking,
        "accept_reschedule",
        actor=teacher,
        now=now,
        note=f"Moved from {teacher.local_label(request.from_start)} (slot {old_slot_id}) "
        f"to {teacher.local_label(request.start)}",
    )
    notification_send(
        user=booking.learner,
        kind="booking.rescheduled",
        title=f"{teacher.username} moved your {booking.session_label}",
        body=_move_label(request, booking.learner),
        url=_session_url(booking),
    )
    return booking


@transaction.atomic
def booking_reschedule_decline(
    *, booking_id: int, teacher: User, reason: str = "", now: datetime | None = None
) -> Booking:
    """The teacher keeps the session at its time; the learner is told (with the reason)."""
    now = now or timezone.now()
    booking = _locked_for(teacher, booking_id, now)
    _require("decline_reschedule", booking, teacher, now)
    request = _pending_answered(booking, teacher, RescheduleRequest.Status.DECLINED, reason, now)
    _move(
        booking,
        "decline_reschedule",
        actor=teacher,
        now=now,
        note="Kept at its time" + (f": “{reason}”" if reason else ""),
    )
    notification_send(
        user=booking.learner,
        kind="booking.reschedule_declined",
        title=f"{teacher.username} kept the {booking.session_label} at its time",
        body=f"Not moved to {booking.learner.local_label(request.start)}"
        + (f" — {reason}" if reason else ""),
        url=_session_url(booking),
    )
    return booking


@transaction.atomic
def booking_reschedule_withdraw(
    *, booking_id: int, learner: User, now: datetime | None = None
) -> Booking:
    """The learner withdraws their pending request to move the session."""
    now = now or timezone.now()
    booking = _locked_for(learner, booking_id, now)
    _require("withdraw_reschedule", booking, learner, now)
    request = _pending_answered(booking, learner, RescheduleRequest.Status.WITHDRAWN, "", now)
    _move(booking, "withdraw_reschedule", actor=learner, now=now, note="Request to move withdrawn")
    notification_send(
        user=booking.teacher,
        kind="booking.reschedule_withdrawn",
        title=f"{learner.username} no longer asks to move the {booking.session_label}",
        body=f"It stays at {booking.teacher.local_label(request.from_start)}",
        url=_session_url(booking),
    )
    return booking


def _pending_answered(
    booking: Booking, user: User, status: str, reason: str, now: datetime
) -> RescheduleRequest:
    request = (
        RescheduleRequest.objects.select_for_update()
        .filter(booking_id=booking.pk, status=RescheduleRequest.Status.PENDING)
        .get()
    )
    request.status, request.reason = status, reason[:500]
    request.answered_at, request.answered_by = now, user
    request.save(update_fields=["status", "reason", "answered_at", "answered_by"])
    pending_reschedule_known(booking, None)
    return request


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
    """A person's move by name (``accept``, ``decline``, ``cancel``, ``join``, ``complete``,
    ``accept_reschedule``, ``decline_reschedule``, ``withdraw_reschedule``), for the API and
    the pages alike. ``NotFound`` for an unknown action."""
    moves: dict[str, Callable[[], Booking]] = {
        "accept": lambda: booking_accept(booking_id=booking_id, teacher=user),
        "decline": lambda: booking_decline(booking_id=booking_id, teacher=user, reason=reason),
        "cancel": lambda: booking_cancel(booking_id=booking_id, user=user, reason=reason),
        "join": lambda: booking_join(booking_id=booking_id, user=user),
        "complete": lambda: booking_complete(booking_id=booking_id, user=user),
        "accept_reschedule": lambda: booking_reschedule_accept(booking_id=booking_id, teacher=user),
        "decline_reschedule": lambda: booking_reschedule_decline(
            booking_id=booking_id, teacher=user, reason=reason
        ),
        "withdraw_reschedule": lambda: booking_reschedule_withdraw(
            booking_id=booking_id, learner=user
        ),
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
