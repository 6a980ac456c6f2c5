"""Calendar pages: who may open them, times in the viewer's zone, discovery filters, query count."""

import re
import zoneinfo
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from scheduling.models import Booking
from scheduling.services.bookings import booking_request
from scheduling.transitions import booking_accept, booking_complete, booking_join, booking_rate
from tests.factories import (
    in_future,
    make_learner,
    make_slot,
    make_teacher,
    make_teacher_with_skills,
)

pytestmark = pytest.mark.django_db

DASH = "\u2013"  # the en dash the pages put between two times
AVAILABILITY = reverse("scheduling:availability")
TEACHERS = reverse("scheduling:teacher_list")


def logged_in(client, user):
    client.force_login(user)
    return client


def local_label(moment: datetime, zone: str) -> str:
    """What the pages print for a moment in ``zone``: the one format of every page
    ("Sun Dec 6, 04:00"; a 24-hour clock unless the viewer chose 12)."""
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    return f"{local:%a %b} {local.day}, {local:%H:%M}"


def rate(teacher, stars: int, feedback: str = "") -> None:
    """One completed, rated session through the real services (time moved, not slept)."""
    learner = make_learner()
    slot = make_slot(teacher, start=in_future(days=40 + Booking.objects.count()))
    booking = booking_request(learner=learner, slot_id=slot.pk)
    booking_accept(booking_id=booking.pk, teacher=teacher)
    booking_join(booking_id=booking.pk, user=learner, now=slot.start)
    booking_join(booking_id=booking.pk, user=teacher, now=slot.start)
    booking_complete(booking_id=booking.pk, user=learner, now=slot.end)
    booking_rate(booking_id=booking.pk, learner=learner, stars=stars, feedback=feedback)


def text_of(html: str) -> str:
    """``html`` without its ``<span>`` tags (a time button splits day and hour in two)."""
    return re.sub(r"</?span[^>]*>", "", html)


def card_names(html: str) -> list[str]:
    return re.findall(r'<h2><a href="/teachers/[^/"]+/">([^<]+)</a></h2>', html)


def cards_by_name(html: str) -> dict[str, str]:
    """Each card's HTML (up to the next card) by the teacher's name."""
    chunks = html.split('<li class="card teacher-card"')[1:]
    return {card_names(chunk)[0]: chunk for chunk in chunks}


# --- /availability/ ----------------------------------------------------------------


def test_availability_needs_a_login(client):
    response = client.get(AVAILABILITY)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_teacher_gets_the_editor_in_their_own_zone_with_their_skills(client):
    teacher = make_teacher_with_skills("Python", "Guitar", timezone_name="America/New_York")
    slot = make_slot(teacher, start=in_future(days=2), skill_slug="python")
    response = logged_in(client, teacher).get(AVAILABILITY)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-timezone="America/New_York"' in html
    assert '<option value="python">Python</option>' in html
    assert '<option value="guitar">Guitar</option>' in html
    assert html.count('<option value="">Any of my skills</option>') == 3  # dialog, slot, form
    # The accessible table lists the slot in the teacher's zone, with a delete button.
    assert local_label(slot.start, "America/New_York") in html
    assert f'data-delete-slot="{slot.pk}"' in html
    assert "data-no-skills" not in html
    # Vendored scripts only: no CDN.
    for src in re.findall(r'<script[^>]+src="([^"]+)"', html):
        assert src.startswith("/static/"), src
    assert "/static/vendor/fullcalendar/index.global.min.js" in html
    assert "/static/vendor/fullcalendar-luxon3/index.global.min.js" in html


def test_learner_on_availability_gets_the_explanation_with_a_link_to_the_profile(client):
    learner = make_learner()
    response = logged_in(client, learner).get(AVAILABILITY)
    assert response.status_code == 403
    html = response.content.decode()
    assert "Availability is for teachers" in html
    assert f'href="{reverse("accounts:profile")}"' in html
    assert "data-availability-calendar" not in html
    assert "fullcalendar/index.global" not in html  # no calendar script for a learner


def test_teacher_without_skills_is_told_to_add_some_and_may_still_offer_any_skill_slots(client):
    teacher = make_teacher()
    html = logged_in(client, teacher).get(AVAILABILITY).content.decode()
    assert "data-no-skills" in html
    assert f"{reverse('accounts:profile')}#skills" in html
    assert '<option value="">Any of my skills</option>' in html


def test_requested_and_booked_slots_are_listed_with_their_state_and_no_delete_button(client):
    teacher = make_teacher_with_skills("Python")
    requested = make_slot(teacher, start=in_future(days=2))
    booked = make_slot(teacher, start=in_future(days=3))
    open_slot = make_slot(teacher, start=in_future(days=4))
    booking_request(learner=make_learner(), slot_id=requested.pk)
    accepted = booking_request(learner=make_learner(), slot_id=booked.pk)
    booking_accept(booking_id=accepted.pk, teacher=teacher)

    html = logged_in(client, teacher).get(AVAILABILITY).content.decode()
    rows = dict(re.findall(r'<tr data-slot-row="(\d+)">(.*?)</tr>', html, re.S))
    assert "slot-pill-requested" in rows[str(requested.pk)]
    assert "data-delete-slot" not in rows[str(requested.pk)]
    assert "slot-pill-booked" in rows[str(booked.pk)]
    assert "data-delete-slot" not in rows[str(booked.pk)]
    assert "slot-pill-open" in rows[str(open_slot.pk)]
    assert "data-delete-slot" in rows[str(open_slot.pk)]


def test_nav_shows_availability_to_teachers_only_and_marks_the_current_page(client):
    learner_html = logged_in(client, make_learner()).get(TEACHERS).content.decode()
    assert f'<a href="{TEACHERS}" aria-current="page">Find a teacher</a>' in learner_html
    assert f'href="{AVAILABILITY}"' not in learner_html

    teacher_html = logged_in(client, make_teacher()).get(AVAILABILITY).content.decode()
    assert f'<a href="{AVAILABILITY}" aria-current="page">Availability</a>' in teacher_html
    assert f'<a href="{TEACHERS}">Find a teacher</a>' in teacher_html


# --- /teachers/ --------------------------------------------------------------------


def test_teacher_list_is_public_and_shows_times_in_the_browsers_zone(client):
    teacher = make_teacher_with_skills("Python", username="open_door")
    slot = make_slot(teacher, start=in_future(days=2, hours=5))
    client.cookies["tz"] = "Asia/Tokyo"
    response = client.get(TEACHERS)
    assert response.status_code == 200
    html = response.content.decode()
    assert card_names(html) == ["open_door"]
    assert f'<a class="time-button" href="/book/{slot.pk}/">' in html
    assert f"{local_label(slot.start, 'Asia/Tokyo')}</time>" in text_of(html)
    assert 'data-viewer-zone="Asia/Tokyo"' in html


def test_filter_by_skill_lists_only_teachers_of_that_skill(client):
    make_teacher_with_skills("Python", username="pyonly")
    make_teacher_with_skills("Guitar", username="strummer")
    make_teacher_with_skills("Python", "Guitar", username="twofold")
    client = logged_in(client, make_learner(username="viewer"))

    html = client.get(TEACHERS, {"skill": "guitar"}).content.decode()
    assert sorted(card_names(html)) == ["strummer", "twofold"]
    assert '<option value="guitar" selected>Guitar</option>' in html
    assert "Clear filters" in html

    assert sorted(card_names(client.get(TEACHERS).content.decode())) == [
        "pyonly",
        "strummer",
        "twofold",
    ]


def test_free_text_search_matches_the_bio(client):
    make_teacher_with_skills("Guitar", username="flamenco", bio="Flamenco and jazz for adults")
    make_teacher_with_skills("Guitar", username="classical", bio="Bach on guitar")
    html = logged_in(client, make_learner()).get(TEACHERS, {"q": "jazz"}).content.decode()
    assert card_names(html) == ["flamenco"]
    assert 'value="jazz"' in html


def test_next_open_slot_is_shown_in_the_viewers_timezone(client):
    teacher = make_teacher_with_skills("Python", username="ny", timezone_name="America/New_York")
    slot = make_slot(teacher, start=in_future(days=2, hours=5))
    tokyo = make_learner(timezone_name="Asia/Tokyo")
    html = logged_in(client, tokyo).get(TEACHERS, {"skill": "python"}).content.decode()
    expected = local_label(slot.start, "Asia/Tokyo")
    assert f"{expected}</time>" in text_of(html)
    assert (
        f'datetime="{slot.start.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")).isoformat()}"' in html
    )
    # Not the teacher's zone, not UTC (Tokyo is never at the same wall time as either).
    assert local_label(slot.start, "America/New_York") not in html
    assert local_label(slot.start, "UTC") not in html


def test_cards_show_skills_with_level_rating_or_new_teacher(client):
    rated = make_teacher_with_skills("Python", username="rated")
    make_teacher_with_skills("Python", username="fresh")
    rate(rated, 5)
    rate(rated, 4)
    html = logged_in(client, make_learner()).get(TEACHERS).content.decode()
    cards = cards_by_name(html)
    assert 'aria-label="Rated 4.5 out of 5"' in cards["rated"]
    assert "(2 ratings)" in cards["rated"]
    assert "New teacher" in cards["fresh"]
    assert "New teacher" not in cards["rated"]
    assert 'Python <span class="muted">· Intermediate</span>' in cards["fresh"]


def test_unknown_skill_and_no_match_give_a_helpful_empty_state(client):
    make_teacher_with_skills("Python")
    client = logged_in(client, make_learner())
    html = client.get(TEACHERS, {"skill": "underwater-basket-weaving"}).content.decode()
    assert "data-empty-results" in html
    assert "clearing the filters" in html
    assert f'href="{reverse("dashboard")}"' in html
    assert card_names(html) == []


def test_teacher_list_pages_by_twenty(client):
    for n in range(21):
        make_teacher_with_skills("Python", username=f"teacher{n:02}")
    client = logged_in(client, make_learner())
    first = client.get(TEACHERS, {"skill": "python"}).content.decode()
    assert len(card_names(first)) == 20
    assert 'rel="next" href="?skill=python&amp;page=2"' in first
    second = client.get(TEACHERS, {"skill": "python", "page": 2}).content.decode()
    assert len(card_names(second)) == 1
    assert 'rel="prev"' in second
    assert not set(card_names(first)) & set(card_names(second))
    assert client.get(TEACHERS, {"page": "nonsense"}).status_code == 200


def _teachers_with_slots(count: int, start_index: int = 0) -> None:
    for n in range(start_index, start_index + count):
        teacher = make_teacher_with_skills("Python", "SQL", username=f"t{n}")
        make_slot(teacher, start=in_future(days=1 + n % 5, hours=n))
        if n % 3 == 0:
            rate(teacher, 5)


def test_teacher_list_query_count_does_not_grow_with_the_number_of_teachers(
    client, django_assert_max_num_queries
):
    client = logged_in(client, make_learner())
    _teachers_with_slots(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(TEACHERS, {"skill": "python"}).status_code == 200
    _teachers_with_slots(20, start_index=2)
    with django_assert_max_num_queries(len(few)):
        html = client.get(TEACHERS, {"skill": "python"}).content.decode()
    assert len(card_names(html)) == 20
    with django_assert_max_num_queries(len(few)):
        client.get(TEACHERS)


# --- /teachers/<id>/ ---------------------------------------------------------------


def test_teacher_page_shows_bio_skills_zone_and_open_slots_as_booking_links(client):
    teacher = make_teacher_with_skills("Python", username="ada", bio="Python from first steps.")
    teacher.teacher_skills.update(level="expert", blurb="Packaging, typing, tests.")
    slot = make_slot(teacher, start=in_future(days=2))
    taken = make_slot(teacher, start=in_future(days=3))
    booking_request(learner=make_learner(), slot_id=taken.pk)
    viewer = make_learner(timezone_name="Europe/Paris")
    html = (
        logged_in(client, viewer)
        .get(reverse("scheduling:teacher_detail", args=[teacher.username]))
        .content.decode()
    )
    assert "Python from first steps." in html
    assert "Expert" in html
    assert "Packaging, typing, tests." in html
    assert "Times in Europe/Paris" in html
    assert 'data-timezone="Europe/Paris"' in html
    assert f'data-teacher-id="{teacher.pk}"' in html
    assert 'data-bookable="true"' in html
    assert f'<a href="/book/{slot.pk}/">' in html
    assert f"/book/{taken.pk}/" not in html  # requested by someone: not open
    paris = slot.start.astimezone(zoneinfo.ZoneInfo("Europe/Paris"))
    assert f">{paris:%A} {paris.day} {paris:%B}</time></h4>" in html  # the day's heading
    assert f">{paris:%H:%M}{DASH}" in html
    assert "No ratings yet" in html


def test_teacher_page_lists_times_in_the_viewers_zone_across_a_dst_change(client):
    # New York moves its clocks on the 2nd Sunday of March, Paris on the last one:
    # 18:00 in New York is 00:00 in Paris on March 1st but 23:00 on March 20th.
    year = timezone.now().year + 1
    new_york = zoneinfo.ZoneInfo("America/New_York")
    teacher = make_teacher_with_skills("Python", timezone_name="America/New_York")
    before = make_slot(teacher, start=datetime(year, 3, 1, 18, tzinfo=new_york))
    after = make_slot(teacher, start=datetime(year, 3, 20, 18, tzinfo=new_york))
    viewer = make_learner(timezone_name="Europe/Paris")
    html = (
        logged_in(client, viewer)
        .get(reverse("scheduling:teacher_detail", args=[teacher.username]))
        .content.decode()
    )
    # Listed under their day in Paris: March 2nd at midnight, March 20th at 23:00.
    assert f'<time datetime="{year}-03-02">' in html
    assert f'<time datetime="{year}-03-01">' not in html
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    assert f'"{before.start.astimezone(paris).isoformat()}">00:00{DASH}01:00</time>' in html
    assert f'<time datetime="{year}-03-20">' in html
    assert f'"{after.start.astimezone(paris).isoformat()}">23:00{DASH}00:00</time>' in html


def test_teacher_page_shows_the_rating_summary_and_latest_feedback(client):
    teacher = make_teacher_with_skills("Python")
    rate(teacher, 5, "Clear and patient.")
    rate(teacher, 3)
    html = (
        logged_in(client, make_learner())
        .get(reverse("scheduling:teacher_detail", args=[teacher.username]))
        .content.decode()
    )
    assert '<strong class="rating-big">4.0</strong>' in html
    assert "2 ratings" in html
    assert "Clear and patient." in html
    assert "No ratings yet" not in html


def test_teacher_on_their_own_page_gets_the_editor_link_instead_of_booking(client):
    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher, start=in_future(days=2))
    html = (
        logged_in(client, teacher)
        .get(reverse("scheduling:teacher_detail", args=[teacher.username]))
        .content.decode()
    )
    assert "This is how learners see your open times" in html
    assert f'href="{AVAILABILITY}"' in html
    assert 'data-bookable="false"' in html
    assert f"/book/{slot.pk}/" not in html


def test_teacher_page_is_404_for_a_learner_or_an_unknown_id(client):
    learner = make_learner()
    client = logged_in(client, make_learner())
    assert client.get(reverse("scheduling:teacher_detail", args=[learner.pk])).status_code == 404
    assert client.get(f"/teachers/{learner.username}/").status_code == 404
    assert client.get(reverse("scheduling:teacher_detail", args=[999_999])).status_code == 404
    assert client.get("/teachers/99999999999999999999999/").status_code == 404


def test_teacher_page_is_public_by_username_and_old_urls_redirect_to_it(client):
    teacher = make_teacher_with_skills("Python", username="Ada_L", bio="Hello.")
    response = client.get("/teachers/Ada_L/")
    assert response.status_code == 200
    assert "Hello." in response.content.decode()
    assert "Log in</a> or <a" in response.content.decode()  # how to ask a question
    for old in (f"/teachers/{teacher.pk}/", "/teachers/ada_l/"):
        moved = client.get(old)
        assert moved.status_code == 301, old
        assert moved["Location"] == "/teachers/Ada_L/"


def test_a_username_made_of_digits_is_a_name_first(client):
    named = make_teacher_with_skills("Python", username="7")
    other = make_teacher_with_skills("Python", username="seven")
    by_name = client.get("/teachers/7/")
    assert by_name.status_code == 200
    assert "<h1>7</h1>" in by_name.content.decode()
    if other.pk != 7:
        assert client.get(f"/teachers/{other.pk}/")["Location"] == "/teachers/seven/"
    del named


def test_teacher_page_is_404_for_a_deactivated_teacher(client):
    teacher = make_teacher_with_skills("Python", is_active=False)
    client = logged_in(client, make_learner())
    assert (
        client.get(reverse("scheduling:teacher_detail", args=[teacher.username])).status_code == 404
    )
