"""The booking lifecycle over the API: every move, every refusal, the quota, the race."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Notification
from scheduling.models import Booking, BookingEvent
from scheduling.services.bookings import booking_request
from scheduling.services.sweep import sweep
from scheduling.transitions import booking_accept, booking_join
from tests.conftest import client_for
from tests.factories import (
    give_credits,
    in_future,
    make_learner,
    make_slot,
    make_teacher_with_skills,
)

pytestmark = pytest.mark.django_db
S = Booking.Status


@pytest.fixture
def teacher():
    return make_teacher_with_skills("Python")


@pytest.fixture
def slot(teacher):
    return make_slot(teacher)


def book(learner, slot, **extra):
    return client_for(learner).post(
        "/api/bookings/", {"slot": slot.pk, "message": "Hi!", **extra}, format="json"
    )


def act(user, booking_id, action, **data):
    return client_for(user).post(f"/api/bookings/{booking_id}/{action}/", data, format="json")


def test_request_accept_join_complete(teacher, slot):
    learner = make_learner()
    response = book(learner, slot)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "requested"
    assert body["teacher"]["id"] == teacher.pk and body["learner"]["id"] == learner.pk
    assert body["skill"] == {"slug": "python", "name": "Python"}
    booking_id = body["id"]
    assert Notification.objects.filter(user=teacher, kind="booking.requested").exists()

    accepted = act(teacher, booking_id, "accept")
    assert accepted.json()["status"] == "scheduled"
    assert Notification.objects.filter(user=learner, kind="booking.accepted").exists()

    # Time moves: the session starts; join and end it through the services' clock.
    booking_join(booking_id=booking_id, user=learner, now=slot.start + timedelta(minutes=1))
    booking_join(booking_id=booking_id, user=teacher, now=slot.start + timedelta(minutes=1))
    from scheduling.transitions import booking_complete

    done = booking_complete(
        booking_id=booking_id, user=teacher, now=slot.start + timedelta(minutes=46)
    )
    assert done.status == S.COMPLETED
    assert done.duration_seconds == 45 * 60
    assert list(
        BookingEvent.objects.filter(booking_id=booking_id).values_list("to_status", "actor")
    ) == [
        ("requested", learner.pk),
        ("scheduled", teacher.pk),
        ("in_progress", learner.pk),
        ("completed", teacher.pk),
    ]


def test_duration_is_capped_at_the_booked_length(teacher, slot):
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=slot.pk)
    booking_accept(booking_id=booking.pk, teacher=teacher)
    booking_join(booking_id=booking.pk, user=teacher, now=slot.start - timedelta(minutes=5))
    booking_join(booking_id=booking.pk, user=learner, now=slot.start)
    from scheduling.transitions import booking_complete

    done = booking_complete(
        booking_id=booking.pk, user=learner, now=slot.end + timedelta(minutes=10)
    )
    assert done.duration_seconds == 60 * 60


def test_decline_frees_the_slot_and_notifies(teacher, slot):
    learner = make_learner()
    booking_id = book(learner, slot).json()["id"]
    response = act(teacher, booking_id, "decline", reason="Away that day")
    assert response.json()["status"] == "declined"
    assert response.json()["reason"] == "Away that day"
    assert Notification.objects.filter(user=learner, kind="booking.declined").exists()
    assert book(make_learner(), slot).status_code == 201


@pytest.mark.parametrize("who", ["learner", "teacher"])
def test_either_participant_cancels_before_start(teacher, slot, who):
    learner = make_learner()
    booking_id = book(learner, slot).json()["id"]
    act(teacher, booking_id, "accept")
    actor, other = (learner, teacher) if who == "learner" else (teacher, learner)
    response = act(actor, booking_id, "cancel", reason="Sorry")
    assert response.json()["status"] == "cancelled"
    assert Notification.objects.filter(user=other, kind="booking.cancelled").exists()
    booking = Booking.objects.get(pk=booking_id)
    assert booking.cancelled_by == actor
    assert booking.counts_for_quota is (who == "learner")


def test_cancel_after_start_is_refused(teacher, slot):
    from scheduling.transitions import booking_cancel
    from skilllink.errors import AppError

    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=slot.pk)
    booking_accept(booking_id=booking.pk, teacher=teacher)
    with pytest.raises(AppError) as caught:
        booking_cancel(booking_id=booking.pk, user=learner, now=slot.start + timedelta(minutes=1))
    assert caught.value.code == "invalid_transition"
    assert Booking.objects.get(pk=booking.pk).status == S.SCHEDULED


def test_wrong_participant_gets_403_stranger_gets_404(teacher, slot):
    learner = make_learner()
    booking_id = book(learner, slot).json()["id"]
    response = act(learner, booking_id, "accept")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert act(learner, booking_id, "decline").status_code == 403
    stranger = make_learner()
    for action in ["accept", "decline", "cancel", "join", "complete"]:
        response = act(stranger, booking_id, action)
        assert response.status_code == 404, action
        assert response.json()["code"] == "not_found"
    assert client_for(stranger).get(f"/api/bookings/{booking_id}/").status_code == 404
    assert Booking.objects.get(pk=booking_id).status == S.REQUESTED


def test_wrong_state_is_409(teacher, slot):
    learner = make_learner()
    booking_id = book(learner, slot).json()["id"]
    act(teacher, booking_id, "accept")
    response = act(teacher, booking_id, "accept")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert act(teacher, booking_id, "decline").status_code == 409
    assert act(learner, booking_id, "complete").status_code == 409
    act(learner, booking_id, "cancel")
    assert act(teacher, booking_id, "accept").status_code == 409


def test_join_outside_the_room_window_is_refused(teacher, slot):
    learner = make_learner()
    booking_id = book(learner, slot).json()["id"]
    act(teacher, booking_id, "accept")
    response = act(learner, booking_id, "join")  # the slot is a day away
    assert response.status_code == 403
    assert response.json()["code"] == "room_closed"
    assert Booking.objects.get(pk=booking_id).status == S.SCHEDULED


def test_join_on_a_request_is_refused(teacher, slot):
    from scheduling.transitions import booking_join as join
    from skilllink.errors import AppError

    booking = booking_request(learner=make_learner(), slot_id=slot.pk)
    with pytest.raises(AppError) as caught:
        join(booking_id=booking.pk, user=teacher, now=slot.start)
    assert caught.value.code == "room_closed"


def test_refusals_when_booking(teacher, slot):
    learner = make_learner()
    # Teachers who are not learners cannot book.
    other_teacher = make_teacher_with_skills("Chess")
    assert book(other_teacher, slot).json()["code"] == "forbidden"
    # Own slot.
    from accounts.services import user_update_profile

    user_update_profile(user=teacher, role="both")
    response = book(teacher, slot)
    assert response.status_code == 400 and response.json()["code"] == "own_slot"
    # Unknown slot.
    response = client_for(learner).post("/api/bookings/", {"slot": 999999}, format="json")
    assert response.status_code == 404
    # Taken.
    assert book(learner, slot).status_code == 201
    response = book(make_learner(), slot)
    assert response.status_code == 409 and response.json()["code"] == "slot_unavailable"
    assert Booking.objects.count() == 1


def test_learner_cannot_hold_two_overlapping_bookings(slot):
    learner = make_learner()
    other = make_slot(make_teacher_with_skills("Python"), start=slot.start + timedelta(minutes=30))
    assert book(learner, slot).status_code == 201
    response = book(learner, other)
    assert response.status_code == 409
    assert response.json()["code"] == "booking_overlap"


def test_skill_must_fit_the_slot(teacher):
    slot = make_slot(teacher, skill_slug="python")
    response = book(make_learner(), slot, skill="guitar")
    assert response.status_code == 400
    assert "skill" in response.json()["fields"]


def test_list_filters_by_status_and_role(teacher, slot):
    learner = make_learner()
    booking_id = book(learner, slot).json()["id"]
    client = client_for(teacher)
    assert [b["id"] for b in client.get("/api/bookings/?as=teacher").json()] == [booking_id]
    assert client.get("/api/bookings/?as=learner").json() == []
    assert client.get("/api/bookings/?status=scheduled").json() == []
    assert len(client.get("/api/bookings/?status=requested,scheduled").json()) == 1
    assert client.get("/api/bookings/?status=bogus").status_code == 400


# --- Quota -----------------------------------------------------------------------------


def _slots(n, **kwargs):
    teacher = make_teacher_with_skills("Python")
    return [make_slot(teacher, start=in_future(days=1 + i, **kwargs)) for i in range(n)]


def test_third_booking_in_seven_days_is_refused_for_free_plan_and_upgrade_lifts_it():
    learner = make_learner()
    give_credits(learner, 500)  # books more than the sign-up grant pays
    a, b, c = _slots(3)
    assert book(learner, a).status_code == 201
    assert book(learner, b).status_code == 201
    response = book(learner, c)
    assert response.status_code == 403
    assert response.json()["code"] == "upgrade_required"
    assert Booking.objects.filter(learner=learner).count() == 2
    upgraded = client_for(learner).post("/api/subscription/upgrade/")
    assert upgraded.status_code == 200
    assert upgraded.json()["type"] == "premium"
    assert book(learner, c).status_code == 201


def test_declined_booking_frees_its_place():
    learner = make_learner()
    a, b, c = _slots(3)
    first = book(learner, a).json()["id"]
    book(learner, b)
    act(a.teacher, first, "decline")
    assert book(learner, c).status_code == 201


def test_learner_cancel_still_counts_teacher_cancel_does_not():
    learner = make_learner()
    a, b, c = _slots(3)
    first = book(learner, a).json()["id"]
    second = book(learner, b).json()["id"]
    act(learner, first, "cancel")
    assert book(learner, c).json()["code"] == "upgrade_required"
    act(b.teacher, second, "cancel")
    assert book(learner, c).status_code == 201


def test_an_eight_day_old_booking_no_longer_counts():
    learner = make_learner()
    give_credits(learner, 500)  # books more than the sign-up grant pays
    eight_days_ago = timezone.now() - timedelta(days=8)
    old = _slots(2)
    for slot in old:
        booking_request(learner=learner, slot_id=slot.pk, now=eight_days_ago)
    (fresh,) = _slots(1, hours=12)
    assert book(learner, fresh).status_code == 201
    summary = client_for(learner).get("/api/subscription/").json()
    assert summary["bookings_used"] == 1
    assert summary["bookings_limit"] == 2


def test_subscription_summary_and_upgrade_extends_from_current_expiry():
    learner = make_learner()
    client = client_for(learner)
    summary = client.get("/api/subscription/").json()
    assert summary == {
        "type": "free",
        "expires_at": None,
        "bookings_used": 0,
        "bookings_limit": 2,
        "window_days": 7,
        "next_free_at": None,
    }
    first = client.post("/api/subscription/upgrade/").json()
    second = client.post("/api/subscription/upgrade/").json()
    from datetime import datetime

    gap = datetime.fromisoformat(second["expires_at"]) - datetime.fromisoformat(first["expires_at"])
    assert timedelta(days=29, hours=23) < gap <= timedelta(days=30)
    me = client.get("/api/me/").json()
    assert me["subscription"]["type"] == "premium"
    assert me["subscription"]["bookings_limit"] is None


# --- Automatic moves -------------------------------------------------------------------


def test_unanswered_request_expires_at_start_on_read_and_in_sweep(teacher, slot):
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=slot.pk)
    counts = sweep(now=slot.start - timedelta(minutes=1))
    assert counts["expired"] == 0
    counts = sweep(now=slot.start)
    assert counts["expired"] == 1
    assert sweep(now=slot.start)["expired"] == 0  # idempotent
    booking.refresh_from_db()
    assert booking.status == S.EXPIRED and not booking.counts_for_quota
    assert Notification.objects.filter(kind="booking.expired").count() == 2


def test_expiry_is_applied_when_read(teacher):
    from scheduling.transitions import booking_get_for_user

    slot = make_slot(teacher, start=in_future(days=1))
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=slot.pk)
    Booking.objects.filter(pk=booking.pk).update(
        start=timezone.now() - timedelta(minutes=5), end=timezone.now() + timedelta(minutes=55)
    )
    read = booking_get_for_user(user=learner, booking_id=booking.pk)
    assert read.status == S.EXPIRED
    assert client_for(learner).get(f"/api/bookings/{booking.pk}/").json()["status"] == "expired"


def test_reminder_is_sent_once_fifteen_minutes_before(teacher, slot):
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=slot.pk)
    booking_accept(booking_id=booking.pk, teacher=teacher)
    assert sweep(now=slot.start - timedelta(minutes=20))["reminded"] == 0
    assert sweep(now=slot.start - timedelta(minutes=14))["reminded"] == 1
    assert sweep(now=slot.start - timedelta(minutes=10))["reminded"] == 0
    assert Notification.objects.filter(kind="booking.reminder").count() == 2


def test_nobody_joined_is_a_no_show_and_started_session_auto_completes(teacher):
    learner = make_learner()
    a = make_slot(teacher, start=in_future(days=1))
    b = make_slot(teacher, start=in_future(days=2))
    first = booking_request(learner=learner, slot_id=a.pk)
    second = booking_request(learner=learner, slot_id=b.pk)
    booking_accept(booking_id=first.pk, teacher=teacher)
    booking_accept(booking_id=second.pk, teacher=teacher)
    booking_join(booking_id=second.pk, user=learner, now=b.start)
    booking_join(booking_id=second.pk, user=teacher, now=b.start)
    assert sweep(now=a.end)["no_show"] == 1
    counts = sweep(now=b.end + timedelta(minutes=16))
    assert counts["completed"] == 1
    second.refresh_from_db()
    assert second.status == S.COMPLETED and second.duration_seconds == 3600


# --- The race --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_learners_race_for_one_slot_exactly_one_wins():
    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher)
    learners = [make_learner() for _ in range(20)]
    clients = [client_for(learner) for learner in learners]
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt(client):
        barrier.wait()
        response = client.post("/api/bookings/", {"slot": slot.pk}, format="json")
        with lock:
            statuses.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 19
    assert Booking.objects.filter(slot=slot).count() == 1


@pytest.mark.django_db(transaction=True)
def test_partial_unique_index_refuses_a_second_active_booking_in_the_database():
    from django.db import IntegrityError, transaction

    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher)
    a, b = make_learner(), make_learner()
    Booking.objects.create(learner=a, teacher=teacher, slot=slot, start=slot.start, end=slot.end)
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(
            learner=b, teacher=teacher, slot=slot, start=slot.start, end=slot.end
        )


@pytest.mark.parametrize("premium", [False, True])
@pytest.mark.parametrize("skill", ["python", None])
def test_a_booking_request_takes_a_fixed_handful_of_queries(
    teacher, django_assert_max_num_queries, premium, skill
):
    learner = make_learner()
    if premium:
        from accounts.services import subscription_upgrade

        subscription_upgrade(user=learner)
    book(make_learner(), make_slot(teacher, start=in_future(days=3)))  # history elsewhere
    slot = make_slot(teacher, skill_slug=skill)
    # Auth, the learner's lock (PostgreSQL), the slot with its overlap check, the teacher's
    # skills (an "any" slot), quota, the booking, its event, the teacher's notification,
    # and the atomic block's savepoint and release (a transaction outside tests): 10. The
    # hold adds 7: the learner's credit account locked, then "no hold for the booking yet"
    # (after the lock, so a queued second hold sees the first), the escrow account
    # (remembered once committed, so not outside tests), the transfer, its entries, the
    # balance, the hold row. (It was 21 before bench/results-ledger.md.)
    with django_assert_max_num_queries(17):
        assert book(learner, slot).status_code == 201
