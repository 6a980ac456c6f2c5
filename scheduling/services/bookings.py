"""Booking requests and the free-plan quota."""

from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Skill, TeacherSkill, User
from accounts.services import notifications_send, user_lock
from credits.services import credits_hold
from scheduling.models import AvailabilitySlot, Booking, BookingEvent
from scheduling.payloads import booking_payload
from scheduling.quota import quota_check
from scheduling.rules import overlapping_q, session_price, teacher_is_bookable
from skilllink.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from skilllink.realtime import pushes_in_one_hop, user_group


def learner_lock(learner: User) -> None:
    """Queue one learner's booking requests so their quota and overlap checks cannot race.
    Call inside a transaction."""
    user_lock(user=learner)


def learner_sessions_overlapping(
    *, learner: User, start: datetime | OuterRef, end: datetime | OuterRef
) -> QuerySet[Booking]:
    """The active sessions ``learner`` takes part in (as learner or teacher) that overlap
    [start, end); ``start`` and ``end`` may be ``OuterRef``s to a slot being read."""
    return (
        Booking.objects.filter(overlapping_q(start=start, end=end))
        .filter(status__in=Booking.ACTIVE_STATUSES)
        .filter(Q(learner=learner) | Q(teacher=learner))
    )


def _booking_skill(slot: AvailabilitySlot, skill_slug: str | None) -> Skill | None:
    if slot.skill is not None:
        if skill_slug and skill_slug != slot.skill.slug:
            raise ValidationFailed(
                f"This slot is for {slot.skill.name}.",
                fields={"skill": [f"This slot is for {slot.skill.name}."]},
            )
        return slot.skill
    teaches = TeacherSkill.objects.select_related("skill").filter(teacher_id=slot.teacher_id)
    if skill_slug:
        match = teaches.filter(skill__slug=skill_slug).first()
        if match is None:
            raise ValidationFailed(
                "This teacher does not teach that skill.",
                fields={"skill": ["Choose one of the teacher's skills."]},
            )
        return match.skill
    only = list(teaches[:2])
    return only[0].skill if len(only) == 1 else None


def _request_body(when: str, message: str) -> str:
    if not message:
        return when
    quoted = message if len(message) <= 140 else message[:140].rsplit(" ", 1)[0] + "…"
    return f"{when} — “{quoted}”"


def booking_create(
    *,
    learner: User,
    slot: AvailabilitySlot,
    skill: Skill | None,
    message: str,
    now: datetime,
    notices: Callable[[Booking], list[tuple[User, dict[str, str]]]] | None = None,
) -> Booking:
    """Write the request for ``slot`` (its ``teacher`` loaded): the booking, its first event,
    its notifications and the live pushes (all pushes in one hop after commit).

    ``notices(booking)`` gives the notifications to store; by default the teacher's
    "wants to book". Precondition: every rule but "one active booking per slot" has been
    checked, under ``learner_lock``, inside a transaction (a savepoint when the caller goes
    on after a refusal). The partial unique index decides races for the slot: 409
    ``slot_unavailable``.
    """
    booking = Booking(
        learner=learner,
        teacher=slot.teacher,
        slot=slot,
        skill=skill,
        start=slot.start,
        end=slot.end,
        message=message,
        created_at=now,
    )
    try:
        booking.save()
    except IntegrityError:
        # The enclosing atomic block rolls back when this propagates.
        raise Conflict("That slot has just been taken.", code="slot_unavailable") from None
    BookingEvent.objects.create(booking=booking, to_status=booking.status, actor=learner, at=now)
    # The session's price waits in escrow until it ends (402 insufficient_credits, and
    # the whole request rolls back, when the learner cannot pay it).
    price = session_price(start=booking.start, end=booking.end)
    credits_hold(user=learner, amount=price, booking_id=booking.pk, actor=learner, now=now)
    booking.credits_known = {"held": price, "paid": 0}  # what answers show: no re-read
    payload = booking_payload(booking, credits=booking.credits_known)
    updates = [
        (user_group(user_id), {"type": "booking.updated", "booking": payload})
        for user_id in (booking.learner_id, booking.teacher_id)
    ]
    if notices is None:
        stored = [(slot.teacher, booking_requested_notice(booking))]
    else:
        stored = notices(booking)
    notifications_send(notices=stored, pushes_before=updates)
    return booking


def booking_requested_notice(booking: Booking) -> dict[str, str]:
    """The teacher's "wants to book" notification (``kind``, ``title``, ``body``, ``url``)."""
    skill = booking.skill
    return {
        "kind": "booking.requested",
        "title": f"{booking.learner.username} wants to book {skill.name if skill else 'a session'}",
        "body": _request_body(booking.teacher.local_label(booking.start), booking.message),
        "url": f"/sessions/{booking.pk}/",
    }


@transaction.atomic
@pushes_in_one_hop()
def booking_request(
    *,
    learner: User,
    slot_id: int,
    skill_slug: str | None = None,
    message: str = "",
    now: datetime | None = None,
) -> Booking:
    """A learner asks for a slot. The partial unique index decides races for the slot.

    Refusals: 403 not a learner / quota, 404 no slot, 400 own slot or past, 409 taken
    or overlapping. Nothing is written when refused.
    """
    now = now or timezone.now()
    if not learner.is_learner:
        raise Forbidden("Only learners can book sessions.")
    if len(message) > 1000:
        raise ValidationFailed(
            "Keep the message under 1,000 characters.", fields={"message": ["Too long."]}
        )
    learner_lock(learner)
    taken = Booking.objects.filter(slot=OuterRef("pk"), status__in=Booking.SLOT_TAKEN_STATUSES)
    # The learner's overlap is read here too, one query fewer; it is refused after the checks
    # on the slot itself, as before.
    busy = learner_sessions_overlapping(
        learner=learner, start=OuterRef("start"), end=OuterRef("end")
    )
    slot = (
        AvailabilitySlot.objects.select_related("teacher", "skill")
        .annotate(taken=Exists(taken), learner_busy=Exists(busy))
        .filter(pk=slot_id)
        .first()
    )
    if slot is None or not teacher_is_bookable(slot.teacher):
        raise NotFound("No such slot.")
    if slot.teacher_id == learner.pk:
        raise AppError("You cannot book your own slot.", code="own_slot", status=400)
    if slot.start <= now:
        raise AppError("That slot has already started.", code="slot_in_past", status=400)
    if slot.taken:
        raise Conflict("That slot has just been taken.", code="slot_unavailable")
    skill = _booking_skill(slot, skill_slug)
    if slot.learner_busy:
        raise Conflict("You already have a session at that time.", code="booking_overlap")
    quota_check(learner=learner, now=now)
    return booking_create(learner=learner, slot=slot, skill=skill, message=message, now=now)
