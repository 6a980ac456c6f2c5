""" "Find me a teacher" proposes before it books: the best match shown (nothing written), a
time of day respected, a duplicate waiting request refused; the page books exactly the
proposed slot on confirm, or says it was taken and shows the next best."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduling.models import Booking, MatchRequest
from scheduling.rules import day_ranges, fits_day_range
from scheduling.services.bookings import booking_request
from scheduling.services.matching import match_propose, match_request
from scheduling.services.slots import slot_create
from skilllink.errors import AppError
from tests.conftest import client_for
from tests.factories import (
    PASSWORD,
    in_future,
    make_learner,
    make_skill,
    make_slot,
    make_teacher_with_skills,
    make_user,
)

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def local(day_offset: int, hour: int, minute: int = 0, zone=BERLIN) -> datetime:
    """``hour`` o'clock in ``zone``, ``day_offset`` days from today there."""
    today = datetime.now(zone).date()
    return datetime.combine(today + timedelta(days=day_offset), time(hour, minute), tzinfo=zone)


def test_proposal_is_the_best_match_and_books_nothing():
    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher, start=in_future(days=2))
    learner = make_learner()
    found = match_propose(
        learner=learner,
        skill_slug="python",
        window_start=in_future(days=1),
        window_end=in_future(days=5),
    )
    assert found.proposal.slot.pk == slot.pk
    assert found.proposal.teacher.pk == teacher.pk
    assert (found.proposal.price, found.proposal.minutes, found.proposal.skill.slug) == (
        60,
        60,
        "python",
    )
    assert not Booking.objects.exists() and not MatchRequest.objects.exists()


def test_time_of_day_is_respected_in_the_learners_zone_every_day():
    teacher = make_teacher_with_skills("Python")
    learner = make_learner(timezone_name="Europe/Berlin")
    # 12:00 and 17:30-18:30 Berlin do not fit 18:00-21:00; 19:00 two days later does.
    make_slot(teacher, start=local(2, 12))
    make_slot(teacher, start=local(2, 17, 30))
    fits = make_slot(teacher, start=local(4, 19))
    window = {"window_start": local(1, 0), "window_end": local(6, 0)}
    found = match_propose(
        learner=learner, skill_slug="python", day_start=time(18), day_end=time(21), **window
    )
    assert found.proposal.slot.pk == fits.pk
    # Booking at once (POST /api/match/) respects it too.
    outcome, booking = match_request(
        learner=learner, skill_slug="python", day_start=time(18), day_end=time(21), **window
    )
    assert outcome == "matched" and booking.slot_id == fits.pk


def test_no_fit_in_the_time_of_day_proposes_nothing_and_says_why():
    teacher = make_teacher_with_skills("Python")
    learner = make_learner(timezone_name="Europe/Berlin")
    make_slot(teacher, start=local(2, 9))
    found = match_propose(
        learner=learner,
        skill_slug="python",
        window_start=local(1, 0),
        window_end=local(4, 0),
        day_start=time(18),
        day_end=time(21),
    )
    assert found.proposal is None and found.reason == "No Python teacher is free then."


def test_a_pending_request_with_a_time_of_day_takes_only_a_slot_inside_it():
    teacher = make_teacher_with_skills("Python")
    learner = make_learner(timezone_name="Europe/Berlin")
    outcome, pending = match_request(
        learner=learner,
        skill_slug="python",
        window_start=local(1, 0),
        window_end=local(6, 0),
        day_start=time(18),
        day_end=time(21),
    )
    assert outcome == "pending"
    make_slot(teacher, start=local(2, 10))  # outside: stays pending
    pending.refresh_from_db()
    assert pending.status == "pending"
    inside = make_slot(teacher, start=local(3, 18, 30))
    pending.refresh_from_db()
    assert pending.status == "matched" and pending.booking.slot_id == inside.pk


def test_day_ranges_follow_the_wall_clock_across_midnight_and_dst():
    start = datetime(2026, 10, 24, 0, 0, tzinfo=BERLIN)
    ranges = day_ranges(
        start=start,
        end=start + timedelta(days=2),
        day_start=time(18),
        day_end=time(21),
        zone=BERLIN,
    )
    # Berlin leaves summer time on Oct 25: 18:00 is 16:00 UTC, then 17:00 UTC.
    assert [r[0].astimezone(UTC).hour for r in ranges] == [16, 17]
    late = datetime(2026, 10, 24, 23, 30, tzinfo=BERLIN)
    assert fits_day_range(
        start=late,
        end=late + timedelta(hours=1),
        day_start=time(22),
        day_end=time(1),
        zone=BERLIN,
    )
    assert not fits_day_range(
        start=late,
        end=late + timedelta(hours=2),
        day_start=time(22),
        day_end=time(1),
        zone=BERLIN,
    )


def test_a_duplicate_waiting_request_is_refused_409():
    make_skill("Python")
    learner = make_learner()
    start = in_future(days=1)
    body = {
        "skill": "python",
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(days=2)).isoformat(),
    }
    api = client_for(learner)
    assert api.post("/api/match/", body, format="json").status_code == 202
    overlapping = {**body, "window_start": (start + timedelta(hours=5)).isoformat()}
    again = api.post("/api/match/", overlapping, format="json")
    assert again.status_code == 409 and again.json()["code"] == "match_duplicate"
    assert MatchRequest.objects.count() == 1
    # Another skill, or a window that does not overlap, may wait too.
    make_skill("Guitar")
    assert api.post("/api/match/", {**body, "skill": "guitar"}, format="json").status_code == 202
    later = {
        **body,
        "window_start": (start + timedelta(days=3)).isoformat(),
        "window_end": (start + timedelta(days=4)).isoformat(),
    }
    assert api.post("/api/match/", later, format="json").status_code == 202


def test_propose_api_and_its_refusals():
    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher, start=in_future(days=2))
    learner = make_learner()
    api = client_for(learner)
    start = in_future(days=1)
    body = {
        "skill": "python",
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(days=3)).isoformat(),
    }
    response = api.post("/api/match/propose/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "proposed"
    proposal = response.json()["proposal"]
    assert proposal["slot"] == slot.pk and proposal["teacher"]["username"] == teacher.username
    assert proposal["price"] == 60 and proposal["skill"]["slug"] == "python"
    assert not Booking.objects.exists()
    # Nothing in the range: "none" with the reason.
    evening = {**body, "day_start": "05:00", "day_end": "06:00"}
    none = api.post("/api/match/propose/", evening, format="json").json()
    assert none == {"status": "none", "proposal": None, "reason": "No Python teacher is free then."}
    # Refusals.
    half = api.post("/api/match/propose/", {**body, "day_start": "18:00"}, format="json")
    assert half.status_code == 400 and "day_end" in half.json()["fields"]
    bad = api.post(
        "/api/match/propose/", {**body, "day_start": "25:00", "day_end": "1"}, format="json"
    )
    assert bad.status_code == 400
    unknown = api.post("/api/match/propose/", {**body, "skill": "nope"}, format="json")
    assert unknown.status_code == 400 and "skill" in unknown.json()["fields"]
    teacher_api = client_for(teacher)
    assert teacher_api.post("/api/match/propose/", body, format="json").status_code == 403
    # The proposed slot is booked with POST /api/bookings/.
    booked = api.post(
        "/api/bookings/", {"slot": proposal["slot"], "skill": "python"}, format="json"
    )
    assert booked.status_code == 201


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)


def search_query(start, end, **extra):
    return {
        "skill": "python",
        "window_start": start.strftime("%Y-%m-%dT%H:%M"),
        "window_end": end.strftime("%Y-%m-%dT%H:%M"),
        **extra,
    }


def test_find_page_preselects_no_skill_and_proposes_before_booking(client):
    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher, start=in_future(days=2))
    learner = make_learner()
    login(client, learner)
    page = client.get("/match/").content.decode()
    assert '<option value="" selected>Choose a skill…</option>' in page
    query = search_query(in_future(days=1), in_future(days=4))
    shown = client.get("/match/", query).content.decode()
    assert "Best match" in shown and teacher.username in shown and "60 credits" in shown
    assert f'name="slot" value="{slot.pk}"' in shown
    assert not Booking.objects.exists()
    confirmed = client.post("/match/confirm/", {**query, "slot": slot.pk, "message": "Hi"})
    booking = Booking.objects.get()
    assert confirmed.url == f"/sessions/{booking.pk}/"
    assert (booking.slot_id, booking.message, booking.skill.slug) == (slot.pk, "Hi", "python")


def test_confirm_of_a_slot_taken_meanwhile_says_so_and_shows_the_next_best(client):
    teacher = make_teacher_with_skills("Python")
    first = make_slot(teacher, start=in_future(days=2))
    second = make_slot(teacher, start=in_future(days=3))
    learner = make_learner()
    login(client, learner)
    query = search_query(in_future(days=1), in_future(days=5))
    booking_request(learner=make_learner(), slot_id=first.pk)  # someone else was faster
    response = client.post("/match/confirm/", {**query, "slot": first.pk}, follow=True)
    page = response.content.decode()
    assert "taken by someone else a moment ago" in page
    assert f'name="slot" value="{second.pk}"' in page
    assert not Booking.objects.filter(learner=learner).exists()


def test_find_page_waits_once_and_refuses_a_duplicate_with_a_message(client):
    make_teacher_with_skills("Python")  # no open time
    learner = make_learner()
    login(client, learner)
    query = search_query(in_future(days=1), in_future(days=3))
    page = client.get("/match/", query).content.decode()
    assert "No match yet" in page and "Keep looking for me" in page
    client.post("/match/", query)
    assert MatchRequest.objects.filter(status="pending").count() == 1
    again = client.post("/match/", query, follow=True).content.decode()
    assert "already waiting for a Python teacher" in again
    assert MatchRequest.objects.count() == 1


def test_find_page_reports_bad_input_beside_the_fields(client):
    make_teacher_with_skills("Python")
    login(client, make_learner())
    start = in_future(days=2)
    page = client.get(
        "/match/", search_query(start, start - timedelta(hours=1), day_start="18:00")
    ).content.decode()
    assert "End after the start." in page and "Give both times of day" in page
    blank = client.get("/match/", search_query(start, start + timedelta(days=1), skill=""))
    assert "This field is required." in blank.content.decode()
    assert not MatchRequest.objects.exists()


def test_a_teacher_who_learns_is_never_proposed_their_own_slot_and_bad_windows_fail():
    from accounts.models import TeacherSkill

    both = make_user(role="both")
    TeacherSkill.objects.create(teacher=both, skill=make_skill("Python"))
    slot_create(
        teacher=both,
        start=in_future(days=2),
        end=in_future(days=2, hours=1),
    )
    found = match_propose(
        learner=both, skill_slug="python", window_start=in_future(), window_end=in_future(days=4)
    )
    assert found.proposal is None
    with pytest.raises(AppError):
        match_propose(
            learner=make_learner(),
            skill_slug="python",
            window_start=in_future(days=3),
            window_end=in_future(days=2),
        )
