"""Where the sweep runs: the management command, and inside the server process."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.utils import timezone

from scheduling.models import Booking
from scheduling.services.bookings import booking_request
from skilllink import asgi
from skilllink.wiring.periodic import InProcessJobs
from tests.conftest import access_token_for
from tests.factories import make_learner, make_slot, make_teacher_with_skills


def _request():
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    booking = booking_request(learner=learner, slot_id=make_slot(teacher).pk)
    return booking, learner


def _make_overdue(booking):
    now = timezone.now()
    Booking.objects.filter(pk=booking.pk).update(
        start=now - timedelta(minutes=1), end=now + timedelta(minutes=59)
    )


def _overdue_request():
    booking, learner = _request()
    _make_overdue(booking)
    return booking, learner


@pytest.mark.django_db
def test_sweep_command_runs_once_and_reports(capsys):
    booking, _ = _overdue_request()
    call_command("sweep")
    assert "expired=1" in capsys.readouterr().out
    booking.refresh_from_db()
    assert booking.status == "expired"


@pytest.mark.django_db(transaction=True)
async def test_in_process_sweep_expires_and_pushes_to_sockets_of_this_server(settings):
    settings.SWEEP_IN_PROCESS = True
    settings.SWEEP_INTERVAL_SECONDS = 0.2
    booking, learner = await database_sync_to_async(_request)()
    token = await database_sync_to_async(access_token_for)(learner)
    app = InProcessJobs(asgi.application.app)  # a fresh server instance
    socket = WebsocketCommunicator(app, f"/ws/notifications/?token={token}")
    assert (await socket.connect())[0]  # the first connection starts the sweep loop
    assert (await socket.receive_json_from())["type"] == "unread"
    # Only now does the request fall due, so the push cannot race the socket's joining.
    await database_sync_to_async(_make_overdue)(booking)
    frames = []
    async with asyncio.timeout(5):
        while not any(f.get("notification", {}).get("kind") == "booking.expired" for f in frames):
            frames.append(await socket.receive_json_from(timeout=5))
    assert any(f["type"] == "booking" and f["booking"]["status"] == "expired" for f in frames)
    await socket.disconnect()
    for task in app.tasks:
        task.cancel()
    refreshed = await database_sync_to_async(Booking.objects.get)(pk=booking.pk)
    assert refreshed.status == "expired"
