"""POST /api/bookings/<id>/rating/: the learner, once, a completed session, 1-5 stars."""

import pytest

from credits.models import TeacherRating
from scheduling.services.bookings import booking_request
from scheduling.transitions import booking_accept, booking_complete, booking_join
from tests.conftest import client_for
from tests.factories import make_learner, make_slot, make_teacher_with_skills

pytestmark = pytest.mark.django_db


@pytest.fixture
def session():
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    slot = make_slot(teacher)
    booking = booking_request(learner=learner, slot_id=slot.pk)
    booking_accept(booking_id=booking.pk, teacher=teacher)
    return booking, learner, teacher, slot


def rate(user, booking, **data):
    return client_for(user).post(f"/api/bookings/{booking.pk}/rating/", data, format="json")


def test_rating_a_scheduled_session_is_a_conflict_then_completed_works_once(session):
    booking, learner, teacher, slot = session
    assert rate(learner, booking, stars=5).json()["code"] == "invalid_transition"
    booking_join(booking_id=booking.pk, user=learner, now=slot.start)
    booking_join(booking_id=booking.pk, user=teacher, now=slot.start)
    booking_complete(booking_id=booking.pk, user=learner, now=slot.end)
    response = rate(learner, booking, stars=4, feedback="Good")
    assert response.status_code == 201
    assert response.json()["stars"] == 4
    again = rate(learner, booking, stars=5)
    assert again.status_code == 409 and again.json()["code"] == "already_rated"
    summary = TeacherRating.objects.get(teacher=teacher)
    assert (summary.count, summary.total) == (1, 4)


def test_wrong_user_bad_stars(session):
    booking, learner, teacher, slot = session
    booking_join(booking_id=booking.pk, user=learner, now=slot.start)
    booking_join(booking_id=booking.pk, user=teacher, now=slot.start)
    booking_complete(booking_id=booking.pk, user=learner, now=slot.end)
    assert rate(teacher, booking, stars=5).status_code == 403
    assert rate(make_learner(), booking, stars=5).status_code == 404
    response = rate(learner, booking, stars=6)
    assert response.status_code == 400 and "stars" in response.json()["fields"]
    summary = TeacherRating.objects.get(teacher=teacher)  # the session taught, no rating
    assert (summary.count, summary.sessions_taught) == (0, 1)
