"""GET /api/credits/: the balance and the caller's entries, keyset-paged."""

import pytest

from credits.services import credits_adjust, credits_hold, credits_release, credits_settle
from tests.conftest import client_for
from tests.factories import make_learner, make_staff, make_teacher

pytestmark = pytest.mark.django_db


def test_credits_api_needs_authentication(api_client):
    response = api_client.get("/api/credits/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_credits_api_gives_balance_held_available_and_the_signup_grant():
    learner = make_learner(timezone_name="Asia/Tokyo")
    body = client_for(learner).get("/api/credits/").json()
    assert (body["balance"], body["held"], body["available"]) == (120, 0, 120)
    assert body["next"] is None
    (grant,) = body["entries"]
    assert grant["amount"] == 120 and grant["kind"] == "grant" and grant["booking"] is None
    assert grant["description"] == "Sign-up grant" and grant["counterparty"] is None
    assert grant["created_at"].endswith("+09:00")  # in the caller's zone, with its offset


def test_credits_api_says_what_each_entry_was_for():
    learner, teacher = make_learner(), make_teacher(username="ada")
    credits_hold(user=learner, amount=60, booking_id=42)
    credits_settle(booking_id=42, payer=learner, payee=teacher, paid_amount=45, reason="45 minutes")
    body = client_for(learner).get("/api/credits/").json()
    assert (body["balance"], body["held"], body["available"]) == (75, 0, 75)
    assert [(e["kind"], e["amount"], e["booking"]) for e in body["entries"]] == [
        ("payment", -45, 42),
        ("release", 60, 42),
        ("hold", -60, 42),
        ("grant", 120, None),
    ]
    payment = body["entries"][0]
    assert payment["counterparty"] == {"id": teacher.pk, "username": "ada"}
    assert payment["description"] == "Paid to ada for session #42"
    assert payment["reason"] == "45 minutes"
    teacher_body = client_for(teacher).get("/api/credits/").json()
    assert teacher_body["entries"][0]["amount"] == 45
    assert teacher_body["entries"][0]["description"].startswith(f"Paid by {learner.username}")


def test_credits_api_shows_held_credits_while_a_booking_is_open():
    learner = make_learner()
    credits_hold(user=learner, amount=30, booking_id=5)
    body = client_for(learner).get("/api/credits/").json()
    assert (body["balance"], body["held"], body["available"]) == (120, 30, 90)


def test_credits_api_pages_with_limit_and_cursor_without_gaps_or_repeats():
    learner = make_learner()
    for n in range(6):
        credits_hold(user=learner, amount=1, booking_id=n + 1)
        credits_release(booking_id=n + 1)
    client = client_for(learner)
    seen, url, pages = [], "/api/credits/?limit=5", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert len(body["entries"]) <= 5
        seen += [entry["id"] for entry in body["entries"]]
        url = body["next"]
        if url:
            assert response["Link"] == f'<{url}>; rel="next"'
        pages += 1
    assert pages == 3
    assert len(seen) == 13 and seen == sorted(seen, reverse=True)


def test_credits_api_refuses_bad_paging_input_with_400():
    client = client_for(make_learner())
    from credits.selectors import history_cursor

    huge = history_cursor(2**64)
    for query in (
        "limit=0",
        "limit=201",
        "limit=x",
        "cursor=%%%",
        "cursor=bm9wZQ",
        f"cursor={huge}",
    ):
        response = client.get(f"/api/credits/?{query}")
        assert response.status_code == 400, query
        assert response.json()["code"] == "invalid"


def test_credits_api_shows_only_the_callers_entries():
    learner, other, staff = make_learner(), make_learner(), make_staff()
    credits_adjust(user=other, amount=7, reason="Only theirs", actor=staff)
    body = client_for(learner).get("/api/credits/").json()
    assert [e["kind"] for e in body["entries"]] == ["grant"]


def test_credits_api_is_in_the_schema(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/credits/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"limit", "cursor"}
    page = schema["components"]["schemas"]["CreditsPage"]
    assert set(page["properties"]) == {"balance", "held", "available", "entries", "next"}
