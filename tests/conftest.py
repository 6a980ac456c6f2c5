"""Shared fixtures. Infrastructure that may be missing on a laptop (Redis, Chromium)
skips with a reason; under CI (CI=true) the same absence fails the test."""

import asyncio
import contextlib
import json
import os
from datetime import timedelta

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests.factories import make_learner, make_slot, make_teacher, make_teacher_with_skills

IN_CI = os.environ.get("CI", "").lower() == "true"


SLOW_DIRECTORIES = ("e2e", "cluster")
SLOW_MARKS = {"browser", "redis"}


def pytest_collection_modifyitems(config, items):
    """Mark as ``slow`` what starts servers or browsers (``make test-fast`` skips them)."""
    for item in items:
        parts = item.path.parts
        if (
            any(part in parts for part in SLOW_DIRECTORIES)
            or SLOW_MARKS & {mark.name for mark in item.iter_markers()}
            or item.path.name in {"test_make_run.py", "test_slow_client.py"}
        ):
            item.add_marker(pytest.mark.slow)


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
    """An access token for ``user``, minted alone: no refresh token is recorded (the
    blacklist app would otherwise write one row per call, counted by query budgets)."""
    from skilllink.jwt_auth import AccessToken

    return str(AccessToken.for_user(user))


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


def client_for(user) -> APIClient:
    """An API client authenticated as ``user`` with a JWT access token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return client


def scheduled_booking(
    *,
    starts_in: timedelta = timedelta(minutes=5),
    skill: str = "Python",
    teacher_name: str | None = None,
    learner_name: str | None = None,
):
    """(booking, learner, teacher): a session accepted for a 60-minute slot ``starts_in`` from
    now (negative: it began that long ago), through the real services. By default its room
    is open (it opens 10 minutes before the start)."""
    from django.utils import timezone

    from scheduling.services.bookings import booking_request
    from scheduling.transitions import booking_accept

    teacher = make_teacher_with_skills(skill, username=teacher_name)
    learner = make_learner(username=learner_name)
    start = timezone.now().replace(second=0, microsecond=0) + starts_in
    # A session that has already begun was published, requested and accepted an hour
    # before its start.
    then = min(timezone.now(), start - timedelta(hours=1))
    slot = make_slot(teacher, start=start, now=then)
    booking = booking_request(learner=learner, slot_id=slot.pk, now=then)
    booking = booking_accept(booking_id=booking.pk, teacher=teacher, now=then)
    return booking, learner, teacher


# --- Sockets of a live server (the ``websockets`` client) ---------------------------------

FRAME_TIMEOUT = 5.0


async def next_frame(socket, timeout: float = FRAME_TIMEOUT) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def until(
    socket, frame_type: str, check=lambda frame: True, limit: int = 10, timeout=FRAME_TIMEOUT
) -> dict:
    """The next frame of ``frame_type`` that passes ``check``; other frames are skipped."""
    for _ in range(limit):
        frame = await next_frame(socket, timeout)
        if frame["type"] == frame_type and check(frame):
            return frame
    raise AssertionError(f"no matching {frame_type!r} frame in {limit} frames")


async def assert_silent(socket, timeout: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        frame = await next_frame(socket, timeout=timeout)
        pytest.fail(f"expected no frame, got {frame}")


def room_url(server, user, booking_id: int) -> str:
    return f"{server.ws_url}/ws/meetings/{booking_id}/?token={access_token_for(user)}"


async def eventually_all_left(booking_id: int, timeout: float = FRAME_TIMEOUT) -> list:
    """The booking's room visits once every one has a leave time (servers record it on close)."""
    import time

    from channels.db import database_sync_to_async

    from scheduling.models import RoomVisit

    deadline = time.monotonic() + timeout
    while True:
        visits = await database_sync_to_async(
            lambda: list(
                RoomVisit.objects.filter(booking_id=booking_id).values_list("user_id", "left_at")
            )
        )()
        if all(left_at is not None for _, left_at in visits) or time.monotonic() > deadline:
            assert all(left_at is not None for _, left_at in visits), visits
            return visits
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def room_socket(server, user, booking_id: int):
    """A participant's room socket on a live server (a script: JWT in ``?token=``), after its
    ``room`` frame (kept as ``socket.room``)."""
    import websockets

    url = room_url(server, user, booking_id)
    async with websockets.connect(url, open_timeout=5, close_timeout=2) as socket:
        room = await next_frame(socket)
        assert room["type"] == "room", room
        socket.room = room
        yield socket


# --- Redis -------------------------------------------------------------------------------


@pytest.fixture
def redis_url(settings) -> str:
    """The shared Redis for tests about fan-out (flushed), with this test process's channel
    layer on it too, so what the test's own code sends reaches the servers' sockets."""
    from tests.live_server import (
        pubsub_layer_settings,
        redis_flush,
        redis_reachable,
        redis_test_url,
    )

    url = redis_test_url()
    require(redis_reachable(url), f"Redis not reachable at {url}")
    redis_flush(url)
    settings.CHANNEL_LAYERS = pubsub_layer_settings(url)
    return url


@pytest.fixture
def private_redis():
    """A redis-server of this test's own (to stop and start: an outage); never the shared one."""
    from tests.live_server import PrivateRedis, redis_server_available

    require(redis_server_available(), "redis-server is not installed")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster of this test's own, migrated, with its database at ``.url`` (to
    stop and start: an outage); never the shared server."""
    import subprocess

    from tests.live_server import PYTHON, PrivatePostgres, postgres_bin_dir

    require(postgres_bin_dir() is not None, "PostgreSQL's initdb/pg_ctl are not installed")
    server = PrivatePostgres()
    try:
        server.create()
        env = {**os.environ, "DATABASE_URL": server.url, "DEBUG": "1"}
        subprocess.run(
            [str(PYTHON), "manage.py", "migrate", "--noinput", "-v", "0"],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
        yield server
    finally:
        server.destroy()


__all__ = [
    "IN_CI",
    "access_token_for",
    "assert_silent",
    "client_for",
    "eventually_all_left",
    "next_frame",
    "override_settings",
    "require",
    "room_socket",
    "room_url",
    "scheduled_booking",
    "skip_unless_postgres",
    "until",
]
