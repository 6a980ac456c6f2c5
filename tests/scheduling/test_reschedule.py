"""Moving a scheduled session: the learner asks for another open slot of the same teacher,
the teacher accepts (the booking moves, the old slot opens, the hold follows the price) or
declines (nothing changes). Services and API, on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest

from accounts.models import Notification
from credits.models import Hold
from credits.selectors import credits_for_bookings, credits_summary
from scheduling.models import Booking, BookingEvent, RescheduleRequest
from scheduling.quota import quota_usage
from scheduling.rules import booking_actions
from scheduling.selectors import slots_open
from scheduling.services.bookings import booking_request
from scheduling.transitions import (
    booking_accept,
    booking_cancel,
    booking_get_for_user,
    booking_reschedule,
    booking_reschedule_accept,
    booking_reschedule_decline,
    booking_reschedule_withdraw,
)
from skilllink.errors import AppError
from tests.conftest import client_for
from tests.factories import (
    give_credits,
    in_future,
    make_learner,
    make_slot,
    make_teacher_with_skills,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def session():
    """A scheduled 60-minute Python session tomorrow, and a free slot of the same teacher
    the day after (90 minutes)."""
    teacher = make_teacher_with_skills("Python", "Guitar")
    learner = make_learner()
    old_slot = make_slot(teacher, start=in_future(days=1), skill_slug="python")
    new_slot = make_slot(teacher, start=in_future(days=2), minutes=90)
    booking = booking_request(learner=learner, slot_id=old_slot.pk, skill_slug="python")
    booking = booking_accept(booking_id=booking.pk, teacher=teacher)
    return booking, learner, teacher, old_slot, new_slot


def refusal(call) -> AppError:
    with pytest.raises(AppError) as caught:
        call()
    return caught.value


def snapshot(booking_id):
    booking = Booking.objects.get(pk=booking_id)
    return (
        booking.status,
        booking.slot_id,
        booking.start,
        booking.end,
        Hold.objects.get(booking_id=booking_id).amount,
        RescheduleRequest.objects.filter(status="pending").count(),
    )


def test_accepted_move_takes_the_new_slot_frees_the_old_and_holds_the_new_price(session):
    booking, learner, teacher, old_slot, new_slot = session
    assert credits_summary(user=learner) == {"balance": 120, "held": 60, "available": 60}
    request = booking_reschedule(
        booking_id=booking.pk, learner=learner, slot_id=new_slot.pk, message="Exam moved"
    )
    assert request.status == "pending" and request.start == new_slot.start
    notice = Notification.objects.get(user=teacher, kind="booking.reschedule_requested")
    assert notice.url == f"/sessions/{booking.pk}/" and "Exam moved" in notice.body
    # Until the teacher answers, the session keeps its time and the new slot stays open.
    assert Booking.objects.get(pk=booking.pk).slot_id == old_slot.pk
    assert slots_open().filter(pk=new_slot.pk).exists()

    moved = booking_reschedule_accept(booking_id=booking.pk, teacher=teacher)
    assert (moved.slot_id, moved.start, moved.end) == (new_slot.pk, new_slot.start, new_slot.end)
    assert moved.status == "scheduled"
    assert slots_open().filter(pk=old_slot.pk).exists()
    assert not slots_open().filter(pk=new_slot.pk).exists()
    assert RescheduleRequest.objects.get().status == "accepted"
    # 90 minutes now: the hold grew by 30 through the ledger.
    assert credits_for_bookings(booking_ids=[booking.pk])[booking.pk]["held"] == 90
    assert credits_summary(user=learner) == {"balance": 120, "held": 90, "available": 30}
    assert Notification.objects.filter(user=learner, kind="booking.rescheduled").exists()
    notes = list(BookingEvent.objects.filter(booking=booking).values_list("to_status", "note"))
    assert notes[-1][0] == "scheduled" and "Moved from" in notes[-1][1]


def test_moving_to_a_shorter_slot_returns_the_difference(session):
    booking, learner, teacher, _, _ = session
    short = make_slot(teacher, start=in_future(days=3), minutes=30)
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=short.pk)
    booking_reschedule_accept(booking_id=booking.pk, teacher=teacher)
    assert credits_summary(user=learner) == {"balance": 120, "held": 30, "available": 90}


def test_a_rescheduled_booking_counts_once_in_the_free_quota(session):
    booking, learner, teacher, _, new_slot = session
    assert quota_usage(learner=learner, now=booking.created_at + timedelta(seconds=1))[0] == 1
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=new_slot.pk)
    booking_reschedule_accept(booking_id=booking.pk, teacher=teacher)
    assert Booking.objects.filter(learner=learner).count() == 1
    assert quota_usage(learner=learner, now=booking.created_at + timedelta(seconds=1))[0] == 1
    # The second free booking of the week is still allowed.
    give_credits(learner, 60)
    other = make_slot(teacher, start=in_future(days=4))
    booking_request(learner=learner, slot_id=other.pk)


def test_declined_move_changes_nothing_but_the_request(session):
    booking, learner, teacher, _old_slot, new_slot = session
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=new_slot.pk)
    before = snapshot(booking.pk)[:5]
    booking_reschedule_decline(booking_id=booking.pk, teacher=teacher, reason="Busy that day")
    assert snapshot(booking.pk)[:5] == before
    request = RescheduleRequest.objects.get()
    assert (request.status, request.reason, request.answered_by) == (
        "declined",
        "Busy that day",
        teacher,
    )
    notice = Notification.objects.get(user=learner, kind="booking.reschedule_declined")
    assert "Busy that day" in notice.body
    # Another request may follow.
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=new_slot.pk)


def test_withdrawn_move_tells_the_teacher_and_allows_a_new_one(session):
    booking, learner, teacher, _, new_slot = session
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=new_slot.pk)
    booking_reschedule_withdraw(booking_id=booking.pk, learner=learner)
    assert RescheduleRequest.objects.get().status == "withdrawn"
    assert Notification.objects.filter(user=teacher, kind="booking.reschedule_withdrawn").exists()
    assert "withdraw_reschedule" not in booking_actions(
        booking=booking_get_for_user(user=learner, booking_id=booking.pk),
        user=learner,
        now=in_future(days=0, hours=1),
    )


def test_allowed_actions_follow_the_pending_move(session):
    booking, learner, teacher, _, new_slot = session
    now = in_future(days=0, hours=1)

    def actions(user):
        return booking_actions(
            booking=booking_get_for_user(user=user, booking_id=booking.pk), user=user, now=now
        )

    assert "reschedule" in actions(learner)
    assert not {"reschedule", "accept_reschedule"} & actions(teacher)
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=new_slot.pk)
    assert {"withdraw_reschedule"} <= actions(learner)
    assert "reschedule" not in actions(learner)
    assert {"accept_reschedule", "decline_reschedule"} <= actions(teacher)
    assert not {"accept_reschedule", "decline_reschedule"} & actions(learner)


def test_refusals_change_nothing(session):
    booking, learner, teacher, old_slot, new_slot = session
    stranger = make_learner()
    other_teacher = make_teacher_with_skills("Python")
    other_slot = make_slot(other_teacher, start=in_future(days=2))
    guitar_slot = make_slot(teacher, start=in_future(days=5), skill_slug="guitar")
    past_start = in_future(days=0, hours=-3)
    before = snapshot(booking.pk)

    def ask(user=learner, slot=new_slot, **kw):
        return refusal(
            lambda: booking_reschedule(booking_id=booking.pk, learner=user, slot_id=slot.pk, **kw)
        )

    assert ask(user=teacher).code == "forbidden"  # only the learner asks
    assert ask(user=stranger).code == "not_found"
    assert ask(slot=other_slot).fields == {"slot": ["Not an open time of this teacher."]}
    assert ask(slot=old_slot).code == "invalid"  # its own time
    assert ask(slot=guitar_slot).fields == {"slot": ["Not offered for Python."]}
    assert ask(message="x" * 501).code == "invalid"
    # Taken by someone else.
    taken = make_slot(teacher, start=in_future(days=6))
    booking_request(learner=make_learner(), slot_id=taken.pk)
    assert ask(slot=taken).code == "slot_unavailable"
    # Overlapping another session of the learner.
    third = make_teacher_with_skills("Python")
    elsewhere = make_slot(third, start=new_slot.start + timedelta(minutes=30))
    give_credits(learner, 100)
    clash = booking_request(learner=learner, slot_id=elsewhere.pk)
    assert ask().code == "booking_overlap"
    booking_cancel(booking_id=clash.pk, user=learner)
    # A slot in the past (published back then).
    old = make_slot(teacher, start=past_start, now=past_start - timedelta(hours=1))
    assert ask(slot=old).code == "slot_in_past"
    # The session has started.
    assert (
        refusal(
            lambda: booking_reschedule(
                booking_id=booking.pk, learner=learner, slot_id=new_slot.pk, now=booking.start
            )
        ).code
        == "invalid_transition"
    )
    assert snapshot(booking.pk) == before

    # Answers: nothing pending yet; only the teacher answers.
    assert (
        refusal(lambda: booking_reschedule_accept(booking_id=booking.pk, teacher=teacher)).code
        == "invalid_transition"
    )
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=new_slot.pk)
    assert ask().code == "reschedule_pending"  # one at a time
    assert (
        refusal(lambda: booking_reschedule_accept(booking_id=booking.pk, teacher=learner)).code
        == "forbidden"
    )
    assert (
        refusal(lambda: booking_reschedule_decline(booking_id=booking.pk, teacher=learner)).code
        == "forbidden"
    )
    assert (
        refusal(lambda: booking_reschedule_withdraw(booking_id=booking.pk, learner=teacher)).code
        == "forbidden"
    )
    assert (
        refusal(lambda: booking_reschedule_accept(booking_id=booking.pk, teacher=stranger)).code
        == "not_found"
    )
    assert snapshot(booking.pk)[:5] == before[:5]


def test_a_requested_booking_cannot_be_moved():
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=make_slot(teacher).pk)
    other = make_slot(teacher, start=in_future(days=2))
    error = refusal(
        lambda: booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=other.pk)
    )
    assert error.code == "invalid_transition"
    assert not RescheduleRequest.objects.exists()


def test_a_longer_slot_the_learner_cannot_pay_for_is_refused_402(session):
    booking, learner, teacher, _, _ = session
    long_slot = make_slot(teacher, start=in_future(days=3), minutes=240)  # 180 more
    error = refusal(
        lambda: booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=long_slot.pk)
    )
    assert error.status == 402 and error.code == "insufficient_credits"
    assert not RescheduleRequest.objects.exists()


def test_accept_when_the_slot_was_taken_meanwhile_is_409_and_changes_nothing(session):
    booking, learner, teacher, _, new_slot = session
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=new_slot.pk)
    booking_request(learner=make_learner(), slot_id=new_slot.pk)  # someone books it first
    before = snapshot(booking.pk)
    error = refusal(lambda: booking_reschedule_accept(booking_id=booking.pk, teacher=teacher))
    assert error.code == "slot_unavailable"
    assert snapshot(booking.pk) == before
    # The teacher can still decline it.
    booking_reschedule_decline(booking_id=booking.pk, teacher=teacher)


def test_accept_when_the_learner_spent_the_difference_meanwhile_is_402(session):
    booking, learner, teacher, _, new_slot = session
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=new_slot.pk)
    spend = make_slot(make_teacher_with_skills("Python"), start=in_future(days=9))
    booking_request(learner=learner, slot_id=spend.pk)  # 60 of the 60 available
    before = snapshot(booking.pk)
    error = refusal(lambda: booking_reschedule_accept(booking_id=booking.pk, teacher=teacher))
    assert error.code == "insufficient_credits"
    assert snapshot(booking.pk) == before


def test_cancelling_the_session_closes_its_pending_move(session):
    booking, learner, teacher, _, new_slot = session
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=new_slot.pk)
    booking_cancel(booking_id=booking.pk, user=teacher)
    assert RescheduleRequest.objects.get().status == "closed"


# --- API -------------------------------------------------------------------------------


def test_api_ask_accept_and_payloads(session):
    booking, learner, teacher, _old_slot, new_slot = session
    url = f"/api/bookings/{booking.pk}/reschedule/"
    response = client_for(learner).post(
        url, {"slot": new_slot.pk, "message": "Sorry!"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reschedule"]["slot"] == new_slot.pk
    assert body["reschedule"]["price"] == 90 and body["reschedule"]["status"] == "pending"
    assert "withdraw_reschedule" in body["actions"] and "reschedule" not in body["actions"]
    seen = client_for(teacher).get(f"/api/bookings/{booking.pk}/").json()
    assert {"accept_reschedule", "decline_reschedule"} <= set(seen["actions"])
    again = client_for(learner).post(url, {"slot": new_slot.pk}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "reschedule_pending")
    wrong = client_for(learner).post(f"{url}accept/")
    assert (wrong.status_code, wrong.json()["code"]) == (403, "forbidden")
    accepted = client_for(teacher).post(f"{url}accept/")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["slot"] == new_slot.pk and accepted.json()["reschedule"] is None
    assert accepted.json()["credits_held"] == 90
    twice = client_for(teacher).post(f"{url}accept/")
    assert (twice.status_code, twice.json()["code"]) == (409, "invalid_transition")


def test_api_decline_withdraw_and_bad_input(session):
    booking, learner, teacher, _, new_slot = session
    url = f"/api/bookings/{booking.pk}/reschedule/"
    learner_api, teacher_api = client_for(learner), client_for(teacher)
    assert learner_api.post(url, {}, format="json").json()["code"] == "invalid"
    assert learner_api.post(url, {"slot": "abc"}, format="json").status_code == 400
    missing = learner_api.post(url, {"slot": 999999}, format="json")
    assert missing.status_code == 400 and "slot" in missing.json()["fields"]
    assert teacher_api.post(url, {"slot": new_slot.pk}, format="json").status_code == 403
    assert (
        client_for(make_learner()).post(url, {"slot": new_slot.pk}, format="json").status_code
        == 404
    )
    assert learner_api.post(url, {"slot": new_slot.pk}, format="json").status_code == 201
    declined = teacher_api.post(f"{url}decline/", {"reason": "No"}, format="json")
    assert declined.status_code == 200 and declined.json()["reschedule"] is None
    assert learner_api.delete(url).json()["code"] == "invalid_transition"
    assert learner_api.post(url, {"slot": new_slot.pk}, format="json").status_code == 201
    withdrawn = learner_api.delete(url)
    assert withdrawn.status_code == 200 and withdrawn.json()["slot"] == booking.slot_id


def test_listing_bookings_reads_pending_moves_once(session, django_assert_max_num_queries):
    booking, learner, teacher, _, new_slot = session
    booking_reschedule(booking_id=booking.pk, learner=learner, slot_id=new_slot.pk)
    from accounts.services import subscription_upgrade

    subscription_upgrade(user=learner)  # past the free quota
    for day in (5, 6, 7):
        other = make_slot(teacher, start=in_future(days=day))
        give_credits(learner, 60)
        booking_accept(
            booking_id=booking_request(learner=learner, slot_id=other.pk).pk, teacher=teacher
        )
    api = client_for(learner)
    with django_assert_max_num_queries(8):
        listing = api.get("/api/bookings/").json()
    assert [b["reschedule"] is not None for b in listing] == [True, False, False, False]
