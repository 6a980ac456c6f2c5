"""The two reads written in SQL by hand, because the ORM could not meet their targets.

Everything else goes through the ORM. These two run on the hottest paths (finding open
slots for a skill, matchmaking) and were measured with ``make bench`` (``bench/results.md``;
10,000 teachers, 200,000 slots, 2 shared cores):

- **Open slots for a skill** (``open_slot_rows_for_skill``, ``GET /api/slots/?skill=``):
  the two halves of "fits the skill" (``scheduling.rules.slot_fits_skill``) each read in
  index order and merged. Built through the ORM, assembling and compiling the two
  statements took a third of the request: p95 14.6 ms (SQLite) and 22.6 ms (PostgreSQL)
  against the 20 ms target; as the fixed statements here, 9.4 and 15.1 ms.
- **Match candidates** (``match_candidates``, ``POST /api/match/``): one statement for a
  tier of teachers, run as a prepared statement on PostgreSQL (``skilllink.db.fetch``; the
  teacher ids travel as one array so its text never changes). Through the ORM: p95 14.7 ms
  (SQLite) and 26.3 ms (PostgreSQL); prepared here: 12.0 and 15.9 ms.

Each statement restates rules defined in ``scheduling.rules`` (slot taken, bookable
teacher via its compiled SQL, skill fit, overlap); ``tests/scheduling/test_sql_reads.py``
compares their results with the ORM's reading of the same rules, so a rule change that
misses them fails there.
"""

import heapq
import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import connection

from accounts.models import TeacherSkill, User
from scheduling.models import SLOT_MAX_LENGTH, AvailabilitySlot, Booking
from scheduling.rules import bookable_teacher_ids_sql
from skilllink.db import datetime_value, fetch

# Up to this many teachers of a skill, their "any of my skills" slots are read teacher by
# teacher; above it, in time order while checking who teaches it (see slots_list). The
# planners differ: SQLite reads teacher by teacher well up to ~1,000 teachers, while
# PostgreSQL misjudges that form past a few hundred and scans the whole range instead
# (15-20 ms against 5 ms in time order for skills of 300-750 teachers, bench data).
SLOTS_BY_TEACHER_MAX = {"sqlite": 1000, "postgresql": 250}


def open_slot_rows_for_skill(
    *,
    skill_id: int,
    teacher_id: int | None,
    start: datetime | None,
    end: datetime | None,
    lower: datetime,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[tuple[int, int, bool, datetime, datetime]]:
    """(id, teacher id, offered for this very skill, start, end) of open slots fitting
    ``skill_id``: starting after ``lower`` (or after the slot ``after`` = (start, id)),
    overlapping [start, end) when given, of ``teacher_id`` when given; by start then id,
    at most ``limit``."""
    # Whether more than SLOTS_BY_TEACHER_MAX teach it, read from the index (not a full count).
    most = SLOTS_BY_TEACHER_MAX.get(connection.vendor, 250)
    many = TeacherSkill.objects.filter(skill_id=skill_id).order_by()[most : most + 1].exists()
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
    own_rows = _open_slot_rows([*where, "s.skill_id = %s"], [*params, skill_id], limit)
    if teacher_id is not None:
        any_where = [
            "s.skill_id IS NULL",
            "EXISTS (SELECT 1 FROM accounts_teacherskill t"
            " WHERE t.skill_id = %s AND t.teacher_id = %s)",
        ]
        any_params = [skill_id, teacher_id]
    elif not many:
        # Few teachers: their slots by (teacher, start). "No skill" is written so that
        # the (skill, start) index does not apply and tempt the planner away from that.
        any_where = [
            "COALESCE(s.skill_id, 0) = 0",
            "s.teacher_id IN (SELECT t.teacher_id FROM accounts_teacherskill t WHERE t.skill_id = %s)",
        ]
        any_params = [skill_id]
    else:
        # Many teachers: "any" slots in time order; most fit, so the limit stops it soon.
        any_where = [
            "s.skill_id IS NULL",
            "EXISTS (SELECT 1 FROM accounts_teacherskill t"
            " WHERE t.skill_id = %s AND t.teacher_id = s.teacher_id)",
        ]
        any_params = [skill_id]
    if len(own_rows) == limit:  # the page ends at the last of these at the latest
        any_where.append("s.start <= %s")
        any_params.append(adapt(own_rows[-1][2]))
    any_rows = _open_slot_rows([*where, *any_where], [*params, *any_params], limit)
    merged = heapq.merge(
        ((pk, teacher, True, begins, ends) for pk, teacher, begins, ends in own_rows),
        ((pk, teacher, False, begins, ends) for pk, teacher, begins, ends in any_rows),
        key=lambda row: (row[3], row[0]),
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


def match_candidates(
    *,
    skill_id: int,
    teacher_ids: list[int] | None,
    score_at_most: float | None,
    window: tuple[datetime, datetime],
    learner_id: int | None,
    now: datetime,
    limit: int,
    day_ranges: list[tuple[datetime, datetime]] | None = None,
) -> Iterator[AvailabilitySlot]:
    """One tier's candidates for ``selectors.open_slots_for_skill``: of ``teacher_ids``, or
    (None) of every bookable teacher of the skill scoring at most ``score_at_most`` but the
    learner; with ``day_ranges`` only slots lying wholly inside one of those [from, until)
    (``scheduling.rules.day_ranges``). Slots come with ``teacher`` (username, time zone and
    clock preference loaded) and ``score``."""
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
    params.append(adapt(window_start))
    within = ""
    if day_ranges is not None:
        if not day_ranges:
            return
        within = " AND (" + " OR ".join(['(s.start >= %s AND s."end" <= %s)'] * len(day_ranges))
        within += ")"
        for begins, ends in day_ranges:
            params += [adapt(begins), adapt(ends)]
    params += taken
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
        " t.username, t.timezone, t.time_format"
        " FROM scheduling_availabilityslot s JOIN accounts_teacherskill ts"
        " ON ts.teacher_id = s.teacher_id AND ts.skill_id = %s"
        " JOIN accounts_user t ON t.id = s.teacher_id"
        f' WHERE {who} AND s.start > %s AND s.start > %s AND s.start < %s AND s."end" > %s{within}'
        " AND NOT EXISTS (SELECT 1 FROM scheduling_booking b WHERE b.slot_id = s.id"
        f" AND b.status IN ({', '.join(['%s'] * len(taken))})){overlap}"
        " ORDER BY ts.score DESC, s.start, s.id LIMIT %s"
    )
    # Prepared on PostgreSQL (the text is constant), so it is not planned per request.
    db = connection.alias
    rows = fetch(sql, params)
    for pk, teacher_id, skill, begins, ends, created, score, username, zone, clock in rows:
        slot = AvailabilitySlot.from_db(
            db,
            ["id", "teacher_id", "skill_id", "start", "end", "created_at"],
            [pk, teacher_id, skill, *map(datetime_value, (begins, ends, created))],
        )
        slot.score = score
        # The teacher as booking needs it (the other fields load if anything asks).
        slot.teacher = User.from_db(
            db, ["id", "username", "timezone", "time_format"], [teacher_id, username, zone, clock]
        )
        yield slot
