"""Session pages through the test client: booking, answering, cancelling, rating, upgrading, matching."""

from datetime import timedelta

import pytest
from django.urls import reverse

from scheduling.models import Booking, MatchRequest
from scheduling.services.bookings import booking_request
from scheduling.transitions import booking_accept, booking_complete, booking_join
from tests.factories import (
    give_credits,
    in_future,
    make_learner,
    make_slot,
    make_teacher_with_skills,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def teacher():
    return make_teacher_with_skills("Python", "Chess", timezone_name="Europe/Paris")


def test_booking_page_shows_local_time_and_books(client, teacher):
    slot = make_slot(teacher, start=in_future(days=2))
    learner = make_learner(timezone_name="Asia/Tokyo")
    client.force_login(learner)
    page = client.get(reverse("scheduling:book", args=[slot.pk])).content.decode()
    local = slot.start.astimezone(learner.zone)
    assert local.strftime("%H:%M") in page and "Asia/Tokyo" in page
    response = client.post(
        reverse("scheduling:book", args=[slot.pk]), {"skill": "chess", "message": "Openings"}
    )
    booking = Booking.objects.get()
    assert response["Location"] == reverse("session_detail", args=[booking.pk])
    assert (booking.skill.slug, booking.message, booking.learner) == ("chess", "Openings", learner)


def test_third_booking_leads_to_the_upgrade_page_then_succeeds(client, teacher):
    learner = make_learner()
    give_credits(learner, 500)  # books more than the sign-up grant pays
    slots = [make_slot(teacher, start=in_future(days=d)) for d in (1, 2, 3)]
    for slot in slots[:2]:
        booking_request(learner=learner, slot_id=slot.pk)
    client.force_login(learner)
    book_url = reverse("scheduling:book", args=[slots[2].pk])
    message = "Endgames, please: rook and pawn."
    response = client.post(book_url, {"skill": "", "message": message}, follow=True)
    assert response.redirect_chain[-1][0] == f"{reverse('scheduling:upgrade')}?next={book_url}"
    page = response.content.decode()
    assert "Free accounts book 2 sessions" in page
    assert "2 of 2" in page
    assert "the next place frees up" in page
    confirm_url = f"{reverse('scheduling:upgrade_confirm')}?next={book_url}"
    assert f'href="{confirm_url}"' in page
    # A post to the plans page itself charges nothing: it goes to the confirmation step.
    response = client.post(reverse("scheduling:upgrade"), {"next": book_url})
    assert response["Location"] == confirm_url
    learner.refresh_from_db()
    assert not learner.is_premium()
    confirm = client.get(confirm_url).content.decode()
    assert "9.00 EUR" in confirm and "Pay 9.00 EUR and upgrade" in confirm
    response = client.post(reverse("scheduling:upgrade_confirm"), {"next": book_url}, follow=True)
    assert response.redirect_chain[-1][0] == book_url
    page = response.content.decode()
    assert "You&#x27;re premium until" in page
    assert message.replace("'", "&#x27;") in page  # what they typed came back
    client.post(book_url, {"skill": "", "message": message})
    assert Booking.objects.filter(learner=learner).count() == 3
    assert Booking.objects.filter(learner=learner, message=message).exists()


def test_upgrade_next_must_be_local(client):
    client.force_login(make_learner())
    response = client.post(reverse("scheduling:upgrade_confirm"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("scheduling:upgrade")
    page = client.get(reverse("scheduling:upgrade_confirm"), {"next": "//evil.example/"})
    assert "evil.example" not in page.content.decode()


def test_upgrade_price_comes_from_the_settings(client, settings):
    settings.PREMIUM_PRICE, settings.PREMIUM_CURRENCY = "4.50", "USD"
    client.force_login(make_learner())
    assert "4.50 USD" in client.get(reverse("scheduling:upgrade")).content.decode()
    assert "Pay 4.50 USD" in client.get(reverse("scheduling:upgrade_confirm")).content.decode()


def test_signed_out_booking_page_restates_the_slot_and_asks_to_log_in(client, teacher):
    slot = make_slot(teacher, start=in_future(days=2), skill_slug="chess")
    book_url = reverse("scheduling:book", args=[slot.pk])
    page = client.get(book_url).content.decode()
    assert "60 minutes" in page and "Chess" in page and "60 credits" in page
    assert f'href="{reverse("accounts:login")}?next={book_url}"' in page
    assert client.post(book_url, {"message": "hi"})["Location"].endswith(f"?next={book_url}")
    assert not Booking.objects.exists()
    # Logging in with that next comes back to the same slot.
    learner = make_learner()
    from tests.factories import PASSWORD

    response = client.post(
        f"{reverse('accounts:login')}?next={book_url}",
        {"username": learner.username, "password": PASSWORD, "next": book_url},
    )
    assert response["Location"] == book_url
    # A foreign next is ignored (Django's url_has_allowed_host_and_scheme).
    client.post(reverse("accounts:logout"))
    response = client.post(
        reverse("accounts:login"),
        {"username": learner.username, "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("dashboard")


def test_taken_slot_page_says_so(client, teacher):
    slot = make_slot(teacher)
    booking_request(learner=make_learner(), slot_id=slot.pk)
    client.force_login(make_learner())
    page = client.get(reverse("scheduling:book", args=[slot.pk])).content
    assert b"no longer available" in page
    response = client.post(reverse("scheduling:book", args=[slot.pk]), {"skill": ""}, follow=True)
    assert b"That slot has just been taken." in response.content
    assert Booking.objects.count() == 1


def test_teacher_accepts_from_my_sessions(client, teacher):
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=make_slot(teacher).pk, message="Hello")
    client.force_login(teacher)
    page = client.get(reverse("scheduling:session_list")).content.decode()
    assert "Requests waiting for you" in page and "Hello" in page
    client.post(
        reverse("scheduling:session_action", args=[booking.pk, "accept"]),
        {"next": reverse("scheduling:session_list")},
    )
    booking.refresh_from_db()
    assert booking.status == "scheduled"
    partial = client.get(reverse("scheduling:session_list") + "?partial=1").content.decode()
    assert "<html" not in partial and "Scheduled" in partial


def test_learner_cannot_accept_and_stranger_gets_404(client, teacher):
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=make_slot(teacher).pk)
    client.force_login(learner)
    response = client.post(
        reverse("scheduling:session_action", args=[booking.pk, "accept"]), follow=True
    )
    assert b"Only the teacher can accept a request." in response.content
    client.force_login(make_learner())
    assert client.get(reverse("session_detail", args=[booking.pk])).status_code == 404
    assert (
        client.post(reverse("scheduling:session_action", args=[booking.pk, "cancel"])).status_code
        == 404
    )
    booking.refresh_from_db()
    assert booking.status == "requested"


def test_cancel_with_reason_and_history(client, teacher):
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=make_slot(teacher).pk)
    client.force_login(learner)
    client.post(
        reverse("scheduling:session_action", args=[booking.pk, "cancel"]), {"reason": "Ill"}
    )
    page = client.get(reverse("session_detail", args=[booking.pk])).content.decode()
    assert "Cancelled" in page and "Ill" in page and "by you" in page


def test_learner_rates_a_completed_session_once(client, teacher):
    learner = make_learner()
    slot = make_slot(teacher)
    booking = booking_request(learner=learner, slot_id=slot.pk)
    booking_accept(booking_id=booking.pk, teacher=teacher)
    booking_join(booking_id=booking.pk, user=learner, now=slot.start)
    booking_join(booking_id=booking.pk, user=teacher, now=slot.start)
    booking_complete(booking_id=booking.pk, user=learner, now=slot.end)
    client.force_login(learner)
    assert b"How was it?" in client.get(reverse("session_detail", args=[booking.pk])).content
    url = reverse("scheduling:session_rate", args=[booking.pk])
    client.post(url, {"stars": "5", "feedback": "Great"})
    again = client.post(url, {"stars": "1"}, follow=True)
    assert b"You have already rated this session." in again.content
    assert booking.rating.stars == 5
    bad = client.post(url, {"stars": "9"}, follow=True)
    assert b"Give 1 to 5 stars." in bad.content


def test_match_form_books_or_queues(client, teacher):
    learner = make_learner(timezone_name="Europe/Paris")
    client.force_login(learner)
    start = in_future(days=1).astimezone(learner.zone)
    form = {
        "skill": "python",
        "window_start": start.strftime("%Y-%m-%dT%H:%M"),
        "window_end": (start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"),
    }
    response = client.post(reverse("scheduling:match"), form)
    assert response["Location"] == reverse("scheduling:session_list")
    pending = MatchRequest.objects.get()
    assert pending.window_start == start
    slot = make_slot(teacher, start=in_future(days=1, hours=1))
    assert Booking.objects.get(slot=slot).learner == learner
    response = client.post(
        reverse("scheduling:match"), {**form, "window_end": "nonsense"}, follow=True
    )
    assert b"Until:" in response.content


def test_dashboard_shows_requests_waiting_and_the_match_form(client, teacher):
    learner = make_learner()
    booking_request(learner=learner, slot_id=make_slot(teacher).pk)
    client.force_login(teacher)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Waiting for your answer" in page and learner.username in page
    assert "Find me a teacher" not in page  # teachers only: no match form
    partial = client.get(reverse("scheduling:session_list") + "?partial=dashboard").content.decode()
    assert "Waiting for your answer" in partial and "<html" not in partial
    client.force_login(learner)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Find me a teacher" in page and "Your requests" in page
    assert "1 of 2 bookings used" in page


def test_me_api_shows_quota_usage(teacher):
    from tests.conftest import client_for

    learner = make_learner()
    booking_request(learner=learner, slot_id=make_slot(teacher).pk)
    subscription = client_for(learner).get("/api/me/").json()["subscription"]
    assert subscription["bookings_used"] == 1 and subscription["bookings_limit"] == 2
