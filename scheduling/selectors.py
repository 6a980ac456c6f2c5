"""Reads for scheduling: open slots, teacher discovery, a user's sessions, plan usage."""

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
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


@dataclass(frozen=True, slots=True)
class OpenSlot:
    """An open slot as lists show it: plain values, no ORM instance per row."""

    id: int
    teacher_id: int
    skill: Skill | None
    start: datetime
    end: datetime

    @property
    def pk(self) -> int:
        return self.id


# Up to this many teachers of a skill, their "any of my skills" slots are read teacher by
# teacher; above it, in time order while checking who teaches it (see slots_list).
SLOTS_BY_TEACHER_MAX = 1000


def slots_list(
    *,
    teacher_id: int | None = None,
    skill_slug: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 500,
    after: tuple[datetime, int] | None = None,
    now: datetime | None = None,
) -> list[OpenSlot]:
    """Open slots, optionally of one teacher / for one skill / overlapping [start, end),
    by start then id, at most ``limit``, after the slot ``after`` = (start, id) if given."""
    now = now or timezone.now()
    # No slot is longer than SLOT_MAX_LENGTH, so one ending after ``start`` began after
    # start - SLOT_MAX_LENGTH: one lower bound on start lets an index range-scan.
    lower = now if start is None else max(now, start - SLOT_MAX_LENGTH)
    qs = AvailabilitySlot.objects.filter(~Exists(_active_booking()))
    if after is not None and after[0] > lower:
        after_start, after_id = after
        qs = qs.filter(start__gte=after_start).exclude(start=after_start, pk__lte=after_id)
    else:
        qs = qs.filter(start__gt=lower)
    if start is not None:
        qs = qs.filter(end__gt=start)
    if end is not None:
        qs = qs.filter(start__lt=end)
    if teacher_id is not None:
        qs = qs.filter(teacher_id=teacher_id)
    qs = qs.order_by("start", "id")
    columns = ("id", "teacher_id", "start", "end")
    if not skill_slug:
        skills: dict[int, Skill] = {}
        rows = qs.values_list(*columns, "skill_id", "skill__slug", "skill__name")[:limit]
        return [
            OpenSlot(
                pk,
                teacher,
                None
                if skill_id is None
                else skills.setdefault(skill_id, Skill(pk=skill_id, slug=slug, name=name)),
                begins,
                ends,
            )
            for pk, teacher, begins, ends, skill_id, slug, name in rows
        ]
    skill = Skill.objects.filter(slug=skill_slug).annotate(teachers=Count("teacher_skills")).first()
    if skill is None:
        return []
    # The two halves of "fits the skill", each read in index order and merged: the
    # skill's own slots by (skill, start); "any of my skills" slots of its teachers.
    own = qs.filter(skill=skill)
    teaches = TeacherSkill.objects.filter(skill=skill)
    if teacher_id is not None:
        any_skill = qs.filter(Exists(teaches.filter(teacher_id=teacher_id)), skill__isnull=True)
    elif skill.teachers <= SLOTS_BY_TEACHER_MAX:
        # Few teachers: their slots by (teacher, start). "No skill" is written so that
        # the (skill, start) index does not apply and tempt the planner away from that.
        any_skill = qs.alias(no_skill=Coalesce(F("skill_id"), 0)).filter(
            no_skill=0, teacher_id__in=teaches.order_by().values("teacher_id")
        )
    else:
        # Many teachers: "any" slots in time order; most fit, so the limit stops it soon.
        any_skill = qs.filter(
            Exists(teaches.filter(teacher=OuterRef("teacher"))), skill__isnull=True
        )
    own_rows = list(own.values_list(*columns)[:limit])
    if len(own_rows) == limit:  # the page ends at the last of these at the latest
        any_skill = any_skill.filter(start__lte=own_rows[-1][2])
    any_rows = any_skill.values_list(*columns)[:limit]
    merged = heapq.merge(
        (OpenSlot(pk, teacher, skill, begins, ends) for pk, teacher, begins, ends in own_rows),
        (OpenSlot(pk, teacher, None, begins, ends) for pk, teacher, begins, ends in any_rows),
        key=lambda slot: (slot.start, slot.id),
    )
    return list(itertools.islice(merged, limit))


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


# How many of the skill's best-scored teachers matchmaking looks at first, then next.
MATCH_TEACHER_TIERS = (64, 1024)


def open_slots_for_skill(
    *,
    skill: Skill,
    window_start: datetime,
    window_end: datetime,
    learner: User | None = None,
    now: datetime | None = None,
    limit: int = 25,
) -> list[AvailabilitySlot]:
    """Open slots overlapping the window for ``skill``, best teacher first, then earliest, then id.

    With ``learner``: not the learner's own slots, nor slots overlapping their active
    sessions (call under ``learner_lock`` for that to hold). Slots come with ``teacher``
    and ``score``.

    The order starts with the score, so the teachers are taken best first, a tier at a
    time (``MATCH_TEACHER_TIERS``), and only their slots are read: a tier's candidates
    are exactly the head of the full order when every teacher scoring less is left for
    the next tier (the tie group at a tier's edge moves to the next one whole).
    """
    now = now or timezone.now()
    slots = (
        slots_open(now)
        .filter(
            start__lt=window_end,
            end__gt=window_start,
            start__gt=window_start - SLOT_MAX_LENGTH,  # redundant bound for the index
        )
        .select_related("teacher")
        .annotate(score=teacher_score_expression(prefix="teacher__"))
        .order_by("-score", "start", "id")
    )
    # Design: "a teacher who teaches that skill" (an active account listing it).
    teachers = User.objects.filter(is_active=True, teacher_skills__skill=skill).annotate(
        score=teacher_score_expression()
    )
    if learner is not None:
        teachers = teachers.exclude(pk=learner.pk)
        # A session overlapping a candidate (which starts after window_start minus the
        # longest slot) started after window_start minus twice that: an index bound.
        overlapping = {
            "status__in": Booking.ACTIVE_STATUSES,
            "start__lt": OuterRef("end"),
            "start__gt": window_start - 2 * SLOT_MAX_LENGTH,
            "end__gt": OuterRef("start"),
        }
        slots = slots.exclude(
            Exists(Booking.objects.filter(learner=learner, **overlapping))
        ).exclude(Exists(Booking.objects.filter(teacher=learner, **overlapping)))
    found: list[AvailabilitySlot] = []
    for tier in (*MATCH_TEACHER_TIERS, None):
        ranked = teachers.order_by("-score", "pk").values_list("pk", "score")
        if tier is None:  # everyone left (by subquery: no list of thousands of ids)
            rest = slots.filter(Q(skill=skill) | Q(skill__isnull=True))
            found += rest.filter(teacher__in=teachers.values("pk"))[: limit - len(found)]
            return found
        ranked = list(ranked[:tier])
        last_tier = len(ranked) < tier
        edge = None if last_tier else ranked[-1][1]
        group = [pk for pk, score in ranked if edge is None or score > edge]
        if group:
            # "This skill or any" written so that no index on skill applies: the
            # database then reads these few teachers' slots by (teacher, start).
            fits = slots.alias(fit=Coalesce(F("skill_id"), Value(skill.pk))).filter(fit=skill.pk)
            found += fits.filter(teacher_id__in=group)[: limit - len(found)]
        if last_tier or len(found) >= limit:
            return found
        teachers = teachers.filter(score__lte=edge)
    return found


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


def _quota_counted(*, learner: User, now: datetime) -> QuerySet:
    return Booking.objects.filter(
        learner=learner, counts_for_quota=True, created_at__gt=now - QUOTA_WINDOW
    )


def quota_usage(*, learner: User, now: datetime) -> tuple[int, datetime | None]:
    """(bookings counted in the rolling window, when the oldest of them leaves it)."""
    usage = _quota_counted(learner=learner, now=now).aggregate(
        used=Count("pk"), oldest=Min("created_at")
    )
    oldest = usage["oldest"]
    return usage["used"], (oldest + QUOTA_WINDOW if oldest else None)


def _sessions_overlapping(*, user: User, start: datetime, end: datetime) -> Q:
    """``user`` holds an active session, as learner or teacher, overlapping [start, end)."""
    # Sessions last at most SLOT_MAX_LENGTH: the lower bound on start keeps each index
    # range to the hours around [start, end) instead of the whole history.
    around = {
        "status__in": Booking.ACTIVE_STATUSES,
        "start__lt": end,
        "start__gt": start - SLOT_MAX_LENGTH,
        "end__gt": start,
    }
    return Q(Exists(Booking.objects.filter(learner=user, **around))) | Q(
        Exists(Booking.objects.filter(teacher=user, **around))
    )


def learner_booking_state(
    *, learner: User, start: datetime, end: datetime, now: datetime, with_quota: bool
) -> tuple[bool, int, datetime | None]:
    """(has an active session overlapping [start, end), quota usage as ``quota_usage``),
    in one statement; the usage is (0, None) unless ``with_quota``."""
    row = User.objects.filter(pk=learner.pk).annotate(
        overlapping=ExpressionWrapper(
            _sessions_overlapping(user=learner, start=start, end=end),
            output_field=BooleanField(),
        )
    )
    fields = ["overlapping"]
    if with_quota:
        counted = _quota_counted(learner=learner, now=now).order_by()
        row = row.annotate(
            used=Coalesce(
                Subquery(counted.values("learner").annotate(n=Count("pk")).values("n")), 0
            ),
            oldest=Subquery(counted.order_by("created_at").values("created_at")[:1]),
        )
        fields += ["used", "oldest"]
    values = row.values_list(*fields).first()
    if values is None:  # the learner's row is gone: nothing to count
        return False, 0, None
    overlapping, used, oldest = (*values, 0, None)[:3]
    return bool(overlapping), used, (oldest + QUOTA_WINDOW if oldest else None)


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
