"""Availability slots: create (once or weekly), move/resize, change skill, delete."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Skill, TeacherSkill, User
from accounts.services import user_lock
from scheduling.models import SLOT_MAX_LENGTH, SLOT_MIN_LENGTH, AvailabilitySlot, Booking
from scheduling.rules import horizon_check, overlapping_q
from scheduling.selectors import slots_open
from skilllink.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed

MAX_REPEAT_WEEKS = 26
UNCHANGED = object()


def _require_teacher(user: User) -> None:
    if not user.is_teacher:
        raise Forbidden("Only teachers can publish availability.")


def _check_times(start: datetime, end: datetime, now: datetime) -> None:
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValidationFailed(
            "Times need a time zone offset.", fields={"start": ["Give an offset."]}
        )
    if end <= start:
        raise ValidationFailed(
            "A slot must end after it starts.", fields={"end": ["End after start."]}
        )
    if start <= now:
        raise AppError("A slot must start in the future.", code="slot_in_past", status=400)
    horizon_check(moment=end, now=now, field="end")
    length = end - start
    if length < SLOT_MIN_LENGTH:
        raise AppError("A slot lasts at least 15 minutes.", code="slot_too_short", status=400)
    if length > SLOT_MAX_LENGTH:
        raise AppError("A slot lasts at most 4 hours.", code="slot_too_long", status=400)


def _teacher_skill(teacher: User, skill_slug: str | None) -> Skill | None:
    if not skill_slug:
        return None
    teacher_skill = (
        TeacherSkill.objects.select_related("skill")
        .filter(teacher=teacher, skill__slug=skill_slug)
        .first()
    )
    if teacher_skill is None:
        raise ValidationFailed(
            "Choose one of the skills you teach (or none for any of them).",
            fields={"skill": [f'You do not teach "{skill_slug}".']},
        )
    return teacher_skill.skill


def _check_no_overlap(
    teacher: User, start: datetime, end: datetime, exclude_id: int | None = None
) -> None:
    clash = AvailabilitySlot.objects.filter(overlapping_q(start=start, end=end), teacher=teacher)
    if exclude_id is not None:
        clash = clash.exclude(pk=exclude_id)
    if clash.exists():
        raise Conflict("That time overlaps another of your slots.", code="slot_overlap")


def _save(slot: AvailabilitySlot, **kwargs) -> None:
    try:
        with transaction.atomic():
            slot.save(**kwargs)
    except IntegrityError as error:
        # PostgreSQL's exclusion constraint: the database had the last word.
        raise Conflict("That time overlaps another of your slots.", code="slot_overlap") from error


def _after_publish(slot: AvailabilitySlot) -> None:
    from scheduling.services.matching import match_requests_resolve_for_slot

    match_requests_resolve_for_slot(slot=slot)


@transaction.atomic
def slot_create(
    *,
    teacher: User,
    start: datetime,
    end: datetime,
    skill_slug: str | None = None,
    now: datetime | None = None,
) -> AvailabilitySlot:
    """Publish one slot. Refusals: 403 not a teacher, 400 past/too short/too long, 409 overlap."""
    _require_teacher(teacher)
    now = now or timezone.now()
    _check_times(start, end, now)
    skill = _teacher_skill(teacher, skill_slug)
    user_lock(user=teacher)  # slot writes one at a time: the overlap check cannot race
    _check_no_overlap(teacher, start, end)
    slot = AvailabilitySlot(teacher=teacher, start=start, end=end, skill=skill)
    _save(slot)
    _after_publish(slot)
    return slot


@transaction.atomic
def slot_create_weekly(
    *,
    teacher: User,
    start: datetime,
    end: datetime,
    weeks: int,
    skill_slug: str | None = None,
    now: datetime | None = None,
) -> list[AvailabilitySlot]:
    """Publish the same slot ``weeks`` weeks in a row, all or nothing.

    Weeks repeat at the same wall-clock time in the teacher's zone, so a slot at
    18:00 stays at 18:00 across a daylight-saving change.
    """
    if not 1 <= weeks <= MAX_REPEAT_WEEKS:
        raise ValidationFailed(
            f"Repeat for 1 to {MAX_REPEAT_WEEKS} weeks.",
            fields={"repeat_weeks": [f"Choose 1 to {MAX_REPEAT_WEEKS}."]},
        )
    _require_teacher(teacher)
    zone = teacher.zone
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    slots = []
    for week in range(weeks):
        week_start = _same_wall_time(local_start, week)
        week_end = _same_wall_time(local_end, week)
        try:
            slots.append(
                slot_create(
                    teacher=teacher, start=week_start, end=week_end, skill_slug=skill_slug, now=now
                )
            )
        except AppError as error:
            error.detail = f"Week {week + 1} ({week_start:%b %d}): {error.detail}"
            raise
    return slots


def _same_wall_time(moment: datetime, weeks: int) -> datetime:
    """``moment`` + N weeks at the same local time (naive arithmetic, then re-localised)."""
    naive = moment.replace(tzinfo=None) + timedelta(weeks=weeks)
    return naive.replace(tzinfo=moment.tzinfo)


def slot_get_for_teacher(*, teacher: User, slot_id: int, lock: bool = False) -> AvailabilitySlot:
    """The teacher's own slot; ``NotFound`` for anyone else's (same answer as a missing one)."""
    qs = AvailabilitySlot.objects.filter(teacher=teacher)
    if lock:
        qs = qs.select_for_update()
    slot = qs.filter(pk=slot_id).first()
    if slot is None:
        raise NotFound("No such slot.")
    return slot


def _check_not_booked(slot: AvailabilitySlot) -> None:
    if Booking.objects.filter(slot=slot, status__in=Booking.ACTIVE_STATUSES).exists():
        raise Conflict(
            "This slot has a booking; cancel the booking first.", code="slot_unavailable"
        )


@transaction.atomic
def slot_update(
    *,
    teacher: User,
    slot_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    skill_slug=UNCHANGED,
    now: datetime | None = None,
) -> AvailabilitySlot:
    """Move, resize or re-skill one of the teacher's open future slots."""
    _require_teacher(teacher)
    now = now or timezone.now()
    user_lock(user=teacher)  # slot writes one at a time: the overlap check cannot race
    slot = slot_get_for_teacher(teacher=teacher, slot_id=slot_id, lock=True)
    _check_not_booked(slot)
    if slot.start <= now:
        raise AppError("This slot has already started.", code="slot_in_past", status=400)
    new_start = start or slot.start
    new_end = end or slot.end
    _check_times(new_start, new_end, now)
    _check_no_overlap(teacher, new_start, new_end, exclude_id=slot.pk)
    slot.start, slot.end = new_start, new_end
    fields = ["start", "end"]
    if skill_slug is not UNCHANGED:
        slot.skill = _teacher_skill(teacher, skill_slug)
        fields.append("skill")
    _save(slot, update_fields=fields)
    _after_publish(slot)
    return slot


@transaction.atomic
def slot_delete(*, teacher: User, slot_id: int) -> None:
    """Delete an unbooked slot (bookings that ended keep their own times)."""
    _require_teacher(teacher)
    slot = slot_get_for_teacher(teacher=teacher, slot_id=slot_id, lock=True)
    _check_not_booked(slot)
    slot.delete()


def slots_forget_skill(
    *, teacher: User, skill: Skill, now: datetime | None = None, **kwargs
) -> int:
    """``accounts.signals.teacher_skill_removed``: the teacher's future open slots offered for
    that skill become "any of my skills" slots (otherwise they would stay on offer for a
    skill the teacher no longer teaches). Booked and past slots keep it: those sessions
    happened or will happen as agreed. Returns how many slots changed."""
    return slots_open(now).filter(teacher=teacher, skill=skill).update(skill=None)
