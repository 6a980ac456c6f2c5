"""The room page: participants only, waiting room before the window, closed after."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from meetings.services import chat_save_batch
from scheduling.services.bookings import booking_request
from scheduling.transitions import booking_accept
from tests.factories import make_learner, make_slot, make_teacher_with_skills

pytestmark = pytest.mark.django_db


def scheduled(minutes_from_now):
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=minutes_from_now)
    booking = booking_request(learner=learner, slot_id=make_slot(teacher, start=start).pk)
    booking_accept(booking_id=booking.pk, teacher=teacher)
    return booking, learner, teacher


def test_open_room_renders_with_its_config(client, settings):
    settings.SKILLLINK_ICE_SERVERS = []
    booking, learner, teacher = scheduled(5)
    client.force_login(learner)
    response = client.get(f"/sessions/{booking.pk}/room/")
    assert response.status_code == 200
    config = response.context["room_config"]
    assert config["bookingId"] == booking.pk and config["iceServers"] == []
    assert config["peerName"] == teacher.username
    assert b'id="room-config"' in response.content
    assert (
        json.loads(
            response.content.split(b'id="room-config" type="application/json">')[1].split(
                b"</script>"
            )[0]
        )["userId"]
        == learner.pk
    )


def test_stranger_gets_404(client):
    booking, _, _ = scheduled(5)
    client.force_login(make_learner())
    assert client.get(f"/sessions/{booking.pk}/room/").status_code == 404


def test_before_the_window_shows_a_countdown(client):
    booking, learner, _ = scheduled(120)
    client.force_login(learner)
    response = client.get(f"/sessions/{booking.pk}/room/")
    assert b"data-countdown" in response.content and b"data-room-opens" in response.content


def test_requested_or_finished_session_shows_the_closed_page(client):
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    start = timezone.now() + timedelta(minutes=5)
    booking = booking_request(learner=learner, slot_id=make_slot(teacher, start=start).pk)
    client.force_login(learner)
    assert b"The room is closed" in client.get(f"/sessions/{booking.pk}/room/").content


def test_chat_is_shown_on_the_session_page_afterwards_escaped_with_safe_links(client):
    booking, learner, teacher = scheduled(5)
    from scheduling.transitions import booking_join

    booking_join(booking_id=booking.pk, user=learner)
    chat_save_batch(
        [(booking.pk, learner.pk, "<b>hi</b> see https://example.org/x", timezone.now())]
    )
    client.force_login(teacher)
    page = client.get(f"/sessions/{booking.pk}/").content.decode()
    assert "&lt;b&gt;hi&lt;/b&gt;" in page
    assert '<a href="https://example.org/x" rel="nofollow">https://example.org/x</a>' in page
