"""Shared fixtures. Infrastructure that may be missing on a laptop (Redis, Chromium)
skips with a reason; under CI (CI=true) the same absence fails the test."""

import os

import pytest
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.factories import make_learner, make_teacher

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip (laptop) or fail (CI) when a piece of real infrastructure is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI requires it: {reason}", pytrace=False)
    pytest.skip(reason)


def skip_unless_postgres() -> None:
    """For rules only PostgreSQL enforces; CI runs the suite on PostgreSQL too, so they run there."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL-only rule (the CI run on PostgreSQL covers it)")


@pytest.fixture(autouse=True)
def _isolated_state(settings):
    """Each test starts with the in-memory layer and an empty local cache (rate limits)."""
    from django.core.cache import cache

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # Tests drive time themselves; the in-process sweep belongs to real servers.
    settings.SWEEP_IN_PROCESS = False
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}
    }
    from skilllink.ratelimit import ratelimit_reset_local

    cache.clear()
    ratelimit_reset_local()
    yield
    cache.clear()
    # The chat writer's own PostgreSQL connection belongs to this test's event loop.
    from meetings.chat_writer import chat_writer

    chat_writer.close_now()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def access_token_for(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


@pytest.fixture
def learner(db):
    return make_learner()


@pytest.fixture
def teacher(db):
    return make_teacher()


@pytest.fixture
def auth_client(learner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(learner)}")
    return client


__all__ = ["IN_CI", "access_token_for", "override_settings", "require", "skip_unless_postgres"]
