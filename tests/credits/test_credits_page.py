"""The Credits page (/credits/) through Django's test client."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from credits.charts import balance_chart, nice_ceiling
from credits.services import credits_adjust, credits_hold, credits_settle
from tests.factories import make_learner, make_staff, make_teacher

pytestmark = pytest.mark.django_db


def test_credits_page_needs_a_signed_in_user(client):
    response = client.get(reverse("credits:overview"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_credits_page_shows_balance_held_available_and_the_nav_link(client):
    learner = make_learner()
    credits_hold(user=learner, amount=30, booking_id=3)
    client.force_login(learner)
    response = client.get(reverse("credits:overview"))
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["summary"] == {"balance": 120, "held": 30, "available": 90}
    assert '<p class="credit-stat-value" data-credits-available>90</p>' in html
    assert '<p class="credit-stat-value" data-credits-held>30</p>' in html
    assert '<p class="credit-stat-value" data-credits-balance>120</p>' in html
    assert 'href="/credits/" aria-current="page" data-nav-credits>Credits' in html


def test_credits_history_says_what_each_entry_was_for_and_links_the_session(client):
    learner, teacher = make_learner(), make_teacher(username="kenji")
    credits_hold(user=learner, amount=60, booking_id=42)
    credits_settle(
        booking_id=42, payer=learner, payee=teacher, paid_amount=45, reason="45 minutes attended"
    )
    client.force_login(teacher)
    html = client.get(reverse("credits:overview")).content.decode()
    assert f'<a href="/sessions/42/">Paid by {learner.username} for session #42</a>' in html
    assert "45 minutes attended" in html
    assert "+45" in html and "Sign-up grant" in html
    client.force_login(learner)
    html = client.get(reverse("credits:overview")).content.decode()
    assert '<a href="/sessions/42/">Paid to kenji for session #42</a>' in html
    assert "\N{MINUS SIGN}45" in html and "Hold returned for session #42" in html


def test_credits_page_shows_times_in_the_viewers_zone(client):
    learner = make_learner(timezone_name="Asia/Kolkata")
    client.force_login(learner)
    html = client.get(reverse("credits:overview")).content.decode()
    assert "+05:30" in html  # the entries' <time datetime> carry the viewer's offset
    assert "Times in Asia/Kolkata" in html


def test_credits_page_has_an_accessible_balance_chart(client):
    learner, staff = make_learner(), make_staff()
    credits_adjust(user=learner, amount=30, reason="Bonus", actor=staff)
    client.force_login(learner)
    html = client.get(reverse("credits:overview")).content.decode()
    assert 'role="img" aria-labelledby="chart-title chart-desc"' in html
    assert '<title id="chart-title">Your balance over time</title>' in html
    assert "started at 0, now 150 credits; lowest 0, highest 150." in html


def test_credits_page_with_nothing_yet_explains_what_will_appear(client, settings):
    settings.CREDITS_SIGNUP_GRANT = 0
    learner = make_learner()
    client.force_login(learner)
    html = client.get(reverse("credits:overview")).content.decode()
    assert "No credit movements yet." in html
    assert 'href="/teachers/"' in html


def test_credits_page_pages_through_older_entries(client):
    learner, staff = make_learner(), make_staff()
    for n in range(30):
        credits_adjust(user=learner, amount=1, reason=f"tick {n}", actor=staff)
    client.force_login(learner)
    first = client.get(reverse("credits:overview"))
    assert len(first.context["history"].entries) == 25
    cursor = first.context["history"].next_cursor
    assert f'href="?cursor={cursor}"' in first.content.decode()
    second = client.get(reverse("credits:overview"), {"cursor": cursor})
    assert len(second.context["history"].entries) == 6
    assert "Newest entries" in second.content.decode()


def test_a_mangled_cursor_shows_the_newest_entries_not_an_error(client):
    learner = make_learner()
    client.force_login(learner)
    response = client.get(reverse("credits:overview"), {"cursor": "not-ours"})
    assert response.status_code == 200
    assert len(response.context["history"].entries) == 1


def test_the_chart_scale_is_a_round_number_above_the_highest_balance():
    values = (0, 7, 11, 120, 180, 251, 297, 999, 1001)
    assert [nice_ceiling(v) for v in values] == [10, 10, 15, 150, 200, 300, 300, 1000, 1500]


def test_the_chart_is_a_step_line_from_the_first_point_to_now():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [(start, 0), (start + timedelta(days=1), 100), (start + timedelta(days=3), 50)]
    chart = balance_chart(points, now=start + timedelta(days=4))
    assert chart.y_max == 100
    # x runs 8..992 over four days, y 292 (0) .. 8 (100).
    assert chart.line == "M8.0 292.0H254.0V8.0H746.0V150.0H992.0"
    assert chart.area.endswith("V292.0H8.0Z")
    assert balance_chart([], now=start) is None
