"""Credits move with the booking: held on request, returned when it does not happen, and
settled from measured attendance when it ends. Exact amounts (1 credit a minute, 120 to
start with, 60-minute sessions)."""

from datetime import timedelta

import pytest

from credits.models import Hold, TeacherRating, Transfer
from credits.selectors import credits_summary
from credits.services import credits_adjust
from scheduling.attendance import visit_close
from scheduling.models import Booking, MatchRequest
from scheduling.services.bookings import booking_request
from scheduling.services.matching import match_request
from scheduling.services.sweep import sweep
from scheduling.transitions import (
    booking_accept,
    booking_cancel,
    booking_complete,
    booking_decline,
    booking_join,
)
from skilllink.errors import AppError
from tests.conftest import client_for
from tests.factories import in_future, make_learner, make_slot, make_staff, make_teacher_with_skills

pytestmark = pytest.mark.django_db

S = Booking.Status


@pytest.fixture(autouse=True)
def prices(settings):
    settings.CREDITS_PER_MINUTE = 1
    settings.CREDITS_SIGNUP_GRANT = 120


def money(user) -> tuple[int, int, int]:
    summary = credits_summary(user=user)
    return summary["balance"], summary["held"], summary["available"]


@pytest.fixture
def session():
    """A 60-minute session accepted a day ahead: (booking, learner, teacher, start)."""
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    start = in_future(days=2)
    then = start - timedelta(days=1)
    slot = make_slot(teacher, start=start, now=then)
    booking = booking_request(learner=learner, slot_id=slot.pk, now=then)
    booking_accept(booking_id=booking.pk, teacher=teacher, now=then)
    return booking, learner, teacher, start


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def test_a_request_holds_the_price_and_nothing_else_moves(session):
    booking, learner, teacher, _ = session
    assert money(learner) == (120, 60, 60)
    assert money(teacher) == (120, 0, 120)
    assert client_for(learner).get(f"/api/bookings/{booking.pk}/").json()["credits_held"] == 60


def test_partial_attendance_pays_the_minutes_together_rounded_up(session):
    booking, learner, teacher, start = session
    learner_visit = booking_join(booking_id=booking.pk, user=learner, now=start).visit
    booking_join(booking_id=booking.pk, user=teacher, now=start + minutes(10))
    visit_close(visit_id=learner_visit.pk, now=start + minutes(30) + timedelta(seconds=20))
    done = booking_complete(booking_id=booking.pk, user=teacher, now=start + minutes(50))
    # Together from 0:10 to 0:30:20: 20 min 20 s -> 21 minutes paid, 39 back.
    assert done.status == S.COMPLETED and done.duration_seconds == 20 * 60 + 20
    assert money(learner) == (120 - 21, 0, 99)
    assert money(teacher) == (120 + 21, 0, 141)
    body = client_for(learner).get(f"/api/bookings/{booking.pk}/").json()
    assert (body["credits_held"], body["credits_paid"]) == (0, 21)


def test_an_early_end_pays_only_the_time_until_it(session):
    booking, learner, teacher, start = session
    booking_join(booking_id=booking.pk, user=learner, now=start - minutes(5))
    booking_join(booking_id=booking.pk, user=teacher, now=start - minutes(2))
    booking_complete(booking_id=booking.pk, user=learner, now=start + minutes(15))
    assert money(teacher)[0] == 135 and money(learner)[0] == 105  # early minutes not paid


def test_an_overrun_is_capped_at_the_booked_length(session):
    booking, learner, teacher, start = session
    booking_join(booking_id=booking.pk, user=learner, now=start)
    booking_join(booking_id=booking.pk, user=teacher, now=start)
    done = booking_complete(booking_id=booking.pk, user=teacher, now=start + minutes(74))
    assert done.duration_seconds == 60 * 60
    assert money(teacher)[0] == 180 and money(learner)[0] == 60


def test_reconnects_and_second_tabs_count_once_and_gaps_are_not_paid(session):
    booking, learner, teacher, start = session
    first = booking_join(booking_id=booking.pk, user=learner, now=start).visit
    tab = booking_join(booking_id=booking.pk, user=learner, now=start + minutes(5)).visit
    booking_join(booking_id=booking.pk, user=teacher, now=start)
    visit_close(visit_id=first.pk, now=start + minutes(20))
    visit_close(visit_id=tab.pk, now=start + minutes(25))  # gone from 0:25 ...
    booking_join(booking_id=booking.pk, user=learner, now=start + minutes(35))  # ... to 0:35
    booking_complete(booking_id=booking.pk, user=teacher, now=start + minutes(40))
    assert money(teacher)[0] == 120 + 30  # 25 + 5 minutes together
    assert money(learner)[0] == 120 - 30


def test_the_teacher_never_came_full_refund_and_reliability_drops(session):
    booking, learner, teacher, start = session
    booking_join(booking_id=booking.pk, user=learner, now=start)
    done = booking_complete(booking_id=booking.pk, user=learner, now=start + minutes(20))
    assert done.status == S.NO_SHOW and done.absent == "teacher"
    assert not done.counts_for_quota
    assert money(learner) == (120, 0, 120) and money(teacher)[0] == 120
    assert teacher.rating_summary.no_shows == 1
    assert teacher.rating_summary.score < 3.5  # below a new teacher


def test_the_learner_never_came_the_teacher_who_waited_is_paid_in_full(session):
    booking, learner, teacher, start = session
    booking_join(booking_id=booking.pk, user=teacher, now=start)
    sweep(now=start + minutes(60 + 16))  # nobody ended it: the sweep does, after the grace
    booking.refresh_from_db()
    assert booking.status == S.NO_SHOW and booking.absent == "learner"
    assert money(teacher)[0] == 180 and money(learner) == (60, 0, 60)


def test_nobody_came_full_refund(session):
    booking, learner, teacher, start = session
    sweep(now=start + minutes(60))
    booking.refresh_from_db()
    assert booking.status == S.NO_SHOW and booking.absent == "both"
    assert money(learner) == (120, 0, 120) and money(teacher)[0] == 120


@pytest.mark.parametrize("how", ["decline", "cancel by learner", "cancel by teacher", "expiry"])
def test_a_session_that_does_not_happen_returns_the_hold(how):
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    start = in_future(days=2)
    slot = make_slot(teacher, start=start)
    booking = booking_request(learner=learner, slot_id=slot.pk)
    assert money(learner) == (120, 60, 60)
    if how == "decline":
        booking_decline(booking_id=booking.pk, teacher=teacher)
    elif how == "cancel by learner":
        booking_cancel(booking_id=booking.pk, user=learner)
    elif how == "cancel by teacher":
        booking_accept(booking_id=booking.pk, teacher=teacher)
        booking_cancel(booking_id=booking.pk, user=teacher)  # two days ahead: not late
    else:
        sweep(now=start + minutes(1))
    assert money(learner) == (120, 0, 120)
    assert money(teacher) == (120, 0, 120)
    assert not TeacherRating.objects.filter(teacher=teacher, late_cancels__gt=0).exists()


def test_a_teachers_cancellation_within_a_day_counts_against_them(session):
    booking, _, teacher, start = session
    booking_cancel(booking_id=booking.pk, user=teacher, now=start - timedelta(hours=3))
    teacher.refresh_from_db()
    assert teacher.rating_summary.late_cancels == 1


def test_settlement_happens_once_however_often_it_is_asked(session):
    booking, learner, teacher, start = session
    booking_join(booking_id=booking.pk, user=learner, now=start)
    booking_join(booking_id=booking.pk, user=teacher, now=start)
    booking_complete(booking_id=booking.pk, user=teacher, now=start + minutes(30))
    with pytest.raises(AppError):
        booking_complete(booking_id=booking.pk, user=learner, now=start + minutes(31))
    sweep(now=start + minutes(100))
    sweep(now=start + minutes(101))
    assert Transfer.objects.filter(booking_id=booking.pk, kind="payment").count() == 1
    assert money(teacher)[0] == 150


def test_insufficient_credits_is_a_402_and_nothing_changes():
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    credits_adjust(user=learner, amount=-100, reason="Test: spent", actor=make_staff())
    slot = make_slot(teacher)  # 60 minutes: 60 credits, 20 available
    response = client_for(learner).post("/api/bookings/", {"slot": slot.pk}, format="json")
    assert response.status_code == 402
    assert response.json() == {
        "code": "insufficient_credits",
        "detail": "This needs 60 credits and 20 are available.",
    }
    assert not Booking.objects.exists() and not Hold.objects.exists()
    assert money(learner) == (20, 0, 20)


def test_matchmaking_holds_too_and_skips_what_the_learner_cannot_pay_for():
    long_teacher = make_teacher_with_skills("Python")
    short_teacher = make_teacher_with_skills("Python")
    start = in_future(days=1)
    make_slot(long_teacher, start=start, minutes=90)
    short = make_slot(short_teacher, start=start + minutes(120), minutes=30)
    learner = make_learner()
    credits_adjust(user=learner, amount=-70, reason="Test: spent", actor=make_staff())  # 50 left
    outcome, booking = match_request(
        learner=learner, skill_slug="python", window_start=start, window_end=start + minutes(240)
    )
    assert outcome == "matched" and booking.slot_id == short.pk
    assert money(learner) == (50, 30, 20)

    poor = make_learner()
    credits_adjust(user=poor, amount=-110, reason="Test: spent", actor=make_staff())  # 10 left
    outcome, pending = match_request(
        learner=poor, skill_slug="python", window_start=start, window_end=start + minutes(240)
    )
    assert outcome == "pending"
    # The short slot is taken: the long one was the fitting slot passed over.
    assert pending.reason == "This needs 90 credits and 10 are available."
    assert MatchRequest.objects.get(pk=pending.pk).status == "pending"
    assert money(poor) == (10, 0, 10)


def test_cards_show_sessions_taught_and_the_share_kept(session, client):
    booking, learner, teacher, start = session
    assert b"data-teacher-record" not in client.get(f"/teachers/{teacher.pk}/").content
    booking_join(booking_id=booking.pk, user=learner, now=start)
    booking_join(booking_id=booking.pk, user=teacher, now=start)
    booking_complete(booking_id=booking.pk, user=teacher, now=start + minutes(30))
    other = booking_request(
        learner=make_learner(), slot_id=make_slot(teacher, start=start + timedelta(days=3)).pk
    )
    booking_accept(booking_id=other.pk, teacher=teacher)
    booking_cancel(booking_id=other.pk, user=teacher, now=other.start - timedelta(hours=2))
    client.force_login(learner)
    page = client.get("/teachers/?skill=python").content.decode()
    assert "1 session taught · <span" in page and "50% kept" in page
    api = client_for(learner).get(f"/api/teachers/{teacher.pk}/").json()
    assert (api["sessions_taught"], api["reliability"], api["price_per_hour"]) == (1, 50, 60)
