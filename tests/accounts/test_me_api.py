"""GET/PATCH /api/me/: what changes, what is refused, and that a refusal changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_patch_changes_timezone_theme_bio_and_role(auth_client, learner):
    response = auth_client.patch(
        "/api/me/",
        {"timezone": "America/Chicago", "theme": "dark", "bio": "Hi!", "role": "both"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["timezone"], body["theme"], body["bio"], body["role"]) == (
        "America/Chicago",
        "dark",
        "Hi!",
        "both",
    )
    learner.refresh_from_db()
    assert learner.is_teacher and learner.is_learner
    assert learner.theme == "dark"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"timezone": "Nowhere/Land"}, "timezone"),
        ({"theme": "neon"}, "theme"),
        ({"role": "superuser"}, "role"),
        ({"email": "bad"}, "email"),
    ],
)
def test_bad_patch_is_refused_and_changes_nothing(auth_client, learner, payload, field):
    before = (learner.timezone, learner.theme, learner.role, learner.email)
    response = auth_client.patch("/api/me/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    learner.refresh_from_db()
    assert (learner.timezone, learner.theme, learner.role, learner.email) == before


def test_patch_with_a_verified_owners_email_answers_like_any_change_and_tells_the_owner(
    auth_client, learner, teacher, mailoutbox, django_capture_on_commit_callbacks
):
    teacher.email_verified = True
    teacher.save(update_fields=["email_verified"])
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.patch("/api/me/", {"email": teacher.email.upper()}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["email_verified"] is False
    learner.refresh_from_db()
    assert (learner.email, learner.email_verified) == (teacher.email.upper(), False)
    [note] = mailoutbox
    assert note.to == [teacher.email]
    assert "Someone tried" in note.subject


def test_patch_with_a_new_email_marks_it_unverified_and_mails_a_link(
    auth_client, learner, mailoutbox, django_capture_on_commit_callbacks
):
    learner.email_verified = True
    learner.save(update_fields=["email_verified"])
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.patch("/api/me/", {"email": "new@example.test"}, format="json")
    assert response.status_code == 200
    assert response.json()["email_verified"] is False
    [mail] = mailoutbox
    assert mail.to == ["new@example.test"]
    assert "/accounts/email/verify/" in mail.body


def test_unknown_fields_cannot_escalate(auth_client, learner):
    response = auth_client.patch(
        "/api/me/", {"is_staff": True, "subscription_type": "premium"}, format="json"
    )
    assert response.status_code == 200
    learner.refresh_from_db()
    assert not learner.is_staff
    assert learner.subscription_type == "free"


def test_premium_is_read_from_the_database_on_every_request(auth_client, learner):
    assert auth_client.get("/api/me/").json()["subscription"]["type"] == "free"
    learner.subscription_type = "premium"
    learner.subscription_expiry = timezone.now() + timedelta(days=30)
    learner.save()
    subscription = auth_client.get("/api/me/").json()["subscription"]
    assert subscription["type"] == "premium"
    assert subscription["bookings_limit"] is None
    assert subscription["expires_at"] is not None


def test_expired_premium_is_free_again(auth_client, learner):
    learner.subscription_type = "premium"
    learner.subscription_expiry = timezone.now() - timedelta(seconds=1)
    learner.save()
    assert auth_client.get("/api/me/").json()["subscription"]["type"] == "free"


def test_session_authenticated_patch_needs_csrf(learner):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(learner)
    response = client.patch("/api/me/", {"theme": "dark"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    learner.refresh_from_db()
    assert learner.theme == "system"


def test_unknown_api_path_is_json_404(api_client, settings):
    response = api_client.get("/api/definitely-not-here/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
