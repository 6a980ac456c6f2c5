"""Outages degrade, never crash (issue 14, point 6), without servers: a cache and a channel
layer on a Redis address where nothing listens (as when Redis is down).

The outages of a running Redis and PostgreSQL, stopped and started again under live
servers, are in ``tests/cluster/test_outages.py``.
"""

import logging

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from skilllink.ratelimit import (
    counter_add,
    counter_get,
    once_per,
    rate_limit_hit,
    socket_slot_claim,
)
from tests.factories import PASSWORD, make_learner
from tests.live_server import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_down(settings):
    """The cache is Redis, and Redis does not answer."""
    working = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    yield
    settings.CACHES = working  # the shared teardown clears the cache


def test_rate_limits_fail_open_with_a_log_line_while_the_cache_is_down(cache_down, caplog):
    with caplog.at_level(logging.WARNING, logger="skilllink.ratelimit"):
        for _ in range(5):
            rate_limit_hit(scope="t", limit=1, window=60, message="no")  # never raises
        assert counter_add(scope="t", window=60) == 0
        assert counter_get(scope="t", window=60)[0] == 0
        assert once_per(scope="t", seconds=60) is True
        assert socket_slot_claim(address="192.0.2.1", limit=0) is True
    assert "rate limits let requests through" in caplog.text


def test_login_works_while_the_cache_is_down(cache_down):
    make_learner(username="ada")
    page = Client(REMOTE_ADDR="192.0.2.5")
    response = page.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
    assert response.status_code == 302
    assert page.get(reverse("dashboard")).status_code == 200
    api = APIClient(REMOTE_ADDR="192.0.2.5")
    assert (
        api.post(
            "/api/auth/token/", {"username": "ada", "password": PASSWORD}, format="json"
        ).status_code
        == 200
    )
    wrong = api.post(
        "/api/auth/token/", {"username": "ada", "password": "wrong-password"}, format="json"
    )
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")


def test_health_names_the_cache_when_it_is_down(cache_down, client):
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "cache": "down",
        "channel_layer": "ok",
    }


def test_health_names_the_channel_layer_when_its_redis_is_down(settings, client):
    from tests.live_server import pubsub_layer_settings

    settings.CHANNEL_LAYERS = pubsub_layer_settings(f"redis://127.0.0.1:{free_port()}/0")
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json()["channel_layer"] == "down"
    assert response.json()["database"] == "ok"


def test_health_is_ok_on_a_live_redis(redis_url, settings, client):
    working = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "healthz-test",
        }
    }
    response = client.get("/healthz/")
    assert response.status_code == 200, response.json()
    assert response.json()["cache"] == response.json()["channel_layer"] == "ok"
    settings.CACHES = working
