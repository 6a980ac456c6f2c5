"""Bulk loader: a realistic scheduling database in seconds (plain ``bulk_create`` in batches).

Full scale: 10,000 teachers over 50 skills (1-5 skills each, popularity skewed so
some skills have ~2,000 teachers and some ~200), a ``TeacherRating`` summary for 70%
of them (varied counts and averages), 20 slots per teacher (200,000) spread over the
next 60 days without overlap, 2,000 learners holding bookings on ~15% of the slots
(active: requested/scheduled) plus ~3% inactive ones (declined/cancelled, so the
slot is still open), and one skill nobody teaches (the matchmaking pending path).

Must run after ``django.setup()`` against the benchmark's own database.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

SKILL_NAMES = [
    "Python", "JavaScript", "Guitar", "Spanish", "Calculus", "Statistics", "Piano", "French",
    "Drawing", "Photography", "Machine Learning", "SQL", "Public Speaking", "Chess", "Yoga",
    "German", "Japanese", "Rust", "Go", "Cooking", "Creative Writing", "Physics", "Chemistry",
    "Biology", "Economics", "Accounting", "Excel", "Data Visualization", "UX Design", "Figma",
    "Singing", "Violin", "Drums", "Mandarin", "Arabic", "Linear Algebra", "Algorithms",
    "React", "Django", "Docker", "Kubernetes", "Linux", "Networking", "Cybersecurity",
    "Marketing", "Negotiation", "Resume Writing", "Interview Prep", "Watercolor", "Knitting",
]  # fmt: skip
UNTAUGHT_SKILL = "Ancient Sumerian"
ZONES = [
    "UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Tokyo",
    "America/Sao_Paulo", "Australia/Sydney", "Africa/Lagos", "Europe/London",
]  # fmt: skip
SLOT_MINUTES = [30, 45, 60, 60, 90, 120]
HORIZON_DAYS = 60
BATCH = 2000


@dataclass(frozen=True)
class Scale:
    teachers: int
    slots_per_teacher: int
    booking_learners: int
    active_booked_fraction: float = 0.15
    inactive_booked_fraction: float = 0.03

    @property
    def slots(self) -> int:
        return self.teachers * self.slots_per_teacher


FULL = Scale(teachers=10_000, slots_per_teacher=20, booking_learners=2_000)
QUICK = Scale(teachers=1_000, slots_per_teacher=20, booking_learners=300)


@dataclass
class Dataset:
    scale: Scale
    now: datetime
    skill_slugs: list[str]
    untaught_slug: str
    teacher_ids: list[int]
    learner_ids: list[int]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _hour_ceil(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _bulk(model, objects: list, batch_size: int = BATCH) -> list:
    return model.objects.bulk_create(objects, batch_size=batch_size)


def users(prefix: str, count: int, *, teacher: bool, learner: bool, rng, **extra) -> list:
    """Unsaved User rows (one shared password hash: hashing 10,000 times would take minutes)."""
    from accounts.models import User

    password = _password_hash()
    return [
        User(
            username=f"{prefix}{i:05d}",
            email=f"{prefix}{i:05d}@bench.example",
            password=password,
            is_teacher=teacher,
            is_learner=learner,
            timezone=rng.choice(ZONES),
            bio=f"Bench {prefix} {i}: patient, practical sessions." if teacher else "",
            **extra,
        )
        for i in range(count)
    ]


_HASH: list[str] = []


def _password_hash() -> str:
    if not _HASH:
        _HASH.append(make_password("bench-Password-not-used-1"))
    return _HASH[0]


def load(scale: Scale, *, seed: int = 42) -> Dataset:
    """Insert everything in one transaction; returns ids and counts for the benchmarks."""
    from accounts.models import Skill, TeacherSkill, User
    from accounts.services import skill_slug
    from credits.models import TeacherRating
    from scheduling.models import AvailabilitySlot, Booking

    started = time.perf_counter()
    rng = random.Random(seed)
    now = timezone.now()
    first_start = _hour_ceil(now) + timedelta(hours=1)
    # The SQL log of DEBUG would format every 2,000-row INSERT: off while loading.
    debug, settings.DEBUG = settings.DEBUG, False
    try:
        with transaction.atomic():
            skills = _bulk(
                Skill, [Skill(name=n, slug=skill_slug(n)) for n in [*SKILL_NAMES, UNTAUGHT_SKILL]]
            )
            taught = skills[: len(SKILL_NAMES)]
            # Zipf-like popularity: the first skills are taught by ~10x more teachers.
            weights = [1 / (rank + 5) for rank in range(len(taught))]

            teachers = _bulk(
                User, users("teacher", scale.teachers, teacher=True, learner=False, rng=rng)
            )
            learners = _bulk(
                User, users("learner", scale.booking_learners, teacher=False, learner=True, rng=rng)
            )

            teacher_skills: dict[int, list] = {}
            rows = []
            for teacher in teachers:
                chosen: set = set()
                for _ in range(rng.choice([1, 2, 2, 3, 3, 3, 4, 5])):
                    chosen.add(rng.choices(taught, weights)[0])
                teacher_skills[teacher.pk] = list(chosen)
                rows += [
                    TeacherSkill(
                        teacher=teacher,
                        skill=skill,
                        level=rng.choice(TeacherSkill.Level.values),
                        blurb=f"{skill.name} from the basics to real projects.",
                    )
                    for skill in chosen
                ]
            _bulk(TeacherSkill, rows)

            ratings = []
            for teacher in teachers:
                if rng.random() < 0.7:
                    count = min(int(rng.expovariate(1 / 25)) + 1, 400)
                    average = rng.uniform(2.5, 5.0)
                    total = min(round(count * average), 5 * count)
                    ratings.append(TeacherRating(teacher=teacher, count=count, total=total))
            _bulk(TeacherRating, ratings)

            # Slots: the 60 days are cut into one bucket per slot; each slot lies
            # inside its bucket, so a teacher's slots never overlap.
            bucket = timedelta(days=HORIZON_DAYS) / scale.slots_per_teacher
            bucket_minutes = int(bucket.total_seconds() // 60)
            slots = []
            for teacher in teachers:
                own = teacher_skills[teacher.pk]
                for k in range(scale.slots_per_teacher):
                    length = rng.choice(SLOT_MINUTES)
                    offset = rng.randrange(0, bucket_minutes - length, 15)
                    start = first_start + bucket * k + timedelta(minutes=offset)
                    skill = None if rng.random() < 0.25 else rng.choice(own)
                    slots.append(
                        AvailabilitySlot(
                            teacher=teacher,
                            skill=skill,
                            start=start,
                            end=start + timedelta(minutes=length),
                            created_at=now - timedelta(days=rng.uniform(0, 30)),
                        )
                    )
            slots = _bulk(AvailabilitySlot, slots)

            n_active = int(len(slots) * scale.active_booked_fraction)
            n_inactive = int(len(slots) * scale.inactive_booked_fraction)
            picked = rng.sample(slots, n_active + n_inactive)
            bookings = []
            for i, slot in enumerate(picked):
                active = i < n_active
                if active:
                    status = rng.choice(["requested", "scheduled", "scheduled"])
                else:
                    status = rng.choice(["declined", "cancelled"])
                skill = slot.skill or rng.choice(teacher_skills[slot.teacher_id])
                created = now - timedelta(days=rng.uniform(0, 14))
                bookings.append(
                    Booking(
                        learner=rng.choice(learners),
                        teacher_id=slot.teacher_id,
                        slot=slot,
                        skill=skill,
                        start=slot.start,
                        end=slot.end,
                        status=status,
                        counts_for_quota=status != "declined",
                        created_at=created,
                        accepted_at=created + timedelta(hours=2) if status == "scheduled" else None,
                        declined_at=created + timedelta(hours=3) if status == "declined" else None,
                        cancelled_at=created + timedelta(hours=4)
                        if status == "cancelled"
                        else None,
                    )
                )
            _bulk(Booking, bookings)
    finally:
        settings.DEBUG = debug

    return Dataset(
        scale=scale,
        now=now,
        skill_slugs=[s.slug for s in taught],
        untaught_slug=skills[-1].slug,
        teacher_ids=[t.pk for t in teachers],
        learner_ids=[u.pk for u in learners],
        counts={
            "skills": len(skills),
            "teachers": len(teachers),
            "teacher_skills": len(rows),
            "ratings": len(ratings),
            "slots": len(slots),
            "learners": len(learners),
            "bookings_active": n_active,
            "bookings_inactive": n_inactive,
        },
        seconds=time.perf_counter() - started,
    )


def analyze() -> None:
    """Refresh planner statistics on PostgreSQL (autovacuum would, a little later)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
