"""One way to write times (issue 15, point 8): ``accounts.clock.moment_format`` in the
viewer's zone and 12- or 24-hour clock, used by ``User.local_label`` (notifications, error
details), the ``clock`` template filters, the profile page and ``/api/me/``."""

from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from accounts.clock import (
    clock_activate,
    clock_deactivate,
    moment_format,
    quarter_hours,
    uses_12_hour,
)
from accounts.middleware import ViewerTimezoneMiddleware
from tests.factories import make_learner

pytestmark = pytest.mark.django_db

AFTERNOON = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # a Wednesday
MIDNIGHT = datetime(2026, 12, 2, 0, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_viewer():
    clock_deactivate()
    yield
    clock_deactivate()


@pytest.mark.parametrize(
    ("time_format", "expected"),
    [
        ("24", "Wed Dec 2, 14:00 (UTC)"),
        ("12", "Wed Dec 2, 2:00 PM (UTC)"),
        ("auto", "Wed Dec 2, 14:00 (UTC)"),  # no browser to ask: 24-hour
    ],
)
def test_local_label_follows_the_users_clock(time_format, expected):
    user = make_learner(time_format=time_format)
    assert user.local_label(AFTERNOON) == expected


def test_local_label_is_in_the_users_zone():
    user = make_learner(timezone_name="America/New_York", time_format="12")
    assert user.local_label(AFTERNOON) == "Wed Dec 2, 9:00 AM (America/New_York)"


def test_twelve_hour_midnight_and_noon():
    user = make_learner(time_format="12")
    assert moment_format(MIDNIGHT, style="time", user=user) == "12:05 AM"
    assert moment_format(AFTERNOON.replace(hour=12), style="time", user=user) == "12:00 PM"
    twenty_four = make_learner(time_format="24")
    assert moment_format(MIDNIGHT, style="time", user=twenty_four) == "00:05"


def test_auto_follows_the_viewers_browser_but_not_for_someone_else():
    viewer = make_learner()
    other = make_learner()
    clock_activate(user_id=viewer.pk, hour12=True)
    assert uses_12_hour(viewer) and uses_12_hour()
    # A notification written for the other person during this request: their browser is
    # unknown, so 24-hour.
    assert other.local_label(AFTERNOON) == "Wed Dec 2, 14:00 (UTC)"
    assert viewer.local_label(AFTERNOON) == "Wed Dec 2, 2:00 PM (UTC)"


def test_an_explicit_preference_beats_the_browser():
    viewer = make_learner(time_format="24")
    clock_activate(user_id=viewer.pk, hour12=True)
    assert moment_format(AFTERNOON, style="time", user=viewer) == "14:00"


def test_unknown_style_is_a_programming_error():
    with pytest.raises(ValueError):
        moment_format(AFTERNOON, style="fancy")


def test_template_filters_use_the_active_zone_and_clock():
    template = Template(
        "{% load clock %}{{ t|clock }}|{{ t|day }}|{{ t|when }}|{{ t|when_long }}|{{ none|clock }}"
    )
    with timezone.override("Europe/Paris"):
        clock_activate(user_id=None, hour12=True)
        assert template.render(Context({"t": AFTERNOON, "none": None})) == (
            "3:00 PM|Wed Dec 2|Wed Dec 2, 3:00 PM|Wednesday, Dec 2, 2026 · 3:00 PM|"
        )
        clock_activate(user_id=None, hour12=False)
        assert template.render(Context({"t": AFTERNOON, "none": None})).startswith("15:00|")


def test_quarter_hours_are_labelled_in_the_clock():
    clock_activate(user_id=None, hour12=True)
    hours = quarter_hours()
    assert len(hours) == 96
    assert hours[0] == ("00:00", "12:00 AM")
    assert ("14:30", "2:30 PM") in hours


@pytest.mark.parametrize(
    ("time_format", "cookie", "hour12"),
    [
        ("auto", "h12", True),
        ("auto", "h23", False),
        ("auto", None, False),
        ("24", "h12", False),
        ("12", "h23", True),
    ],
)
def test_middleware_reads_the_preference_then_the_browser_cookie(time_format, cookie, hour12):
    user = make_learner(time_format=time_format)
    request = RequestFactory().get("/")
    request.user = user
    if cookie:
        request.COOKIES["clock"] = cookie
    seen = {}

    def view(req):
        seen["hour12"] = uses_12_hour()
        return None

    ViewerTimezoneMiddleware(view)(request)
    assert seen["hour12"] is hour12 and request.hour12 is hour12


def test_me_api_shows_and_changes_the_time_format(auth_client, learner):
    assert auth_client.get("/api/me/").json()["time_format"] == "auto"
    response = auth_client.patch("/api/me/", {"time_format": "12"}, format="json")
    assert response.status_code == 200 and response.json()["time_format"] == "12"
    learner.refresh_from_db()
    assert learner.time_format == "12"


def test_me_api_refuses_an_unknown_time_format_and_changes_nothing(auth_client, learner):
    response = auth_client.patch("/api/me/", {"time_format": "13"}, format="json")
    assert response.status_code == 400
    assert "time_format" in response.json()["fields"]
    learner.refresh_from_db()
    assert learner.time_format == "auto"


def test_profile_page_saves_the_time_format(client, learner):
    client.force_login(learner)
    page = client.get("/accounts/profile/")
    assert b'name="time_format"' in page.content
    response = client.post(
        "/accounts/profile/",
        {
            "email": learner.email,
            "role": "learner",
            "timezone": "UTC",
            "theme": "system",
            "time_format": "12",
            "bio": "",
        },
    )
    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.time_format == "12"
    refused = client.post(
        "/accounts/profile/",
        {
            "email": learner.email,
            "role": "learner",
            "timezone": "UTC",
            "theme": "system",
            "time_format": "x",
        },
    )
    assert refused.status_code == 200
    learner.refresh_from_db()
    assert learner.time_format == "12"
