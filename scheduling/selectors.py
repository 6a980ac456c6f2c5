"""Reads for scheduling: open slots, teacher discovery, a user's sessions, plan usage."""

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from accounts.models import Skill, TeacherSkill, User
from credits.selectors import reliability_shown, teacher_score_field
from scheduling import sql_reads
from scheduling.models import (
    SLOT_MAX_LENGTH,
    AvailabilitySlot,
    Booking,
    MatchRequest,
    RescheduleRequest,
)
from scheduling.rules import (
    bookable_teacher_q,
    bookable_teachers,
    pending_reschedule_known,
    slot_of_a_teacher_of_skill_fits_q,
)
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
    skill = Skill.objects.filter(slug=skill_slug).only("name", "slug").first()
    if skill is None:
        return []
    rows = sql_reads.open_slot_rows_for_skill(
        skill_id=skill.pk,
        teacher_id=teacher_id,
        start=start,
        end=end,
        lower=lower,
        after=after,
        limit=limit,
    )
    return [
        OpenSlot(pk, teacher, skill if own_skill else None, begins, ends)
        for pk, teacher, own_skill, begins, ends in rows
    ]


def slots_for_reschedule(*, booking: Booking, limit: int = 12) -> list[OpenSlot]:
    """The open slots ``booking`` could move to: its teacher's, fitting its skill, soonest
    first (``transitions.booking_reschedule`` checks the rest, such as overlaps)."""
    return slots_list(
        teacher_id=booking.teacher_id,
        skill_slug=booking.skill.slug if booking.skill else None,
        limit=limit,
    )


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
    day_ranges: list[tuple[datetime, datetime]] | None = None,
) -> Iterator[AvailabilitySlot]:
    """Open slots overlapping the window for ``skill``, best teacher first, then earliest, then id
    (at most ``limit``), read lazily: a caller that stops after the first reads the least.

    With ``learner``: not the learner's own slots, nor slots overlapping their active
    sessions (call under ``learner_lock`` for that to hold). With ``day_ranges``, only
    slots lying inside one of them (``scheduling.rules.day_ranges``). Slots come with
    ``teacher`` and ``score``.

    The order starts with the score, so the teachers are taken best first, a tier at a
    time (``MATCH_TEACHER_TIERS``, from the stored scores' index), and only their slots
    are read: a tier's candidates are exactly the head of the full order when every
    teacher scoring less is left for the next tier (the tie group at a tier's edge moves
    to the next one whole). The next tier is read only when the caller asks for more.
    """
    now = now or timezone.now()
    learner_id = None if learner is None else learner.pk
    candidates = functools.partial(
        sql_reads.match_candidates,
        skill_id=skill.pk,
        window=(window_start, window_end),
        learner_id=learner_id,
        now=now,
        day_ranges=day_ranges,
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
    """(teacher id, stored score) of the skill's bookable teachers but the learner, best
    first (then by id), scoring at most ``score_at_most`` if given; at most ``limit``.
    Read from the index (skill, score desc, teacher)."""
    rows = TeacherSkill.objects.filter(bookable_teacher_q(), skill_id=skill_id)
    if learner_id is not None:
        rows = rows.exclude(teacher_id=learner_id)
    if score_at_most is not None:
        rows = rows.filter(score__lte=score_at_most)
    return list(rows.order_by("-score", "teacher_id").values_list("teacher_id", "score")[:limit])


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
    headline: str
    photo: str  # the stored file's name, "" without a photo
    timezone: str
    rating_count: int
    rating_total: int
    score: float
    sessions_taught: int
    no_shows: int
    late_cancels: int
    next_open_slot: datetime | None
    skills: tuple[TaughtSkill, ...]
    # The first open slots (fitting the skill) within NEXT_OPEN_DAYS, for "book this time".
    next_open: tuple[OpenSlot, ...] = ()

    @property
    def photo_url(self) -> str:
        return photo_url(self.photo)

    @property
    def reliability(self) -> int | None:
        """Percent of sessions kept (None without history): credits.selectors.reliability_shown."""
        return reliability_shown(
            taught=self.sessions_taught, no_shows=self.no_shows, late_cancels=self.late_cancels
        )

    @property
    def pk(self) -> int:
        return self.id


# Rows read past the page to find where its last tie group (equal score) ends.
RANKING_LOOKAHEAD = 20
# A card offers its teacher's first NEXT_OPEN_SHOWN open times within NEXT_OPEN_DAYS.
NEXT_OPEN_SHOWN = 3
NEXT_OPEN_DAYS = 14


def photo_url(name: str) -> str:
    """The URL of a stored photo (media storage), "" for none."""
    return User._meta.get_field("photo").storage.url(name) if name else ""


def _next_open_times(ids, *, now: datetime, skill_id: int | None) -> dict[int, list[OpenSlot]]:
    """Each teacher's first ``NEXT_OPEN_SHOWN`` open slots (fitting the skill) starting
    within ``NEXT_OPEN_DAYS``: one query for all of ``ids`` (a row number per teacher)."""
    rows = slots_open(now).filter(
        teacher_id__in=list(ids), start__lt=now + timedelta(days=NEXT_OPEN_DAYS)
    )
    if skill_id is not None:
        rows = rows.filter(slot_of_a_teacher_of_skill_fits_q(skill_id))
    rows = (
        rows.annotate(
            place=Window(RowNumber(), partition_by=F("teacher_id"), order_by=[F("start"), F("id")])
        )
        .filter(place__lte=NEXT_OPEN_SHOWN)
        .order_by("teacher_id", "start", "id")
        .values_list("id", "teacher_id", "start", "end", "skill_id", "skill__slug", "skill__name")
    )
    found: dict[int, list[OpenSlot]] = {}
    skills: dict[int, Skill] = {}
    for pk, teacher, begins, ends, own_skill, slug, name in rows:
        skill = None
        if own_skill is not None:
            skill = skills.setdefault(own_skill, Skill(pk=own_skill, slug=slug, name=name))
        found.setdefault(teacher, []).append(OpenSlot(pk, teacher, skill, begins, ends))
    return found


def _next_open_slot(now: datetime, skill_id: int | None) -> Subquery:
    """The start of the teacher's (``OuterRef("pk")``) soonest open slot fitting the skill."""
    next_slot = slots_open(now).filter(teacher=OuterRef("pk"))
    if skill_id is not None:
        next_slot = next_slot.filter(slot_of_a_teacher_of_skill_fits_q(skill_id))
    return Subquery(next_slot.order_by("start").values("start")[:1])


def _teacher_cards(ids, *, now: datetime, skill_id: int | None = None) -> dict[int, TeacherCard]:
    """Cards of the active teachers ``ids`` by id: three queries, whatever their number."""
    rows = (
        bookable_teachers()
        .filter(pk__in=ids)
        .annotate(
            rating_count=Coalesce(F("rating_summary__count"), 0),
            rating_total=Coalesce(F("rating_summary__total"), 0),
            stored_score=teacher_score_field(),
            taught=Coalesce(F("rating_summary__sessions_taught"), 0),
            missed=Coalesce(F("rating_summary__no_shows"), 0),
            cancelled_late=Coalesce(F("rating_summary__late_cancels"), 0),
            next_open_slot=_next_open_slot(now, skill_id),
        )
        .values_list(
            "pk",
            "username",
            "bio",
            "headline",
            "photo",
            "timezone",
            "rating_count",
            "rating_total",
            "stored_score",
            "taught",
            "missed",
            "cancelled_late",
            "next_open_slot",
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
    soon = _next_open_times(found, now=now, skill_id=skill_id) if found else {}
    return {
        pk: TeacherCard(*row, tuple(skills[pk]), tuple(soon.get(pk, ())))
        for pk, row in found.items()
    }


def teachers_ranked(
    *,
    skill_slug: str | None = None,
    q: str | None = None,
    limit: int = 20,
    offset: int = 0,
    now: datetime | None = None,
) -> list[TeacherCard]:
    """Teachers best first: rating score, then soonest open slot (fitting the skill), then id.

    Five queries at most, whatever the page size.
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
        qs = bookable_teachers().annotate(score=teacher_score_field())
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


def teacher_find(*, name: str) -> tuple[TeacherCard, bool]:
    """The bookable teacher whose profile URL segment is ``name``, and whether that URL is
    the canonical one. Usernames first (case-insensitive: they are unique so); an all-digit
    segment that names nobody is an old profile URL by id. ``NotFound`` otherwise."""
    pk = bookable_teachers().filter(username__iexact=name).values_list("pk", flat=True).first()
    if pk is None and name.isascii() and name.isdigit() and len(name) < 19:
        pk = int(name)
    if pk is None:
        raise NotFound("No such teacher.")
    card = teacher_get(teacher_id=pk)
    return card, card.username == name


@dataclass(frozen=True)
class SessionsOverview:
    """A user's sessions as "My sessions" and the dashboard group them."""

    waiting: list[Booking]  # requests the user (as teacher) should answer
    my_requests: list[Booking]  # the user's own requests, not answered yet
    upcoming: list[Booking]  # scheduled or running
    past: list[Booking]  # ended, newest first (the last 50)
    pending_matches: list[MatchRequest]


def sessions_overview(*, user: User, now: datetime | None = None) -> SessionsOverview:
    """The user's sessions, grouped, each brought up to date first (a due automatic move,
    such as an unanswered request expiring, is applied: ``transitions.bookings_apply_due``)."""
    from scheduling.transitions import bookings_apply_due

    now = now or timezone.now()
    bookings = bookings_apply_due(bookings=bookings_for_user(user=user), now=now)
    S = Booking.Status
    return SessionsOverview(
        waiting=[b for b in bookings if b.status == S.REQUESTED and b.teacher_id == user.pk],
        my_requests=[b for b in bookings if b.status == S.REQUESTED and b.learner_id == user.pk],
        upcoming=[b for b in bookings if b.status in (S.SCHEDULED, S.IN_PROGRESS)],
        past=sorted((b for b in bookings if not b.is_active), key=lambda b: b.start, reverse=True)[
            :50
        ],
        pending_matches=[
            m for m in match_requests_for_user(user=user) if m.status == MatchRequest.Status.PENDING
        ],
    )


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


def match_requests_for_user(*, user: User) -> QuerySet:
    return MatchRequest.objects.filter(learner=user).select_related("skill").order_by("-created_at")


def pending_reschedules_attach(*, bookings: list[Booking]) -> None:
    """Read the pending moves of ``bookings`` in one query and tell each booking its own
    (``rules.pending_reschedule`` then asks nothing more)."""
    scheduled = [b for b in bookings if b.status == Booking.Status.SCHEDULED]
    pending = {
        request.booking_id: request
        for request in RescheduleRequest.objects.filter(
            booking__in=scheduled, status=RescheduleRequest.Status.PENDING
        ).select_related("slot")
    }
    for booking in bookings:
        pending_reschedule_known(booking, pending.get(booking.pk))
