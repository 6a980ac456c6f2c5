"""Register -> token -> /api/me/ over the API, and every refusal with its fields."""

import pytest

from accounts.models import User

pytestmark = pytest.mark.django_db

GOOD = {
    "username": "grace",
    "email": "grace@example.test",
    "password": "correct-Horse-battery-9",
    "role": "teacher",
    "timezone": "Europe/Paris",
}


def register(client, **overrides):
    return client.post("/api/auth/register/", {**GOOD, **overrides}, format="json")


def test_register_token_me_round_trip(api_client):
    response = register(api_client)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": body["id"],
        "username": "grace",
        "email": "grace@example.test",
        "email_verified": False,
        "role": "teacher",
        "timezone": "Europe/Paris",
    }

    tokens = api_client.post(
        "/api/auth/token/",
        {"username": "grace", "password": GOOD["password"]},
        format="json",
    ).json()
    assert set(tokens) == {"access", "refresh"}

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = api_client.get("/api/me/").json()
    assert me["id"] == body["id"]
    assert me["role"] == "teacher"
    assert me["is_teacher"] is True and me["is_learner"] is False
    assert me["timezone"] == "Europe/Paris"
    assert me["theme"] == "system"
    assert me["subscription"]["type"] == "free"
    assert me["subscription"]["bookings_limit"] == 2

    refreshed = api_client.post(
        "/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    assert "access" in refreshed.json()

    user = User.objects.get(pk=body["id"])
    assert user.password.startswith("argon2$")


def test_timezone_defaults_to_utc_when_omitted(api_client):
    payload = {k: v for k, v in GOOD.items() if k != "timezone"}
    response = api_client.post("/api/auth/register/", payload, format="json")
    assert response.status_code == 201
    assert response.json()["timezone"] == "UTC"


def test_duplicate_username_is_refused_case_insensitively(api_client):
    assert register(api_client).status_code == 201
    response = register(api_client, username="GRACE", email="other@example.test")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "username" in body["fields"]
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "12345678"}, "password"),
        ({"password": "password"}, "password"),
        ({"password": "short"}, "password"),
        ({"password": "grace-Example"}, "password"),
        ({"role": "admin"}, "role"),
        ({"role": ""}, "role"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "utc+2"}, "timezone"),
        ({"email": "not-an-email"}, "email"),
        ({"username": ""}, "username"),
    ],
)
def test_bad_registration_is_refused_with_fields_and_creates_nothing(api_client, overrides, field):
    response = register(api_client, **overrides)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"]
    assert field in body["fields"], body
    assert User.objects.count() == 0


def test_missing_fields_are_listed(api_client):
    response = api_client.post("/api/auth/register/", {}, format="json")
    assert response.status_code == 400
    assert {"username", "email", "password", "role"} <= set(response.json()["fields"])


def test_malformed_json_is_a_400_not_a_crash(api_client):
    response = api_client.post(
        "/api/auth/register/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_wrong_password_gets_invalid_credentials(api_client):
    register(api_client)
    response = api_client.post(
        "/api/auth/token/", {"username": "grace", "password": "nope-nope-nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_token_endpoint_is_rate_limited(api_client, settings):
    settings.LOGIN_RATE_LIMIT = "3/900"
    register(api_client)
    for _ in range(3):
        response = api_client.post(
            "/api/auth/token/", {"username": "grace", "password": "wrong-wrong"}, format="json"
        )
        assert response.status_code == 401
    response = api_client.post(
        "/api/auth/token/", {"username": "grace", "password": GOOD["password"]}, format="json"
    )
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
