"""Reads for scheduling: open slots, teacher discovery, a user's sessions, plan usage."""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Skill, TeacherSkill, User
from accounts.selectors import FREE_PLAN_BOOKINGS_PER_WINDOW, FREE_PLAN_WINDOW_DAYS
from credits.selectors import teacher_score_expression
from scheduling.models import SLOT_MAX_LENGTH, AvailabilitySlot, Booking, MatchRequest
from skilllink.errors import NotFound


def _active_booking(slot_ref="pk"):
    return Booking.objects.filter(slot=OuterRef(slot_ref), status__in=Booking.ACTIVE_STATUSES)


def slots_open(now: datetime | None = None) -> QuerySet:
    """Future slots with no active booking."""
    now = now or timezone.now()
    return AvailabilitySlot.objects.filter(start__gt=now).filter(~Exists(_active_booking()))


def _fits_skill_q(skill_id: int, teacher_ref: str = "teacher") -> Q:
    """Slots for this skill, or "any of my skills" slots of teachers who teach it."""
    teaches = TeacherSkill.objects.filter(teacher=OuterRef(teacher_ref), skill_id=skill_id)
    return Q(skill_id=skill_id) | (Q(skill__isnull=True) & Q(Exists(teaches)))


def slot_fits_skill(*, slot: AvailabilitySlot, skill: Skill) -> bool:
    if slot.skill_id is not None:
        return slot.skill_id == skill.pk
    return TeacherSkill.objects.filter(teacher_id=slot.teacher_id, skill=skill).exists()


def slots_list(
    *,
    teacher_id: int | None = None,
    skill_slug: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 500,
) -> QuerySet:
    """Open slots, optionally of one teacher / for one skill / overlapping [start, end)."""
    qs = slots_open().select_related("skill")
    if teacher_id is not None:
        qs = qs.filter(teacher_id=teacher_id)
    if skill_slug:
        skill = Skill.objects.filter(slug=skill_slug).first()
        if skill is None:
            return AvailabilitySlot.objects.none()
        qs = qs.filter(_fits_skill_q(skill.pk))
    if start is not None:
        # No slot is longer than SLOT_MAX_LENGTH, so one ending after ``start`` began after
        # start - SLOT_MAX_LENGTH: the redundant bound lets an index on start range-scan.
        qs = qs.filter(end__gt=start, start__gt=start - SLOT_MAX_LENGTH)
    if end is not None:
        qs = qs.filter(start__lt=end)
    return qs.order_by("start", "id")[:limit]


def slots_of_teacher(
    *, teacher: User, start: datetime | None = None, end: datetime | None = None
) -> QuerySet:
    """All of a teacher's own slots in a range, with the status of any active booking."""
    qs = AvailabilitySlot.objects.filter(teacher=teacher).select_related("skill")
    if start is not None:
        qs = qs.filter(end__gt=start)
    if end is not None:
        qs = qs.filter(start__lt=end)
    booking_status = _active_booking().values("status")[:1]
    return qs.annotate(booking_status=Subquery(booking_status)).order_by("start")


def slot_status(slot: AvailabilitySlot, now: datetime | None = None) -> str:
    """``open``, ``requested``, ``booked`` or ``past`` (needs ``booking_status`` annotated)."""
    now = now or timezone.now()
    status = getattr(slot, "booking_status", None)
    if status == Booking.Status.REQUESTED:
        return "requested"
    if status in (Booking.Status.SCHEDULED, Booking.Status.IN_PROGRESS):
        return "booked"
    return "past" if slot.start <= now else "open"


def open_slots_for_skill(
    *,
    skill: Skill,
    window_start: datetime,
    window_end: datetime,
    exclude_teacher_id: int | None = None,
    limit: int = 25,
) -> list[AvailabilitySlot]:
    """Open slots overlapping the window for ``skill``, best teacher first, then earliest."""
    qs = (
        slots_open()
        .filter(
            start__lt=window_end,
            end__gt=window_start,
            start__gt=window_start - SLOT_MAX_LENGTH,  # redundant bound for the index
            teacher__is_active=True,
        )
        .filter(_fits_skill_q(skill.pk))
        .annotate(score=teacher_score_expression(prefix="teacher__"))
        .order_by("-score", "start", "id")
    )
    if exclude_teacher_id is not None:
        qs = qs.exclude(teacher_id=exclude_teacher_id)
    return list(qs[:limit])


# What teacher cards and the teachers API show (the rest of the user row stays unread).
TEACHER_CARD_FIELDS = ("id", "username", "bio", "timezone")
# Rows read past the page to find where its last tie group (equal score) ends.
RANKING_LOOKAHEAD = 20


def teachers_ranked(
    *,
    skill_slug: str | None = None,
    q: str | None = None,
    limit: int = 20,
    offset: int = 0,
    now: datetime | None = None,
) -> list[User]:
    """Teachers best first: rating score, then soonest open slot, then id.

    Each has ``score``, ``rating_count``, ``rating_total``, ``next_open_slot`` and
    prefetched ``teacher_skills``; the query count does not depend on how many.
    """
    now = now or timezone.now()
    qs = User.objects.filter(is_teacher=True, is_active=True)
    next_slot = slots_open(now).filter(teacher=OuterRef("pk"))
    if skill_slug:
        skill = Skill.objects.filter(slug=skill_slug).first()
        if skill is None:
            return []
        # A join (not EXISTS) lets the database start from the skill's few teachers
        # instead of scanning every user; (teacher, skill) is unique, so no duplicates.
        qs = qs.filter(teacher_skills__skill=skill)
        next_slot = next_slot.filter(Q(skill=skill) | Q(skill__isnull=True))
    if q:
        q = q.strip()[:100]
        skill_match = TeacherSkill.objects.filter(teacher=OuterRef("pk"), skill__name__icontains=q)
        qs = qs.filter(
            Q(username__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(bio__icontains=q)
            | Q(Exists(skill_match))
        )
    qs = qs.annotate(score=teacher_score_expression())
    # The soonest open slot (a correlated subquery per teacher) only orders teachers of
    # equal score, so it is computed for the page's score range alone: the page holds
    # the teachers scoring between the scores at its first and last place in score
    # order (whole tie groups at both edges); those scoring higher fill the places
    # before it whatever their slots. A few extra rows usually show where the last tie
    # group ends, so the page's teachers are then known by id.
    wanted = offset + limit + RANKING_LOOKAHEAD
    ranked = list(qs.order_by("-score", "id").values_list("pk", "score")[:wanted])
    if len(ranked) <= offset:
        return []
    top = ranked[offset][1]
    bottom = ranked[min(offset + limit, len(ranked)) - 1][1]
    above = sum(1 for _, score in ranked if score > top)
    if len(ranked) < wanted or ranked[-1][1] < bottom:
        page = User.objects.filter(pk__in=[pk for pk, score in ranked if bottom <= score <= top])
        page = page.annotate(score=teacher_score_expression())
    else:  # the last tie group runs past the rows read: take all of it
        page = qs.filter(score__lte=top, score__gte=bottom)
    page = (
        page.annotate(
            rating_count=Coalesce(F("rating_summary__count"), 0),
            rating_total=Coalesce(F("rating_summary__total"), 0),
            next_open_slot=Subquery(next_slot.order_by("start").values("start")[:1]),
        )
        .order_by("-score", F("next_open_slot").asc(nulls_last=True), "id")
        .only(*TEACHER_CARD_FIELDS)
        .prefetch_related(_teacher_skills_prefetch())
    )
    return list(page[offset - above : offset - above + limit])


def _teacher_skills_prefetch() -> Prefetch:
    return Prefetch(
        "teacher_skills",
        queryset=TeacherSkill.objects.select_related("skill").only(
            "teacher_id", "level", "blurb", "skill__slug", "skill__name"
        ),
    )


def teacher_get(*, teacher_id: int) -> User:
    teacher = (
        User.objects.filter(pk=teacher_id, is_teacher=True, is_active=True)
        .annotate(
            score=teacher_score_expression(),
            rating_count=Coalesce(F("rating_summary__count"), 0),
            rating_total=Coalesce(F("rating_summary__total"), 0),
            next_open_slot=Subquery(
                slots_open().filter(teacher=OuterRef("pk")).order_by("start").values("start")[:1]
            ),
        )
        .prefetch_related(
            Prefetch("teacher_skills", queryset=TeacherSkill.objects.select_related("skill"))
        )
        .first()
    )
    if teacher is None:
        raise NotFound("No such teacher.")
    return teacher


def bookings_for_user(
    *, user: User, status: str | None = None, as_role: str | None = None
) -> QuerySet:
    qs = Booking.objects.select_related("learner", "teacher", "skill")
    if as_role == "learner":
        qs = qs.filter(learner=user)
    elif as_role == "teacher":
        qs = qs.filter(teacher=user)
    else:
        qs = qs.filter(Q(learner=user) | Q(teacher=user))
    if status:
        qs = qs.filter(status__in=status.split(","))
    return qs.order_by("start", "id")


QUOTA_WINDOW = timedelta(days=FREE_PLAN_WINDOW_DAYS)


def quota_usage(*, learner: User, now: datetime) -> tuple[int, datetime | None]:
    """(bookings counted in the rolling window, when the oldest of them leaves it)."""
    counted = Booking.objects.filter(
        learner=learner, counts_for_quota=True, created_at__gt=now - QUOTA_WINDOW
    )
    used = counted.count()
    oldest = counted.order_by("created_at").values_list("created_at", flat=True).first()
    return used, (oldest + QUOTA_WINDOW if oldest else None)


def plan_summary(*, user: User, now: datetime | None = None) -> dict[str, Any]:
    """The plan as api.md's ``/api/subscription/`` shows it, usage included."""
    now = now or timezone.now()
    premium = user.is_premium(now)
    used, frees_at = quota_usage(learner=user, now=now)
    return {
        "type": "premium" if premium else "free",
        "expires_at": user.subscription_expiry if premium else None,
        "bookings_used": used,
        "bookings_limit": None if premium else FREE_PLAN_BOOKINGS_PER_WINDOW,
        "window_days": FREE_PLAN_WINDOW_DAYS,
        # When the oldest counted booking leaves the window (a place frees up).
        "next_free_at": frees_at if not premium and used >= FREE_PLAN_BOOKINGS_PER_WINDOW else None,
    }


def match_requests_for_user(*, user: User) -> QuerySet:
    return MatchRequest.objects.filter(learner=user).select_related("skill").order_by("-created_at")
