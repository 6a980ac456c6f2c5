"""Credits under real concurrency on PostgreSQL (threads, each on its own connection): the
row locks and the database decide, as between server processes."""

from datetime import timedelta

import pytest

from credits.models import Hold, Transfer
from credits.selectors import credits_summary
from scheduling.models import Booking
from scheduling.services.bookings import booking_request
from scheduling.services.sweep import sweep
from scheduling.transitions import booking_accept, booking_complete, booking_join
from tests.conftest import client_for, skip_unless_postgres
from tests.credits.invariants import ledger_problems
from tests.credits.test_ledger_concurrency import race
from tests.factories import in_future, make_learner, make_slot, make_teacher_with_skills

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_ten_parallel_bookings_with_credits_for_one_hold_once_and_refuse_nine(settings):
    skip_unless_postgres()
    settings.CREDITS_SIGNUP_GRANT = 60
    learner = make_learner()
    teachers = [make_teacher_with_skills("Python") for _ in range(10)]
    slots = [make_slot(t, start=in_future(days=1, hours=2 * n)) for n, t in enumerate(teachers)]
    learner.subscription_type, learner.subscription_expiry = "premium", None  # no quota
    learner.save(update_fields=["subscription_type", "subscription_expiry"])
    clients = [client_for(learner) for _ in slots]
    results = race(
        [
            lambda c=c, s=s: c.post("/api/bookings/", {"slot": s.pk}, format="json")
            for c, s in zip(clients, slots, strict=True)
        ]
    )
    codes = sorted(response.status_code for response in results)
    assert codes == [201] + [402] * 9, [r.content for r in results]
    assert Booking.objects.count() == 1 and Hold.objects.count() == 1
    assert credits_summary(user=learner) == {"balance": 60, "held": 60, "available": 0}
    assert ledger_problems() == []


def test_ten_parallel_completions_and_a_sweep_pay_once(settings):
    skip_unless_postgres()
    settings.CREDITS_PER_MINUTE = 1
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    start = in_future(days=1)
    then = start - timedelta(hours=2)
    slot = make_slot(teacher, start=start, now=then)
    booking = booking_request(learner=learner, slot_id=slot.pk, now=then)
    booking_accept(booking_id=booking.pk, teacher=teacher, now=then)
    booking_join(booking_id=booking.pk, user=learner, now=start)
    booking_join(booking_id=booking.pk, user=teacher, now=start)
    ended = start + timedelta(minutes=40)
    calls = [
        lambda u=(learner if n % 2 else teacher): booking_complete(
            booking_id=booking.pk, user=u, now=ended
        )
        for n in range(10)
    ]
    calls.append(lambda: sweep(now=start + timedelta(minutes=90)))
    results = race(calls)
    completed = [r for r in results[:10] if isinstance(r, Booking)]
    assert len(completed) <= 1  # the others found it completed (409), or the sweep did it
    assert Transfer.objects.filter(booking_id=booking.pk, kind="payment").count() == 1
    booking.refresh_from_db()
    assert booking.status == "completed"
    paid = credits_summary(user=teacher)["balance"] - 120
    assert paid in {40, 60}  # 40 minutes if a person ended it, 60 if the sweep did first
    assert credits_summary(user=learner)["balance"] == 120 - paid
    assert ledger_problems() == []
