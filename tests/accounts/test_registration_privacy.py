"""Registration is throttled per address, never tells whether an email is registered, and
verifies addresses by a signed, expiring link; unverified addresses do not block login."""

import re
import time

import pytest
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.email_verification import email_verification_token
from accounts.models import User
from tests.factories import PASSWORD, make_learner

pytestmark = pytest.mark.django_db


def payload(**overrides):
    return {
        "username": "grace",
        "email": "grace@example.test",
        "password": PASSWORD,
        "role": "learner",
        **overrides,
    }


def page_form(**overrides):
    data = payload(**overrides)
    return {
        "username": data["username"],
        "email": data["email"],
        "password1": data["password"],
        "password2": data["password"],
        "role": data["role"],
        "timezone": "UTC",
    }


def link_in(mail) -> str:
    return re.search(r"https?://\S+/accounts/email/verify/\S+/", mail.body).group(0)


def verified_owner(email: str = "owner@example.test") -> User:
    owner = make_learner(username="owner")
    owner.email, owner.email_verified = email, True
    owner.save(update_fields=["email", "email_verified"])
    return owner


# --- Throttle ---------------------------------------------------------------------------


def test_api_registration_is_throttled_per_address(api_client, settings):
    settings.REGISTER_RATE_LIMIT = "2/3600"
    for n in range(2):
        response = api_client.post(
            "/api/auth/register/",
            payload(username=f"u{n}", email=f"u{n}@example.test"),
            format="json",
        )
        assert response.status_code == 201
    response = api_client.post(
        "/api/auth/register/", payload(username="u3", email="u3@example.test"), format="json"
    )
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert not User.objects.filter(username="u3").exists()
    # Another address is not affected.
    other = api_client.post(
        "/api/auth/register/",
        payload(username="u4", email="u4@example.test"),
        format="json",
        REMOTE_ADDR="10.9.8.7",
    )
    assert other.status_code == 201


def test_register_page_is_throttled_per_address(client, settings):
    settings.REGISTER_RATE_LIMIT = "1/3600"
    client.post(reverse("accounts:register"), page_form(username="bad name"))
    response = client.post(reverse("accounts:register"), page_form())
    assert response.status_code == 429
    assert b"Too many sign-ups" in response.content
    assert not User.objects.filter(username="grace").exists()


# --- No enumeration -----------------------------------------------------------------------


def test_registered_email_answers_like_a_new_one_and_mails_the_owner(
    api_client, mailoutbox, django_capture_on_commit_callbacks
):
    owner = verified_owner()
    with django_capture_on_commit_callbacks(execute=True):
        fresh = api_client.post(
            "/api/auth/register/",
            payload(username="fresh", email="fresh@example.test"),
            format="json",
        )
        taken = api_client.post(
            "/api/auth/register/",
            payload(username="copycat", email="OWNER@example.test"),
            format="json",
        )
    assert fresh.status_code == taken.status_code == 201
    assert set(fresh.json()) == set(taken.json())
    assert taken.json()["email_verified"] is False
    link, note = mailoutbox
    assert link.to == ["fresh@example.test"] and "/accounts/email/verify/" in link.body
    assert note.to == [owner.email]
    assert "Someone tried" in note.subject
    assert "/accounts/email/verify/" not in note.body  # the copycat gets no link
    owner.refresh_from_db()
    assert owner.email_verified


def test_register_page_says_the_same_for_a_registered_email(client):
    verified_owner()
    new = client.post(reverse("accounts:register"), page_form(), follow=True)
    client.logout()
    taken = client.post(
        reverse("accounts:register"),
        page_form(username="copycat", email="owner@example.test"),
        follow=True,
    )
    messages = [[str(m) for m in r.context["messages"]] for r in (new, taken)]
    assert [m.replace("copycat", "grace").replace("owner@", "grace@") for m in messages[1]] == (
        messages[0]
    )
    assert "An account with that email" not in taken.content.decode()


def test_verified_addresses_are_unique_in_the_database(learner):
    verified_owner(email="same@example.test")
    learner.email = "Same@Example.test"
    learner.save(update_fields=["email"])  # unverified: allowed
    learner.email_verified = True
    with pytest.raises(IntegrityError), transaction.atomic():
        learner.save(update_fields=["email_verified"])


# --- The verification link ------------------------------------------------------------------


def test_the_mailed_link_verifies_the_address(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:register"), page_form())
    user = User.objects.get(username="grace")
    assert not user.email_verified
    profile = client.get(reverse("accounts:profile"))
    assert b"(unverified)" in profile.content
    [mail] = mailoutbox
    response = client.get(link_in(mail))
    assert response.status_code == 200
    assert b"Email confirmed" in response.content
    user.refresh_from_db()
    assert user.email_verified
    assert b"(unverified)" not in client.get(reverse("accounts:profile")).content


def test_an_unverified_email_does_not_block_login(api_client):
    learner = make_learner(username="newbie")
    assert not learner.email_verified
    response = api_client.post(
        "/api/auth/token/", {"username": "newbie", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200


def test_an_expired_link_is_refused(client, learner, settings, monkeypatch):
    issued = time.time() - settings.EMAIL_VERIFICATION_MAX_AGE - 5
    with monkeypatch.context() as clock:
        clock.setattr(signing.time, "time", lambda: issued)  # a link mailed long ago
        token = email_verification_token(user=learner)
    response = client.get(reverse("accounts:email_verify", args=[token]))
    assert response.status_code == 400
    assert b"expired" in response.content
    learner.refresh_from_db()
    assert not learner.email_verified


def test_a_tampered_link_is_refused(client, api_client, learner):
    other = make_learner()
    token = email_verification_token(user=learner)
    value, stamp, signature = token.rsplit(":", 2)
    claims = signing.b64_decode(value.encode()).decode().replace(str(learner.pk), str(other.pk))
    forged = f"{signing.b64_encode(claims.encode()).decode()}:{stamp}:{signature}"
    for bad in (forged, token[:-2] + "xx", "garbage"):
        response = client.get(reverse("accounts:email_verify", args=[bad]))
        assert response.status_code == 400
        api = api_client.post("/api/auth/verify-email/", {"token": bad}, format="json")
        assert api.status_code == 400 and api.json()["code"] == "link_invalid"
    assert not User.objects.filter(email_verified=True).exists()


def test_a_link_for_a_previous_address_is_refused(api_client, learner):
    token = email_verification_token(user=learner)
    learner.email = "changed@example.test"
    learner.save(update_fields=["email"])
    response = api_client.post("/api/auth/verify-email/", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "link_invalid"


def test_api_verifies_and_a_taken_address_is_a_conflict(api_client, learner):
    ok = api_client.post(
        "/api/auth/verify-email/",
        {"token": email_verification_token(user=learner)},
        format="json",
    )
    assert ok.status_code == 200
    assert ok.json() == {"email": learner.email, "email_verified": True}
    copycat = make_learner()
    copycat.email = learner.email
    copycat.save(update_fields=["email"])
    response = api_client.post(
        "/api/auth/verify-email/",
        {"token": email_verification_token(user=copycat)},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


def test_resend_mails_a_new_link_and_refuses_when_verified(
    auth_client, learner, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post("/api/me/verify-email/")
    assert response.status_code == 202
    assert mailoutbox[-1].to == [learner.email]
    learner.email_verified = True
    learner.save(update_fields=["email_verified"])
    response = auth_client.post("/api/me/verify-email/")
    assert response.status_code == 409
    assert response.json()["code"] == "already_verified"
