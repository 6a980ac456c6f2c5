"""Random lives of bookings (hypothesis): sign-ups, requests, accepts, declines, cancels,
joins, leaves, completions and sweeps, with time moving forward. After every step no credit
was created or lost, every stored balance equals the sum of its entries, no available
balance is negative, and nothing sits in escrow for a booking that is over."""

import contextlib
import itertools
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from credits.models import Hold
from scheduling.attendance import visit_close
from scheduling.models import Booking, RoomVisit
from scheduling.services.bookings import booking_request
from scheduling.services.sweep import sweep
from scheduling.transitions import (
    booking_accept,
    booking_cancel,
    booking_complete,
    booking_decline,
    booking_join,
)
from skilllink.errors import AppError
from tests.credits.invariants import ledger_problems
from tests.factories import make_learner, make_slot, make_teacher_with_skills

_names = itertools.count(1)
SEEN: Counter = Counter()  # how the bookings of all examples ended up
OVER = (
    Booking.Status.COMPLETED,
    Booking.Status.DECLINED,
    Booking.Status.CANCELLED,
    Booking.Status.EXPIRED,
    Booking.Status.NO_SHOW,
)


class BookingLives(RuleBasedStateMachine):
    """One example = one savepoint, rolled back at teardown."""

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.now = timezone.now().replace(minute=0, second=0, microsecond=0)
        self.teachers, self.learners, self.slots, self.bookings = [], [], [], []
        self.n = next(_names)
        for teaches in (True, True, False, False, False):  # someone to book from the start
            self.sign_up(teaches)

    def teardown(self):
        SEEN.update(Booking.objects.values_list("status", flat=True))
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _person(self, index: int, people: list):
        return people[index % len(people)]

    @rule(teaches=st.booleans())
    def sign_up(self, teaches):
        n = len(self.teachers) + len(self.learners)
        if teaches:
            teacher = make_teacher_with_skills("Python", username=f"t{self.n}x{n}")
            self.teachers.append(teacher)
            for hours in (1, 2, 4):
                start = self.now + timedelta(hours=hours, minutes=5 * len(self.slots))
                self.slots.append(make_slot(teacher, start=start, minutes=45, now=self.now))
        else:
            self.learners.append(make_learner(username=f"l{self.n}x{n}"))

    @precondition(lambda self: self.learners and self.slots)
    @rule(who=st.integers(0, 50), which=st.integers(0, 50))
    def request(self, who, which):
        learner, slot = self._person(who, self.learners), self._person(which, self.slots)
        # Taken, overlapping, over the quota, too few credits, past: refused whole.
        with contextlib.suppress(AppError):
            self.bookings.append(booking_request(learner=learner, slot_id=slot.pk, now=self.now))

    def _act(self, which, move, statuses=None, starting_after=None):
        """``move`` one booking (``which`` of those in ``statuses``, starting after
        ``starting_after``, fresh from the database)."""
        ids = [b.pk for b in self.bookings]
        chosen = Booking.objects.filter(pk__in=ids)
        if statuses:
            chosen = chosen.filter(status__in=statuses)
        if starting_after:
            chosen = chosen.filter(start__gt=starting_after)
        candidates = list(chosen.select_related("learner", "teacher").order_by("pk"))
        if not candidates:
            return
        booking = candidates[which % len(candidates)]
        with contextlib.suppress(AppError):  # not allowed now: nothing changes
            move(booking)

    @rule(which=st.integers(0, 50), accept=st.sampled_from([True, True, False]))
    def answer(self, which, accept):
        def move(b):
            if accept:
                booking_accept(booking_id=b.pk, teacher=b.teacher, now=self.now)
            else:
                booking_decline(booking_id=b.pk, teacher=b.teacher, now=self.now)

        self._act(which, move, statuses=[Booking.Status.REQUESTED])

    @rule(which=st.integers(0, 50), by_teacher=st.booleans())
    def cancel(self, which, by_teacher):
        self._act(
            which,
            lambda b: booking_cancel(
                booking_id=b.pk, user=b.teacher if by_teacher else b.learner, now=self.now
            ),
        )

    @rule(which=st.integers(0, 50), teacher=st.booleans())
    def join(self, which, teacher):
        self._act(
            which,
            lambda b: booking_join(
                booking_id=b.pk, user=b.teacher if teacher else b.learner, now=self.now
            ),
            statuses=[Booking.Status.SCHEDULED, Booking.Status.IN_PROGRESS],
        )

    @rule(which=st.integers(0, 50))
    def leave(self, which):
        visit = RoomVisit.objects.filter(left_at__isnull=True).order_by("pk")
        chosen = visit[which % visit.count()] if visit.exists() else None
        if chosen is not None:
            visit_close(visit_id=chosen.pk, now=self.now)

    @rule(which=st.integers(0, 50), teacher=st.booleans())
    def complete(self, which, teacher):
        self._act(
            which,
            lambda b: booking_complete(
                booking_id=b.pk, user=b.teacher if teacher else b.learner, now=self.now
            ),
            statuses=[Booking.Status.IN_PROGRESS],
        )

    @rule(minutes=st.sampled_from([5, 15, 30, 60]))
    def time_passes(self, minutes):
        self.now += timedelta(minutes=minutes)

    @rule()
    def until_the_next_session_starts(self):
        upcoming = Booking.objects.filter(
            pk__in=[b.pk for b in self.bookings],
            status=Booking.Status.SCHEDULED,
            start__gt=self.now,
        ).order_by("start")
        if upcoming.exists():
            self.now = upcoming.first().start

    @rule(
        which=st.integers(0, 50),
        who_comes=st.sampled_from(["both", "both", "both", "learner", "teacher", "nobody"]),
        minutes=st.sampled_from([1, 20, 50, 90]),
    )
    def a_session_runs(self, which, who_comes, minutes):
        """A requested or accepted session still ahead: accepted if need be, its start comes,
        who comes joins, time passes, and it is ended (by a person, or if ``minutes`` runs
        past its end, by the due move)."""

        def run(b):
            if b.status == Booking.Status.REQUESTED:  # the teacher says yes first
                booking_accept(booking_id=b.pk, teacher=b.teacher, now=self.now)
            self.now = max(self.now, b.start)
            coming = {"both": [b.learner, b.teacher], "learner": [b.learner]}.get(who_comes, [])
            coming += [b.teacher] if who_comes == "teacher" else []
            for person in coming:
                booking_join(booking_id=b.pk, user=person, now=self.now)
            self.now += timedelta(minutes=minutes)
            if coming:
                booking_complete(booking_id=b.pk, user=coming[0], now=self.now)

        self._act(
            which,
            run,
            statuses=[Booking.Status.REQUESTED, Booking.Status.SCHEDULED],
            starting_after=self.now,
        )

    @rule()
    def run_the_sweep(self):
        sweep(now=self.now)

    @invariant()
    def no_credit_created_or_lost(self):
        assert ledger_problems() == []

    @invariant()
    def nothing_held_for_a_booking_that_is_over(self):
        over = Booking.objects.filter(status__in=OVER).values_list("pk", flat=True)
        assert not Hold.objects.filter(booking_id__in=list(over), closed_by=None).exists()


@pytest.mark.django_db
def test_random_lives_of_bookings_keep_the_ledger_whole():
    run = BookingLives.TestCase
    run.settings = settings(
        max_examples=25,
        stateful_step_count=50,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    run().runTest()
    # The examples reached every way a booking can end, so settlement was exercised.
    assert {"completed", "no_show", "cancelled", "declined"} <= set(SEEN), SEEN
