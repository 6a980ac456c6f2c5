"""Booking requests and the free-plan quota."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import TeacherSkill, User
from accounts.selectors import FREE_PLAN_BOOKINGS_PER_WINDOW, FREE_PLAN_WINDOW_DAYS
from accounts.services import notification_send
from scheduling.models import AvailabilitySlot, Booking, BookingEvent
from scheduling.payloads import booking_payload
from scheduling.selectors import quota_usage
from skilllink.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from skilllink.realtime import send_on_commit, user_group


def quota_check(learner: User, now: datetime) -> None:
    if learner.is_premium(now):
        return
    used, frees_at = quota_usage(learner=learner, now=now)
    if used >= FREE_PLAN_BOOKINGS_PER_WINDOW:
        when = learner.local_label(frees_at) if frees_at else "a few days"
        raise AppError(
            f"Free accounts book {FREE_PLAN_BOOKINGS_PER_WINDOW} sessions in any "
            f"{FREE_PLAN_WINDOW_DAYS} days. Upgrade to premium, or book again after {when}.",
            code="upgrade_required",
            status=403,
        )


def _lock_user(user: User) -> None:
    User.objects.select_for_update().filter(pk=user.pk).first()


def _check_no_overlap(learner: User, start: datetime, end: datetime) -> None:
    overlapping = Booking.objects.filter(
        Q(learner=learner) | Q(teacher=learner),
        status__in=Booking.ACTIVE_STATUSES,
        start__lt=end,
        end__gt=start,
    )
    if overlapping.exists():
        raise Conflict("You already have a session at that time.", code="booking_overlap")


def _booking_skill(slot: AvailabilitySlot, skill_slug: str | None):
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


@transaction.atomic
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
    # One learner's requests queue here, so quota and overlap checks cannot race.
    _lock_user(learner)
    slot = AvailabilitySlot.objects.select_related("teacher", "skill").filter(pk=slot_id).first()
    if slot is None:
        raise NotFound("No such slot.")
    if slot.teacher_id == learner.pk:
        raise AppError("You cannot book your own slot.", code="own_slot", status=400)
    if slot.start <= now:
        raise AppError("That slot has already started.", code="slot_in_past", status=400)
    if Booking.objects.filter(slot=slot, status__in=Booking.ACTIVE_STATUSES).exists():
        raise Conflict("That slot has just been taken.", code="slot_unavailable")
    skill = _booking_skill(slot, skill_slug)
    _check_no_overlap(learner, slot.start, slot.end)
    quota_check(learner, now)
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
        with transaction.atomic():
            booking.save()
    except IntegrityError:
        raise Conflict("That slot has just been taken.", code="slot_unavailable") from None
    BookingEvent.objects.create(booking=booking, to_status=booking.status, actor=learner, at=now)
    payload = booking_payload(booking)
    for user_id in (booking.learner_id, booking.teacher_id):
        send_on_commit(user_group(user_id), {"type": "booking.updated", "booking": payload})
    notification_send(
        user=slot.teacher,
        kind="booking.requested",
        title=f"{learner.username} wants to book {skill.name if skill else 'a session'}",
        body=_request_body(slot.teacher.local_label(slot.start), message),
        url=f"/sessions/{booking.pk}/",
    )
    return booking
