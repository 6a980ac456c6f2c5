"""Rules a session keeps from request to end: a slot is offered once, a session ends after
it began, only bookable teachers are booked, and every message reads right without a skill."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Notification, User
from accounts.services import user_update_profile
from scheduling.models import Booking
from scheduling.rules import bookable_teachers, teacher_is_bookable
from scheduling.selectors import slots_list, teacher_get, teachers_ranked
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
from skilllink.errors import Conflict, NotFound
from tests.conftest import client_for
from tests.factories import (
    in_future,
    make_learner,
    make_slot,
    make_teacher,
    make_teacher_with_skills,
)

pytestmark = pytest.mark.django_db


def started(teacher, *, start=None, minutes=60):
    """A session accepted, then joined by both at its start: (booking, learner, slot)."""
    start = start or in_future(days=1)
    then = start - timedelta(hours=2)
    slot = make_slot(teacher, start=start, minutes=minutes, now=then)
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=slot.pk, now=then)
    booking_accept(booking_id=booking.pk, teacher=teacher, now=then)
    booking_join(booking_id=booking.pk, user=learner, now=start)
    booking_join(booking_id=booking.pk, user=teacher, now=start)
    return booking, learner, slot


# --- A slot is offered once ------------------------------------------------------------


def test_a_session_ended_early_never_offers_its_slot_again():
    teacher = make_teacher_with_skills("Python")
    booking, learner, slot = started(teacher)
    ten_minutes_in = slot.start + timedelta(minutes=10)
    done = booking_complete(booking_id=booking.pk, user=learner, now=ten_minutes_in)
    assert done.status == Booking.Status.COMPLETED

    # Not in any list of open slots, nor as the teacher's next open time...
    before_its_end = slot.start + timedelta(minutes=20)
    listed = slots_list(teacher_id=teacher.pk, now=slot.start - timedelta(hours=1))
    assert slot.pk not in [s.id for s in listed]
    by_skill = slots_list(skill_slug="python", now=slot.start - timedelta(hours=1))
    assert slot.pk not in [s.id for s in by_skill]
    assert teacher_get(teacher_id=teacher.pk).next_open_slot is None
    # ...and nobody can request it (the database refuses even a direct insert race).
    other = make_learner()
    with pytest.raises((Conflict, Exception)) as refused:
        booking_request(learner=other, slot_id=slot.pk, now=slot.start - timedelta(minutes=30))
    assert getattr(refused.value, "code", None) == "slot_unavailable"
    assert Booking.objects.filter(slot=slot).count() == 1
    # The teacher's own calendar shows it as taken, not open.
    response = client_for(teacher).get("/api/slots/?mine=true")
    assert {s["id"]: s["status"] for s in response.json()}[slot.pk] in {"past", "booked"}
    assert before_its_end  # (the slot's time had not run out when it was ended)


def test_a_slot_whose_session_was_cancelled_or_declined_is_offered_again():
    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher)
    first = booking_request(learner=make_learner(), slot_id=slot.pk)
    booking_decline(booking_id=first.pk, teacher=teacher)
    second = booking_request(learner=make_learner(), slot_id=slot.pk)
    booking_cancel(booking_id=second.pk, user=second.learner)
    assert slot.pk in [s.id for s in slots_list(teacher_id=teacher.pk)]
    booking_request(learner=make_learner(), slot_id=slot.pk)


# --- A session ends after it began ------------------------------------------------------


def test_ending_before_the_start_is_refused_and_changes_nothing():
    teacher = make_teacher_with_skills("Python")
    start = in_future(days=1)
    slot = make_slot(teacher, start=start, now=start - timedelta(hours=2))
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=slot.pk, now=start - timedelta(hours=2))
    booking_accept(booking_id=booking.pk, teacher=teacher, now=start - timedelta(hours=2))
    booking_join(booking_id=booking.pk, user=learner, now=start - timedelta(minutes=8))
    booking_join(booking_id=booking.pk, user=teacher, now=start - timedelta(minutes=7))
    with pytest.raises(Conflict) as refused:
        booking_complete(booking_id=booking.pk, user=teacher, now=start - timedelta(minutes=2))
    assert refused.value.code == "session_not_started"
    booking.refresh_from_db()
    assert booking.status == Booking.Status.IN_PROGRESS
    assert booking.ended_at is None and booking.duration_seconds is None
    # From the start on it can end; the measured time starts at the start, not the join.
    done = booking_complete(booking_id=booking.pk, user=teacher, now=start + timedelta(minutes=30))
    assert done.status == Booking.Status.COMPLETED and done.duration_seconds == 30 * 60


def test_ending_before_the_start_over_the_api_is_a_409_with_its_code():
    teacher = make_teacher_with_skills("Python")
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    slot = make_slot(teacher, start=start)
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=slot.pk)
    booking_accept(booking_id=booking.pk, teacher=teacher)
    assert client_for(learner).post(f"/api/bookings/{booking.pk}/join/").status_code == 200
    response = client_for(learner).post(f"/api/bookings/{booking.pk}/complete/")
    assert response.status_code == 409
    assert response.json()["code"] == "session_not_started"
    assert Booking.objects.get(pk=booking.pk).status == Booking.Status.IN_PROGRESS


# --- Only bookable teachers are booked, matched and listed -------------------------------


@pytest.mark.parametrize("how", ["stopped teaching", "deactivated"])
def test_a_teacher_no_longer_bookable_is_not_booked_matched_or_listed(how):
    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher)
    assert slot.pk in [s.id for s in slots_list(skill_slug="python")]
    if how == "stopped teaching":
        user_update_profile(user=teacher, role="learner")
    else:
        teacher.is_active = False
        teacher.save(update_fields=["is_active"])
    learner = make_learner()

    response = client_for(learner).post("/api/bookings/", {"slot": slot.pk}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert not Booking.objects.exists()
    outcome, _ = match_request(
        learner=learner,
        skill_slug="python",
        window_start=slot.start - timedelta(hours=1),
        window_end=slot.end + timedelta(hours=1),
    )
    assert outcome == "pending"
    assert slot.pk not in [s.id for s in slots_list(skill_slug="python")]
    assert slot.pk not in [s.id for s in slots_list(teacher_id=teacher.pk)]
    assert slot.pk not in [s.id for s in slots_list()]
    assert teacher.pk not in [card.id for card in teachers_ranked(skill_slug="python")]
    assert teacher.pk not in [card.id for card in teachers_ranked()]
    with pytest.raises(NotFound):
        teacher_get(teacher_id=teacher.pk)
    client = client_for(learner)
    client.force_login(learner)
    assert client.get(f"/book/{slot.pk}/").status_code == 404
    assert client.get(f"/teachers/{teacher.pk}/").status_code == 404


def test_the_bookable_rule_reads_the_same_in_python_and_in_the_database():
    users = [
        make_teacher(),
        make_learner(),
        make_teacher(is_active=False),
        make_teacher_with_skills("Go"),
    ]
    in_database = set(bookable_teachers().values_list("pk", flat=True))
    assert {u.pk for u in User.objects.all() if teacher_is_bookable(u)} == in_database
    assert in_database == {users[0].pk, users[3].pk}


# --- Every message reads right with and without a skill ---------------------------------


def titles(user) -> list[str]:
    return list(
        Notification.objects.filter(user=user).order_by("pk").values_list("title", flat=True)
    )


@pytest.mark.parametrize("skill", [None, "Python"])
def test_notification_copy_reads_right_with_and_without_a_skill(skill):
    teacher = make_teacher_with_skills(*([skill] if skill else []))
    if not skill:
        teacher.teacher_skills.all().delete()  # no skill at all: "any of my skills" slots
    label = f"{skill} session" if skill else "session"
    start = in_future(days=2)
    then = start - timedelta(days=1)

    # Requested, accepted, reminded, cancelled.
    learner = make_learner(username="lea")
    first = booking_request(
        learner=learner, slot_id=make_slot(teacher, start=start, now=then).pk, now=then
    )
    booking_accept(booking_id=first.pk, teacher=teacher, now=then)
    sweep(now=start - timedelta(minutes=10))  # the 15-minute reminder
    booking_cancel(booking_id=first.pk, user=teacher, now=start - timedelta(minutes=9))
    # Declined, and expired.
    later = start + timedelta(hours=2)
    second = booking_request(
        learner=learner, slot_id=make_slot(teacher, start=later, now=then).pk, now=then
    )
    booking_decline(booking_id=second.pk, teacher=teacher, now=then)
    third_start = start + timedelta(hours=4)
    booking_request(
        learner=learner, slot_id=make_slot(teacher, start=third_start, now=then).pk, now=then
    )
    sweep(now=third_start + timedelta(minutes=1))

    wants = f"lea wants to book {skill}" if skill else "lea wants to book a session"
    assert titles(teacher) == [
        wants,
        f"Your {label} starts soon",
        wants,
        wants,
        f"The {label} request expired unanswered",
    ]
    name = teacher.username
    assert titles(learner) == [
        f"{name} accepted your {label}",
        f"Your {label} starts soon",
        f"{name} cancelled the {label}",
        f"{name} declined your {label} request",
        f"The {label} request expired unanswered",
    ]
    for title in titles(teacher) + titles(learner):
        assert "a session session" not in title and "your a " not in title
