"""Bad, expired, tampered and unsigned tokens are all 401 token_invalid."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import access_token_for

pytestmark = pytest.mark.django_db


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def get_me(api_client, token: str):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api_client.get("/api/me/")


def assert_token_invalid(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_invalid"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_no_credentials_is_not_authenticated(api_client):
    response = api_client.get("/api/me/")
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }


def test_good_token_works(api_client, learner):
    assert get_me(api_client, access_token_for(learner)).status_code == 200


def test_garbage_token(api_client):
    assert_token_invalid(get_me(api_client, "not-a-jwt"))


def test_expired_token(api_client, learner):
    token = AccessToken.for_user(learner)
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert_token_invalid(get_me(api_client, str(token)))


def test_tampered_payload_keeps_old_signature(api_client, learner, teacher):
    header, payload, signature = access_token_for(learner).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["user_id"] = str(teacher.pk)
    assert_token_invalid(get_me(api_client, f"{header}.{_b64(claims)}.{signature}"))


def test_alg_none_token_is_refused(api_client, learner):
    claims = AccessToken.for_user(learner).payload
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert_token_invalid(get_me(api_client, unsigned))


def test_token_signed_with_another_key_is_refused(api_client, learner):
    claims = dict(AccessToken.for_user(learner).payload)
    forged = jwt.encode(claims, "some-other-secret-key-of-sufficient-length", algorithm="HS256")
    assert_token_invalid(get_me(api_client, forged))


def test_refresh_token_is_not_an_access_token(api_client, learner):
    from rest_framework_simplejwt.tokens import RefreshToken

    assert_token_invalid(get_me(api_client, str(RefreshToken.for_user(learner))))


def test_token_of_deactivated_user_is_refused(api_client, learner):
    token = access_token_for(learner)
    learner.is_active = False
    learner.save(update_fields=["is_active"])
    response = get_me(api_client, token)
    assert response.status_code == 401


def test_signing_key_is_the_secret_key():
    assert settings.SIMPLE_JWT["SIGNING_KEY"] == settings.SECRET_KEY
