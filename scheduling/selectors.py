"""Reads for scheduling: open slots, teacher discovery, a user's sessions, plan usage."""

import functools
import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Exists,
    F,
    OuterRef,
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
from scheduling.rules import bookable_teacher_ids_sql, bookable_teacher_q, bookable_teachers
from skilllink.db import datetime_value, fetch
from skilllink.errors import NotFound


def _taking_booking(slot_ref="pk"):
    """The booking that takes the slot ``slot_ref`` off offer (``SLOT_TAKEN_STATUSES``)."""
    return Booking.objects.filter(slot=OuterRef(slot_ref), status__in=Booking.SLOT_TAKEN_STATUSES)


def slots_open(now: datetime | None = None) -> QuerySet:
    """Future slots of bookable teachers that no booking has taken."""
    now = now or timezone.now()
    return AvailabilitySlot.objects.filter(bookable_teacher_q(), start__gt=now).filter(
        ~Exists(_taking_booking())
    )


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
# teacher; above it, in time order while checking who teaches it (see slots_list). The
# planners differ: SQLite reads teacher by teacher well up to ~1,000 teachers, while
# PostgreSQL misjudges that form past a few hundred and scans the whole range instead
# (15-20 ms against 5 ms in time order for skills of 300-750 teachers, bench data).
SLOTS_BY_TEACHER_MAX = {"sqlite": 1000, "postgresql": 250}


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
    if not skill_slug:
        qs = AvailabilitySlot.objects.filter(bookable_teacher_q()).filter(
            ~Exists(_taking_booking())
        )
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
    # Whether more than SLOTS_BY_TEACHER_MAX teach it, read from the index (not a full count).
    beyond = TeacherSkill.objects.filter(skill=OuterRef("pk")).order_by().values("teacher_id")
    most = SLOTS_BY_TEACHER_MAX.get(connection.vendor, 250)
    limit_teachers = slice(most, most + 1)
    skill = (
        Skill.objects.filter(slug=skill_slug).annotate(many=Exists(beyond[limit_teachers])).first()
    )
    if skill is None:
        return []
    # The two halves of "fits the skill", each read in index order and merged: the
    # skill's own slots by (skill, start); "any of my skills" slots of its teachers.
    # Hand-written SQL (the same statements the ORM wrote): assembling and compiling
    # them took a third of this request's time.
    adapt = connection.ops.adapt_datetimefield_value
    statuses = list(Booking.SLOT_TAKEN_STATUSES)
    bookable_sql, bookable_params = bookable_teacher_ids_sql()
    where = [
        "NOT EXISTS (SELECT 1 FROM scheduling_booking b WHERE b.slot_id = s.id"  # noqa: S608
        f" AND b.status IN ({', '.join(['%s'] * len(statuses))}))",
        f"s.teacher_id IN {bookable_sql}",
    ]
    params: list[Any] = [*statuses, *bookable_params]
    if after is not None and after[0] > lower:
        where += ["s.start >= %s", "NOT (s.start = %s AND s.id <= %s)"]
        params += [adapt(after[0]), adapt(after[0]), after[1]]
    else:
        where.append("s.start > %s")
        params.append(adapt(lower))
    if start is not None:
        where.append('s."end" > %s')
        params.append(adapt(start))
    if end is not None:
        where.append("s.start < %s")
        params.append(adapt(end))
    if teacher_id is not None:
        where.append("s.teacher_id = %s")
        params.append(teacher_id)
    own_rows = _open_slot_rows([*where, "s.skill_id = %s"], [*params, skill.pk], limit)
    if teacher_id is not None:
        any_where = [
            "s.skill_id IS NULL",
            "EXISTS (SELECT 1 FROM accounts_teacherskill t"
            " WHERE t.skill_id = %s AND t.teacher_id = %s)",
        ]
        any_params = [skill.pk, teacher_id]
    elif not skill.many:
        # Few teachers: their slots by (teacher, start). "No skill" is written so that
        # the (skill, start) index does not apply and tempt the planner away from that.
        any_where = [
            "COALESCE(s.skill_id, 0) = 0",
            "s.teacher_id IN (SELECT t.teacher_id FROM accounts_teacherskill t WHERE t.skill_id = %s)",
        ]
        any_params = [skill.pk]
    else:
        # Many teachers: "any" slots in time order; most fit, so the limit stops it soon.
        any_where = [
            "s.skill_id IS NULL",
            "EXISTS (SELECT 1 FROM accounts_teacherskill t"
            " WHERE t.skill_id = %s AND t.teacher_id = s.teacher_id)",
        ]
        any_params = [skill.pk]
    if len(own_rows) == limit:  # the page ends at the last of these at the latest
        any_where.append("s.start <= %s")
        any_params.append(adapt(own_rows[-1][2]))
    any_rows = _open_slot_rows([*where, *any_where], [*params, *any_params], limit)
    merged = heapq.merge(
        (OpenSlot(pk, teacher, skill, begins, ends) for pk, teacher, begins, ends in own_rows),
        (OpenSlot(pk, teacher, None, begins, ends) for pk, teacher, begins, ends in any_rows),
        key=lambda slot: (slot.start, slot.id),
    )
    return list(itertools.islice(merged, limit))


def _open_slot_rows(where: list[str], params: list[Any], limit: int) -> list[tuple]:
    """(id, teacher_id, start, end) of the slots matching ``where`` (SQL with placeholders),
    by start then id, at most ``limit``; times converted as the ORM converts them."""
    sql = (
        'SELECT s.id, s.teacher_id, s.start, s."end" FROM scheduling_availabilityslot s'  # noqa: S608
        f" WHERE {' AND '.join(where)} ORDER BY s.start, s.id LIMIT %s"
    )
    # Not prepared (``fetch``): the best plan depends on the skill's number of teachers.
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        rows = cursor.fetchall()
    return [
        (pk, teacher, datetime_value(begins), datetime_value(ends))
        for pk, teacher, begins, ends in rows
    ]


def slots_of_teacher(
    *, teacher: User, start: datetime | None = None, end: datetime | None = None
) -> QuerySet:
    """All of a teacher's own slots in a range, with the status of any active booking."""
    qs = AvailabilitySlot.objects.filter(teacher=teacher).select_related("skill")
    if start is not None:
        qs = qs.filter(end__gt=start)
    if end is not None:
        qs = qs.filter(start__lt=end)
    booking_status = _taking_booking().values("status")[:1]
    return qs.annotate(booking_status=Subquery(booking_status)).order_by("start")


def slot_status(slot: AvailabilitySlot, now: datetime | None = None) -> str:
    """``open``, ``requested``, ``booked`` or ``past`` (needs ``booking_status`` annotated)."""
    now = now or timezone.now()
    status = getattr(slot, "booking_status", None)
    if status == Booking.Status.REQUESTED:
        return "requested"
    if status in (Booking.Status.SCHEDULED, Booking.Status.IN_PROGRESS):
        return "booked"
    if slot.start <= now:
        return "past"
    # A session that ended early keeps the rest of its slot: never "open" again.
    return "booked" if status == Booking.Status.COMPLETED else "open"


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
) -> Iterator[AvailabilitySlot]:
    """Open slots overlapping the window for ``skill``, best teacher first, then earliest, then id
    (at most ``limit``), read lazily: a caller that stops after the first reads the least.

    With ``learner``: not the learner's own slots, nor slots overlapping their active
    sessions (call under ``learner_lock`` for that to hold). Slots come with ``teacher``
    and ``score``.

    The order starts with the score, so the teachers are taken best first, a tier at a
    time (``MATCH_TEACHER_TIERS``, from the stored scores' index), and only their slots
    are read: a tier's candidates are exactly the head of the full order when every
    teacher scoring less is left for the next tier (the tie group at a tier's edge moves
    to the next one whole). The next tier is read only when the caller asks for more.
    """
    now = now or timezone.now()
    learner_id = None if learner is None else learner.pk
    candidates = functools.partial(
        _match_candidates,
        skill_id=skill.pk,
        window=(window_start, window_end),
        learner_id=learner_id,
        now=now,
    )
    # Design: "a teacher who teaches that skill" (an active account listing it).
    given, edge = 0, None
    for tier in (*MATCH_TEACHER_TIERS, None):
        if tier is None:  # everyone left (by subquery: no list of thousands of ids)
            yield from candidates(teacher_ids=None, score_at_most=edge, limit=limit - given)
            return
        ranked = _ranked_teachers(
            skill_id=skill.pk, learner_id=learner_id, score_at_most=edge, limit=tier
        )
        last_tier = len(ranked) < tier
        edge = None if last_tier else ranked[-1][1]
        group = [pk for pk, score in ranked if edge is None or score > edge]
        if group:
            for slot in candidates(teacher_ids=group, score_at_most=None, limit=limit - given):
                yield slot
                given += 1
        if last_tier or given >= limit:
            return


def _ranked_teachers(
    *, skill_id: int, learner_id: int | None, score_at_most: float | None, limit: int
) -> list[tuple[int, float]]:
    """(teacher id, stored score) of the skill's active teachers but the learner, best
    first (then by id), scoring at most ``score_at_most`` if given; at most ``limit``.
    Read from the index (skill, score desc, teacher); fixed SQL, as it runs per match."""
    bookable_sql, bookable_params = bookable_teacher_ids_sql()
    sql = (
        "SELECT ts.teacher_id, ts.score FROM accounts_teacherskill ts"  # noqa: S608 (fixed text)
        f" WHERE ts.skill_id = %s AND ts.teacher_id IN {bookable_sql} AND ts.teacher_id <> %s"
        + (" AND ts.score <= %s" if score_at_most is not None else "")
        + " ORDER BY ts.score DESC, ts.teacher_id LIMIT %s"
    )
    params: list[Any] = [skill_id, *bookable_params, learner_id or 0]
    if score_at_most is not None:
        params.append(score_at_most)
    return fetch(sql, [*params, limit])


def _match_candidates(
    *,
    skill_id: int,
    teacher_ids: list[int] | None,
    score_at_most: float | None,
    window: tuple[datetime, datetime],
    learner_id: int | None,
    now: datetime,
    limit: int,
) -> Iterator[AvailabilitySlot]:
    """One tier's candidates for ``open_slots_for_skill``: of ``teacher_ids``, or (None) of
    every active teacher of the skill scoring at most ``score_at_most`` but the learner.

    Hand-written SQL (portable: SQLite and PostgreSQL): built through the ORM, this one
    statement took longer to assemble and compile in Python than to run.
    """
    window_start, window_end = window
    adapt = connection.ops.adapt_datetimefield_value
    taken = list(Booking.SLOT_TAKEN_STATUSES)
    statuses = list(Booking.ACTIVE_STATUSES)
    in_statuses = ", ".join(["%s"] * len(statuses))
    params: list[Any] = [skill_id]
    if teacher_ids is not None:
        # "This skill or any" written so that no index on skill applies: the database
        # then reads these few teachers' slots by (teacher, start). On PostgreSQL the
        # ids travel as one array, so the statement's text is the same for every tier
        # (psycopg parses a text once and caches it; an IN list of 64 placeholders,
        # different each time, cost a millisecond of parsing per request).
        if connection.vendor == "postgresql":
            who = "s.teacher_id = ANY(%s) AND COALESCE(s.skill_id, %s) = %s"
            params += [list(teacher_ids), skill_id, skill_id]
        else:
            who = f"s.teacher_id IN ({', '.join(['%s'] * len(teacher_ids))}) AND COALESCE(s.skill_id, %s) = %s"
            params += [*teacher_ids, skill_id, skill_id]
    else:
        bookable_sql, bookable_params = bookable_teacher_ids_sql()
        who = (
            "(s.skill_id = %s OR s.skill_id IS NULL) AND ts.score <= %s AND s.teacher_id <> %s"
            f" AND s.teacher_id IN {bookable_sql}"
        )
        params += [skill_id, score_at_most, learner_id or 0, *bookable_params]
    # start > window_start minus the longest slot: a redundant bound for the index.
    params += [adapt(now), adapt(window_start - SLOT_MAX_LENGTH), adapt(window_end)]
    params += [adapt(window_start), *taken]
    overlap = ""
    if learner_id is not None:
        # A session overlapping a candidate (which starts after window_start minus the
        # longest slot) started after window_start minus twice that: an index bound.
        bound = adapt(window_start - 2 * SLOT_MAX_LENGTH)
        overlap = "".join(
            f" AND NOT EXISTS (SELECT 1 FROM scheduling_booking o WHERE o.{role} = %s"  # noqa: S608
            f' AND o.status IN ({in_statuses}) AND o.start < s."end" AND o.start > %s'
            ' AND o."end" > s.start)'
            for role in ("learner_id", "teacher_id")
        )
        params += [learner_id, *statuses, bound, learner_id, *statuses, bound]
    params.append(limit)
    # Only placeholders and fixed names are formatted in; every value travels as a param.
    sql = (
        'SELECT s.id, s.teacher_id, s.skill_id, s.start, s."end", s.created_at, ts.score,'  # noqa: S608
        " t.username, t.timezone"
        " FROM scheduling_availabilityslot s JOIN accounts_teacherskill ts"
        " ON ts.teacher_id = s.teacher_id AND ts.skill_id = %s"
        " JOIN accounts_user t ON t.id = s.teacher_id"
        f' WHERE {who} AND s.start > %s AND s.start > %s AND s.start < %s AND s."end" > %s'
        " AND NOT EXISTS (SELECT 1 FROM scheduling_booking b WHERE b.slot_id = s.id"
        f" AND b.status IN ({', '.join(['%s'] * len(taken))})){overlap}"
        " ORDER BY ts.score DESC, s.start, s.id LIMIT %s"
    )
    # Prepared on PostgreSQL (the text is constant), so it is not planned per request.
    db = connection.alias
    for pk, teacher_id, skill, begins, ends, created, score, username, zone in fetch(sql, params):
        slot = AvailabilitySlot.from_db(
            db,
            ["id", "teacher_id", "skill_id", "start", "end", "created_at"],
            [pk, teacher_id, skill, *map(datetime_value, (begins, ends, created))],
        )
        slot.score = score
        # The teacher as booking needs it (the other fields load if anything asks).
        slot.teacher = User.from_db(
            db, ["id", "username", "timezone"], [teacher_id, username, zone]
        )
        yield slot


@dataclass(frozen=True, slots=True)
class TaughtSkill:
    """One skill on a teacher card: plain values, no ORM instance."""

    slug: str
    name: str
    level: str
    blurb: str

    @property
    def level_label(self) -> str:
        return TeacherSkill.Level(self.level).label


@dataclass(frozen=True, slots=True)
class TeacherCard:
    """A teacher as lists, the profile page and the teachers API show them."""

    id: int
    username: str
    bio: str
    timezone: str
    rating_count: int
    rating_total: int
    next_open_slot: datetime | None
    skills: tuple[TaughtSkill, ...]

    @property
    def pk(self) -> int:
        return self.id


# Rows read past the page to find where its last tie group (equal score) ends.
RANKING_LOOKAHEAD = 20


def _next_open_slot(now: datetime, skill_id: int | None) -> Subquery:
    """The start of the teacher's (``OuterRef("pk")``) soonest open slot fitting the skill."""
    next_slot = slots_open(now).filter(teacher=OuterRef("pk"))
    if skill_id is not None:
        next_slot = next_slot.filter(Q(skill_id=skill_id) | Q(skill__isnull=True))
    return Subquery(next_slot.order_by("start").values("start")[:1])


def _teacher_cards(ids, *, now: datetime, skill_id: int | None = None) -> dict[int, TeacherCard]:
    """Cards of the active teachers ``ids`` by id: two queries, whatever their number."""
    rows = (
        bookable_teachers()
        .filter(pk__in=ids)
        .annotate(
            rating_count=Coalesce(F("rating_summary__count"), 0),
            rating_total=Coalesce(F("rating_summary__total"), 0),
            next_open_slot=_next_open_slot(now, skill_id),
        )
        .values_list(
            "pk", "username", "bio", "timezone", "rating_count", "rating_total", "next_open_slot"
        )
    )
    found = {row[0]: row for row in rows}
    skills: dict[int, list[TaughtSkill]] = {pk: [] for pk in found}
    taught = (
        TeacherSkill.objects.filter(teacher_id__in=list(found))
        .order_by("skill__name", "pk")
        .values_list("teacher_id", "skill__slug", "skill__name", "level", "blurb")
    )
    for teacher_id, *skill in taught:
        skills[teacher_id].append(TaughtSkill(*skill))
    return {pk: TeacherCard(*row, tuple(skills[pk])) for pk, row in found.items()}


def teachers_ranked(
    *,
    skill_slug: str | None = None,
    q: str | None = None,
    limit: int = 20,
    offset: int = 0,
    now: datetime | None = None,
) -> list[TeacherCard]:
    """Teachers best first: rating score, then soonest open slot (fitting the skill), then id.

    Four queries at most, whatever the page size.
    """
    now = now or timezone.now()
    skill_id = None
    if skill_slug:
        skill_id = Skill.objects.filter(slug=skill_slug).values_list("pk", flat=True).first()
        if skill_id is None:
            return []
        # The skill's teachers by stored score, read in (skill, -score, teacher) index order.
        qs = TeacherSkill.objects.filter(bookable_teacher_q(), skill_id=skill_id)
        teacher, prefix = "teacher_id", "teacher__"
    else:
        qs = bookable_teachers().annotate(score=teacher_score_expression())
        teacher, prefix = "pk", ""
    if q:
        q = q.strip()[:100]
        skill_match = TeacherSkill.objects.filter(
            teacher=OuterRef(teacher), skill__name__icontains=q
        )
        qs = qs.filter(
            Q(**{f"{prefix}username__icontains": q})
            | Q(**{f"{prefix}first_name__icontains": q})
            | Q(**{f"{prefix}last_name__icontains": q})
            | Q(**{f"{prefix}bio__icontains": q})
            | Q(Exists(skill_match))
        )
    # The soonest open slot (a correlated subquery per teacher) only orders teachers of
    # equal score, so it is computed for the page's score range alone: the page holds
    # the teachers scoring between the scores at its first and last place in score
    # order (whole tie groups at both edges); those scoring higher fill the places
    # before it whatever their slots. A few extra rows usually show where the last tie
    # group ends, so the page's teachers are then known by id.
    wanted = offset + limit + RANKING_LOOKAHEAD
    ranked = list(qs.order_by("-score", teacher).values_list(teacher, "score")[:wanted])
    if len(ranked) <= offset:
        return []
    top = ranked[offset][1]
    bottom = ranked[min(offset + limit, len(ranked)) - 1][1]
    above = sum(1 for _, score in ranked if score > top)
    if len(ranked) < wanted or ranked[-1][1] < bottom:
        scores = {pk: score for pk, score in ranked if bottom <= score <= top}
    else:  # the last tie group runs past the rows read: take all of it
        scores = dict(qs.filter(score__lte=top, score__gte=bottom).values_list(teacher, "score"))
    cards = _teacher_cards(scores, now=now, skill_id=skill_id)
    order = sorted(
        cards.values(),
        key=lambda card: (
            -scores[card.id],
            card.next_open_slot is None,
            card.next_open_slot or now,
            card.id,
        ),
    )
    return order[offset - above : offset - above + limit]


def teacher_get(*, teacher_id: int) -> TeacherCard:
    card = _teacher_cards([teacher_id], now=timezone.now()).get(teacher_id)
    if card is None:
        raise NotFound("No such teacher.")
    return card


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


# The bookings a free learner's quota counts: (learner id, True, window start) as params.
QUOTA_COUNTED = (
    "FROM scheduling_booking WHERE learner_id = %s AND counts_for_quota = %s AND created_at > %s"
)


def quota_usage(*, learner: User, now: datetime) -> tuple[int, datetime | None]:
    """(bookings counted in the rolling window, when the oldest of them leaves it).

    Fixed SQL: it runs on every booking and match request (index
    booking_learner_created)."""
    start = connection.ops.adapt_datetimefield_value(now - QUOTA_WINDOW)
    ((used, oldest),) = fetch(
        f"SELECT COUNT(*), MIN(created_at) {QUOTA_COUNTED}", [learner.pk, True, start]
    )
    oldest = datetime_value(oldest)
    return used, (oldest + QUOTA_WINDOW if oldest else None)


def learner_booking_state(
    *, learner: User, start: datetime, end: datetime, now: datetime, with_quota: bool
) -> tuple[bool, int, datetime | None]:
    """(has an active session overlapping [start, end), quota usage as ``quota_usage``),
    in one statement; the usage is (0, None) unless ``with_quota``.

    Hand-written SQL (portable): built through the ORM, this statement took longer to
    assemble and compile than to run, on the path of every booking request.
    """
    adapt = connection.ops.adapt_datetimefield_value
    statuses = list(Booking.ACTIVE_STATUSES)
    # Sessions last at most SLOT_MAX_LENGTH: the lower bound on start keeps each index
    # range to the hours around [start, end) instead of the whole history.
    around = (
        f"status IN ({', '.join(['%s'] * len(statuses))})"
        ' AND start < %s AND start > %s AND "end" > %s'
    )
    window = [*statuses, adapt(end), adapt(start - SLOT_MAX_LENGTH), adapt(start)]
    columns = [
        f"EXISTS (SELECT 1 FROM scheduling_booking WHERE learner_id = %s AND {around})",  # noqa: S608
        f"EXISTS (SELECT 1 FROM scheduling_booking WHERE teacher_id = %s AND {around})",  # noqa: S608
    ]
    params = [learner.pk, *window, learner.pk, *window]
    if with_quota:
        columns += [
            f"(SELECT COUNT(*) {QUOTA_COUNTED})",
            f"(SELECT MIN(created_at) {QUOTA_COUNTED})",
        ]
        params += [learner.pk, True, adapt(now - QUOTA_WINDOW)] * 2
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)}", params)
        row = cursor.fetchone()
    overlapping = bool(row[0] or row[1])
    if not with_quota:
        return overlapping, 0, None
    used, oldest = row[2], datetime_value(row[3])
    return overlapping, used, (oldest + QUOTA_WINDOW if oldest else None)


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
