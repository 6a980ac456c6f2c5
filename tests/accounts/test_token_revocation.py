"""Refresh tokens rotate and are good once; logout blacklists one; a password change or a
deactivation revokes every token (access and refresh); only HS256 tokens are accepted."""

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import PASSWORD, make_learner

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "an-Other-long-passphrase-77"


def log_in(client: APIClient, user, password: str = PASSWORD) -> dict:
    response = client.post(
        "/api/auth/token/", {"username": user.username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(client: APIClient, token: str):
    return client.post("/api/auth/token/refresh/", {"refresh": token}, format="json")


def me(access: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/me/")


def assert_refused(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_invalid"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_refresh_rotates_and_the_used_refresh_token_is_refused(api_client, learner):
    tokens = log_in(api_client, learner)
    first = refresh(api_client, tokens["refresh"])
    assert first.status_code == 200, first.content
    assert set(first.json()) == {"access", "refresh"}
    assert first.json()["refresh"] != tokens["refresh"]
    assert me(first.json()["access"]).status_code == 200

    assert_refused(refresh(api_client, tokens["refresh"]))  # used once already
    second = refresh(api_client, first.json()["refresh"])  # the rotated one works, once
    assert second.status_code == 200


def test_logout_blacklists_the_refresh_token(api_client, learner):
    tokens = log_in(api_client, learner)
    response = api_client.post("/api/auth/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 204, response.content
    assert_refused(refresh(api_client, tokens["refresh"]))
    again = api_client.post("/api/auth/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert_refused(again)


@pytest.mark.parametrize("body", [{}, {"refresh": "not-a-token"}, {"refresh": 12}])
def test_logout_refuses_bad_input(api_client, body):
    response = api_client.post("/api/auth/logout/", body, format="json")
    assert response.status_code in {400, 401}
    assert set(response.json()) >= {"code", "detail"}


def test_logout_refuses_an_access_token(api_client, learner):
    tokens = log_in(api_client, learner)
    response = api_client.post("/api/auth/logout/", {"refresh": tokens["access"]}, format="json")
    assert_refused(response)


def test_password_change_revokes_access_and_refresh_tokens(api_client, learner):
    tokens = log_in(api_client, learner)
    rotated = refresh(api_client, tokens["refresh"]).json()
    assert me(rotated["access"]).status_code == 200

    learner.set_password(NEW_PASSWORD)
    learner.save()

    assert_refused(me(tokens["access"]))
    assert_refused(me(rotated["access"]))
    assert_refused(refresh(api_client, rotated["refresh"]))
    fresh = log_in(api_client, learner, NEW_PASSWORD)  # logging in again works at once
    assert me(fresh["access"]).status_code == 200
    assert refresh(api_client, fresh["refresh"]).status_code == 200


def test_password_change_page_revokes_tokens_and_ends_other_sessions(client, learner):
    tokens = log_in(APIClient(), learner)
    other_browser = APIClient()
    other_browser.force_login(learner)
    assert other_browser.get(reverse("dashboard")).status_code == 200

    client.force_login(learner)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content
    assert client.get(reverse("dashboard")).status_code == 200  # this session stays
    ended = other_browser.get(reverse("dashboard"))
    assert ended.status_code == 302 and reverse("accounts:login") in ended["Location"]
    assert_refused(me(tokens["access"]))
    assert_refused(refresh(APIClient(), tokens["refresh"]))


def test_deactivation_revokes_every_token_even_after_reactivation(api_client, learner):
    tokens = log_in(api_client, learner)
    learner.is_active = False
    learner.save(update_fields=["is_active"])
    assert me(tokens["access"]).status_code == 401
    assert refresh(api_client, tokens["refresh"]).status_code == 401

    learner.is_active = True
    learner.save(update_fields=["is_active"])
    assert_refused(me(tokens["access"]))
    assert_refused(refresh(api_client, tokens["refresh"]))


def test_other_users_tokens_survive_a_password_change(api_client, learner):
    other = make_learner()
    tokens = log_in(api_client, other)
    learner.set_password(NEW_PASSWORD)
    learner.save()
    assert me(tokens["access"]).status_code == 200
    assert refresh(api_client, tokens["refresh"]).status_code == 200


def test_alg_none_token_is_refused(learner):
    claims = AccessToken.for_user(learner).payload
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert_refused(me(unsigned))


def test_token_signed_with_hs512_and_the_right_key_is_refused(learner):
    claims = dict(AccessToken.for_user(learner).payload)
    assert_refused(me(jwt.encode(claims, settings.SECRET_KEY, algorithm="HS512")))


def test_rs256_token_and_rs_hs_confusion_are_refused(learner):
    claims = dict(AccessToken.for_user(learner).payload)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert_refused(me(jwt.encode(claims, key, algorithm="RS256")))
    # The classic confusion: an RS256 header over an HMAC made with a key the server holds.
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header, payload = _b64({"alg": "RS256", "typ": "JWT"}), _b64(claims)
    for secret in (settings.SECRET_KEY.encode(), public_pem):
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        forged = f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
        assert_refused(me(forged))


def test_refresh_with_a_non_hs256_token_is_refused(api_client, learner):
    tokens = log_in(api_client, learner)
    claims = jwt.decode(tokens["refresh"], options={"verify_signature": False})
    forged = jwt.encode(claims, settings.SECRET_KEY, algorithm="HS384")
    assert_refused(refresh(api_client, forged))
