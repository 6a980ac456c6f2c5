"""Hostile or careless input gets a 4xx with a clear code, never a 500: far dates, huge
numbers, deep JSON, ids beyond 64 bits. The booking horizon keeps every shown date safe."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from scheduling.models import AvailabilitySlot, Booking
from scheduling.services.bookings import booking_request
from scheduling.transitions import booking_accept
from tests.conftest import client_for
from tests.factories import make_learner, make_slot, make_teacher_with_skills, make_user

pytestmark = pytest.mark.django_db

HUGE = [10**30, -(10**30), 2**63, int("9" * 40)]


@pytest.fixture
def teacher():
    return make_teacher_with_skills("Python")


def iso(moment) -> str:
    return moment.isoformat()


# --- Far dates and the booking horizon -----------------------------------------------------


@pytest.mark.parametrize(
    "start",
    ["9999-12-31T22:00:00+00:00", "9999-12-31T23:00:00-12:00", "0001-01-01T00:00:00+14:00"],
)
def test_a_slot_at_the_ends_of_the_calendar_is_refused_cleanly(teacher, start):
    response = client_for(teacher).post(
        "/api/slots/", {"start": start, "end": "9999-12-31T23:30:00+00:00"}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert "start" in response.json()["fields"]
    assert not AvailabilitySlot.objects.exists()


def test_slots_are_published_up_to_the_horizon_and_not_beyond(teacher, settings):
    settings.BOOKING_HORIZON_DAYS = 365
    client = client_for(teacher)
    base = timezone.now().replace(minute=0, second=0, microsecond=0)
    inside = base + timedelta(days=364)
    response = client.post(
        "/api/slots/",
        {"start": iso(inside), "end": iso(inside + timedelta(hours=1))},
        format="json",
    )
    assert response.status_code == 201, response.content
    beyond = base + timedelta(days=366)
    response = client.post(
        "/api/slots/",
        {"start": iso(beyond), "end": iso(beyond + timedelta(hours=1))},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "beyond_horizon" and "end" in response.json()["fields"]
    # Weekly repeats that would cross it are refused whole.
    near = base + timedelta(days=300)
    response = client.post(
        "/api/slots/",
        {"start": iso(near), "end": iso(near + timedelta(hours=1)), "repeat_weeks": 26},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "beyond_horizon"
    assert AvailabilitySlot.objects.count() == 1


def test_a_match_window_beyond_the_horizon_is_refused(settings):
    settings.BOOKING_HORIZON_DAYS = 30
    make_teacher_with_skills("Python")
    start = timezone.now() + timedelta(days=29)
    response = client_for(make_learner()).post(
        "/api/match/",
        {
            "skill": "python",
            "window_start": iso(start),
            "window_end": iso(start + timedelta(days=2)),
        },
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "beyond_horizon"


@pytest.mark.parametrize(
    "query", ["start=0001-01-01T00:00:00%2B14:00", "end=9999-12-31T23:59:59-12:00"]
)
def test_far_dates_in_query_strings_are_a_400(teacher, query):
    response = client_for(make_learner()).get(f"/api/slots/?{query}")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_pages_show_a_slot_near_the_horizon_in_every_zone(teacher, settings):
    """The far end of what can be published, seen from UTC+14 and UTC-12."""
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=364)
    slot = make_slot(teacher, start=start)
    for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):
        viewer = make_learner(timezone_name=zone)
        client = Client()
        client.force_login(viewer)
        for url in (
            "/teachers/?skill=python",
            f"/teachers/{teacher.username}/",
            f"/book/{slot.pk}/",
        ):
            assert client.get(url).status_code == 200, (zone, url)
    booking = booking_request(learner=make_learner(timezone_name="Asia/Tokyo"), slot_id=slot.pk)
    assert booking_accept(booking_id=booking.pk, teacher=teacher).status == "scheduled"


def test_staff_cannot_store_a_date_pages_could_not_show(teacher):
    staff = make_user(username="boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    response = client.post(
        "/admin/scheduling/availabilityslot/add/",
        {
            "teacher": teacher.pk,
            "start_0": "9999-12-31",
            "start_1": "22:00:00",
            "end_0": "9999-12-31",
            "end_1": "23:00:00",
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code == 200  # the form again, with the error
    assert b"Give a date between" in response.content
    assert not AvailabilitySlot.objects.exists()


# --- Huge numbers, deep JSON, long ids ------------------------------------------------------


def test_json_nested_thousands_deep_is_a_400():
    body = "[" * 5000 + "]" * 5000
    for url, client in (
        ("/api/bookings/", client_for(make_learner())),
        ("/api/auth/token/", Client()),
    ):
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.content[:200])
        assert response.json()["code"] == "invalid"


def _schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_every_numeric_query_parameter_refuses_out_of_range_values(teacher):
    """Swept from the OpenAPI schema, so a new list endpoint is covered without editing."""
    make_slot(teacher)
    client = client_for(make_learner())
    schema = _schema(client)
    checked = 0
    for path, operations in schema["paths"].items():
        if "{" in path or "get" not in operations:
            continue
        for parameter in operations["get"].get("parameters", []):
            if parameter.get("in") != "query":
                continue
            if parameter.get("schema", {}).get("type") not in {"integer", "number"}:
                continue
            for value in HUGE:
                response = client.get(path, {parameter["name"]: value})
                assert response.status_code == 400, (path, parameter["name"], value)
                assert response.json()["code"] == "invalid"
                checked += 1
    assert checked >= 5 * len(HUGE)  # teacher, limit (slots), limit/offset (teachers)...


def test_ids_beyond_64_bits_in_any_path_are_a_404(teacher):
    client = client_for(make_learner())
    schema = _schema(client)
    checked = 0
    for path, operations in schema["paths"].items():
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        if not any("id" in name for name in names):
            continue
        url = path
        for name in names:
            url = url.replace("{" + name + "}", "9" * 30)
        for method in operations:
            if method not in {"get", "post", "patch", "put", "delete"}:
                continue
            response = getattr(client, method)(url, {}, format="json")
            assert response.status_code == 404, (method, url, response.status_code)
            checked += 1
    assert checked >= 10
    # The pages too.
    browser = Client()
    browser.force_login(make_learner())
    for url in ("/sessions/" + "9" * 30 + "/", "/book/" + "9" * 30 + "/"):
        assert browser.get(url).status_code == 404


def test_a_booking_for_a_slot_id_beyond_64_bits_is_a_400():
    response = client_for(make_learner()).post("/api/bookings/", {"slot": 10**30}, format="json")
    assert response.status_code == 400 and "slot" in response.json()["fields"]
    assert not Booking.objects.exists()


# --- JSON types (found by the schema fuzzing test) ----------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/bookings/", {"slot": "1"}, "slot"),  # a string for an id
        ("/api/bookings/", {"slot": True}, "slot"),  # a flag for an id
        ("/api/me/skills/", {"skill": "Go", "blurb": 0}, "blurb"),  # a number for text
        ("/api/assistant/ask/", {"prompt": 0}, "prompt"),
        ("/api/assistant/ask/", {"prompt": "hi", "include_chat": 0}, "include_chat"),
        ("/api/auth/logout/", {"refresh": 0}, "refresh"),
        ("/api/auth/verify-email/", {"token": 12345}, "token"),
    ],
)
def test_a_body_value_of_the_wrong_json_type_is_refused(settings, url, body, field):
    settings.GEMINI_API_KEY = "test-key"  # the assistant checks its key before the body
    user = make_user(role="both")
    response = client_for(user).post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]
    assert not Booking.objects.exists()
    assert not user.teacher_skills.exists()


def test_every_wrong_type_in_a_body_is_reported_at_once():
    response = client_for(make_learner()).post(
        "/api/auth/register/",
        {"username": 5, "email": "x@example.test", "password": 7, "role": "sage"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username", "password", "role"}
