"""The private iCal feed: valid RFC 5545, only the owner's sessions, revocable."""

import icalendar
import pytest
from django.urls import reverse

from accounts.services import subscription_upgrade
from scheduling.services.bookings import booking_request
from scheduling.services.calendar_feed import calendar_feed_reset, calendar_feed_token
from scheduling.transitions import booking_accept, booking_cancel
from tests.factories import (
    give_credits,
    in_future,
    make_learner,
    make_slot,
    make_teacher_with_skills,
)

pytestmark = pytest.mark.django_db


def test_feed_lists_scheduled_sessions_and_parses(client):
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    give_credits(learner, 200)  # three hours of sessions
    subscription_upgrade(user=learner)
    scheduled = booking_request(
        learner=learner, slot_id=make_slot(teacher).pk, message="Decorators, please; thanks!"
    )
    booking_accept(booking_id=scheduled.pk, teacher=teacher)
    requested = booking_request(
        learner=learner, slot_id=make_slot(teacher, start=in_future(days=2)).pk
    )
    cancelled = booking_request(
        learner=learner, slot_id=make_slot(teacher, start=in_future(days=3)).pk
    )
    booking_cancel(booking_id=cancelled.pk, user=learner)
    stranger_booking = booking_request(
        learner=make_learner(), slot_id=make_slot(make_teacher_with_skills("Go")).pk
    )

    token = calendar_feed_token(user=learner)
    response = client.get(reverse("scheduling:calendar_feed", args=[token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content
    assert b"\r\n" in body and all(len(line) <= 75 for line in body.split(b"\r\n"))
    calendar = icalendar.Calendar.from_ical(body)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {f"booking-{scheduled.pk}@skilllink", f"booking-{cancelled.pk}@skilllink"}
    event = events[f"booking-{scheduled.pk}@skilllink"]
    assert event.decoded("DTSTART") == scheduled.start
    assert event.decoded("DTEND") == scheduled.end
    assert str(event["SUMMARY"]) == f"Python with {teacher.username} (learning)"
    assert "Decorators, please; thanks!" in str(event["DESCRIPTION"])
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(events[f"booking-{cancelled.pk}@skilllink"]["STATUS"]) == "CANCELLED"
    assert f"booking-{requested.pk}" not in body.decode()
    assert f"booking-{stranger_booking.pk}" not in body.decode()


def test_reset_revokes_the_old_link(client):
    learner = make_learner()
    old = calendar_feed_token(user=learner)
    assert calendar_feed_token(user=learner) == old
    new = calendar_feed_reset(user=learner)
    assert new != old
    assert client.get(reverse("scheduling:calendar_feed", args=[old])).status_code == 404
    assert client.get(reverse("scheduling:calendar_feed", args=[new])).status_code == 200


def test_sessions_page_shows_the_link_and_reset_works(client):
    learner = make_learner()
    client.force_login(learner)
    page = client.get(reverse("scheduling:session_list")).content.decode()
    token = calendar_feed_token(user=learner)
    assert f"/calendar/{token}.ics" in page
    client.post(reverse("scheduling:calendar_feed_reset"))
    assert calendar_feed_token(user=learner) != token


def test_unknown_token_is_404(client):
    assert client.get("/calendar/nope.ics").status_code == 404


def test_line_breaks_in_text_cannot_forge_properties_or_events(client):
    """CR and LF in a skill name (set by staff), a booking message and a username are
    escaped by the icalendar library: the feed keeps one event with its own properties."""
    from accounts.models import Skill

    teacher = make_teacher_with_skills("Python")
    Skill.objects.filter(slug="python").update(
        name="Python\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:forged\rATTENDEE:mailto:a@evil.example"
    )
    learner = make_learner()
    give_credits(learner, 200)
    booking = booking_request(
        learner=learner,
        slot_id=make_slot(teacher).pk,
        message="Line one\nATTENDEE:mailto:b@evil.example\nEND:VCALENDAR",
    )
    booking_accept(booking_id=booking.pk, teacher=teacher)
    body = client.get(
        reverse("scheduling:calendar_feed", args=[calendar_feed_token(user=learner)])
    ).content
    lines = body.split(b"\r\n")
    assert lines[-1] == b""
    assert not any(b"\r" in line or b"\n" in line for line in lines)
    assert [line for line in lines if line.startswith((b"BEGIN:", b"END:"))] == [
        b"BEGIN:VCALENDAR", b"BEGIN:VEVENT", b"END:VEVENT", b"END:VCALENDAR",
    ]  # fmt: skip
    assert not any(line.startswith((b"ATTENDEE", b"UID:forged")) for line in lines)
    (event,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert str(event["UID"]) == f"booking-{booking.pk}@skilllink"
    assert "ATTENDEE" not in event
    assert str(event["DESCRIPTION"]).startswith("Line one\nATTENDEE:mailto:b@evil.example\n")
    assert str(event["SUMMARY"]).startswith("Python\nEND:VEVENT\nBEGIN:VEVENT\nUID:forged\n")
