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
# Credits each bench learner starts with (bookings hold their price).
LEARNER_CREDITS = 1_000_000
QUICK = Scale(teachers=1_000, slots_per_teacher=20, booking_learners=300)
SMOKE = Scale(teachers=300, slots_per_teacher=10, booking_learners=100)  # make bench-quick


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
    insert_seconds: dict[str, float] = field(default_factory=dict)


def _hour_ceil(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


_INSERT_SECONDS: dict[str, float] = {}


def _bulk(model, objects: list, batch_size: int = BATCH) -> list:
    started = time.perf_counter()
    created = model.objects.bulk_create(objects, batch_size=batch_size)
    name = model._meta.model_name
    _INSERT_SECONDS[name] = _INSERT_SECONDS.get(name, 0.0) + time.perf_counter() - started
    return created


def grant_credits(learners) -> None:
    """bulk_create skips the sign-up grant: grant each learner through the ledger's service,
    enough for every session the benchmarks book for them (bookings hold their price)."""
    from credits.services import credits_grant_signup

    grant, settings.CREDITS_SIGNUP_GRANT = settings.CREDITS_SIGNUP_GRANT, LEARNER_CREDITS
    try:
        for learner in learners:
            credits_grant_signup(user=learner)
    finally:
        settings.CREDITS_SIGNUP_GRANT = grant


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


def _loading_cache() -> None:
    """SQLite: a 256 MB page cache for this connection (the default 2 MB makes every
    index insert of 200,000 rows in random order a disk read); the app is not affected."""
    from django.db import connection

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -262144")


def _next_id(model) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def _insert_rows(model, columns: list[str], rows: list[tuple]) -> None:
    """Plain multi-row INSERTs (1,000 rows a statement) for the two big tables, without
    building 200,000 model instances as ``bulk_create`` would.

    ``columns`` are attnames; every other concrete column gets its field default (so a
    field added to the model later with a default still loads). Datetimes are adapted
    as Django would (naive UTC text on SQLite).
    """
    from django.db import connection

    started = time.perf_counter()
    given = set(columns)
    rest = [f for f in model._meta.concrete_fields if f.attname not in given and not f.primary_key]
    defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
    datetimes = {
        i
        for i, name in enumerate(columns)
        if model._meta.get_field(name.removesuffix("_id")).get_internal_type() == "DateTimeField"
    }
    adapt = connection.ops.adapt_datetimefield_value
    names = ", ".join(connection.ops.quote_name(c) for c in [*columns, *(f.column for f in rest)])
    width = len(columns) + len(rest)
    row_sql = "(" + ", ".join(["%s"] * width) + ")"
    table = connection.ops.quote_name(model._meta.db_table)
    per_statement = max(1, min(1000, 30_000 // width))  # SQLite: at most 32,766 parameters
    with connection.cursor() as cursor:
        for first in range(0, len(rows), per_statement):
            batch = rows[first : first + per_statement]
            params = []
            for row in batch:
                params += [adapt(v) if i in datetimes else v for i, v in enumerate(row)]
                params += defaults
            values = ", ".join([row_sql] * len(batch))
            cursor.execute(f"INSERT INTO {table} ({names}) VALUES {values}", params)  # noqa: S608
    name = model._meta.model_name
    _INSERT_SECONDS[name] = _INSERT_SECONDS.get(name, 0.0) + time.perf_counter() - started


def _reset_sequences(*models) -> None:
    """Explicit ids leave PostgreSQL's identity sequences behind: move them past the rows."""
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(statement)


def load(scale: Scale, *, seed: int = 42) -> Dataset:
    """Insert everything in one transaction; returns ids and counts for the benchmarks."""
    from accounts.models import Skill, TeacherSkill, User
    from accounts.services import skill_slug
    from credits.models import TeacherRating
    from credits.selectors import teacher_score
    from credits.services import teacher_skill_scores_store
    from scheduling.models import AvailabilitySlot, Booking

    started = time.perf_counter()
    rng = random.Random(seed)
    now = timezone.now()
    first_start = _hour_ceil(now) + timedelta(hours=1)
    # The SQL log of DEBUG would format every 2,000-row INSERT: off while loading.
    debug, settings.DEBUG = settings.DEBUG, False
    _loading_cache()
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
            grant_credits(learners)

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
                    ratings.append(
                        TeacherRating(
                            teacher=teacher,
                            count=count,
                            total=total,
                            score=teacher_score(count=count, total=total),
                        )
                    )
            _bulk(TeacherRating, ratings)
            # bulk_create bypasses the services: store the ranking scores as
            # booking_rate would have.
            teacher_skill_scores_store()

            # Slots: the 60 days are cut into one bucket per slot; each slot lies
            # inside its bucket, so a teacher's slots never overlap.
            bucket = timedelta(days=HORIZON_DAYS) / scale.slots_per_teacher
            bucket_minutes = int(bucket.total_seconds() // 60)
            slots = []  # (id, teacher_id, skill_id, start, end): ids given here
            next_id = _next_id(AvailabilitySlot)
            for teacher in teachers:
                own = teacher_skills[teacher.pk]
                for k in range(scale.slots_per_teacher):
                    length = rng.choice(SLOT_MINUTES)
                    offset = rng.randrange(0, bucket_minutes - length, 15)
                    start = first_start + bucket * k + timedelta(minutes=offset)
                    skill = None if rng.random() < 0.25 else rng.choice(own).pk
                    end = start + timedelta(minutes=length)
                    slots.append((next_id + len(slots), teacher.pk, skill, start, end))
            _insert_rows(
                AvailabilitySlot,
                ["id", "teacher_id", "skill_id", "start", "end", "created_at"],
                [(*slot, now - timedelta(days=rng.uniform(0, 30))) for slot in slots],
            )

            n_active = int(len(slots) * scale.active_booked_fraction)
            n_inactive = int(len(slots) * scale.inactive_booked_fraction)
            picked = rng.sample(slots, n_active + n_inactive)
            bookings = []
            for i, (slot_id, teacher_id, skill_id, start, end) in enumerate(picked):
                if i < n_active:
                    status = rng.choice(["requested", "scheduled", "scheduled"])
                else:
                    status = rng.choice(["declined", "cancelled"])
                created = now - timedelta(days=rng.uniform(0, 14))
                bookings.append(
                    (
                        rng.choice(learners).pk,
                        teacher_id,
                        slot_id,
                        skill_id or rng.choice(teacher_skills[teacher_id]).pk,
                        start,
                        end,
                        status,
                        status != "declined",
                        created,
                        created + timedelta(hours=2) if status == "scheduled" else None,
                        created + timedelta(hours=3) if status == "declined" else None,
                        created + timedelta(hours=4) if status == "cancelled" else None,
                    )
                )
            _insert_rows(
                Booking,
                [
                    "learner_id",
                    "teacher_id",
                    "slot_id",
                    "skill_id",
                    "start",
                    "end",
                    "status",
                    "counts_for_quota",
                    "created_at",
                    "accepted_at",
                    "declined_at",
                    "cancelled_at",
                ],
                bookings,
            )
            _reset_sequences(AvailabilitySlot, Booking)
            commit_started = time.perf_counter()
        _INSERT_SECONDS["commit"] = time.perf_counter() - commit_started
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
        insert_seconds={k: round(v, 1) for k, v in _INSERT_SECONDS.items()},
    )


def analyze() -> None:
    """On PostgreSQL, ``VACUUM ANALYZE`` after the bulk load: the state autovacuum keeps a
    live database in. This machine's server runs with autovacuum off, so without it the
    tables would stay as just loaded: no visibility map (no index-only scans) and a dead
    version of every teacher-skill row (the loader stores the ranking scores after
    inserting them), which no production database keeps for long."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
