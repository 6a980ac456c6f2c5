"""Room sockets for the assistant tests: a scheduled booking whose room is open, and its
two participants connected through the real ASGI app."""

from datetime import timedelta

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from scheduling.services.bookings import booking_request
from scheduling.transitions import booking_accept
from skilllink.asgi import application
from tests.conftest import access_token_for
from tests.factories import make_learner, make_slot, make_teacher_with_skills


def _scheduled(message: str = "", starts_in: timedelta = timedelta(minutes=5)):
    """``(booking, learner, teacher)``: a Python session with ``message`` accepted for a
    60-minute slot ``starts_in`` from now (negative: it began that long ago; it was then
    published, requested and accepted an hour before its start, as in tests.conftest)."""
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    start = timezone.now().replace(second=0, microsecond=0) + starts_in
    then = min(timezone.now(), start - timedelta(hours=1))
    slot = make_slot(teacher, start=start, skill_slug="python", now=then)
    booking = booking_request(learner=learner, slot_id=slot.pk, message=message, now=then)
    booking = booking_accept(booking_id=booking.pk, teacher=teacher, now=then)
    return booking, learner, teacher


async def scheduled(message: str = ""):
    """``(booking, learner, teacher)``: accepted, starting in 5 minutes (the room is open)."""
    return await database_sync_to_async(_scheduled)(message)


async def enter(user, booking_id):
    """A connected room socket (its ``room`` frame read) and the frame's ``assistant`` part."""
    token = await database_sync_to_async(access_token_for)(user)
    socket = WebsocketCommunicator(application, f"/ws/meetings/{booking_id}/?token={token}")
    connected, _ = await socket.connect()
    assert connected
    room = await socket.receive_json_from()
    assert room["type"] == "room"
    return socket, room["assistant"]


async def frames_until(socket, frame_type, *, limit=200, timeout=5):
    """Every frame up to and including the first of ``frame_type``."""
    frames = []
    for _ in range(limit):
        frame = await socket.receive_json_from(timeout=timeout)
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames
    raise AssertionError(f"no {frame_type} frame in {limit}: {[f['type'] for f in frames]}")


async def until(socket, frame_type, **kwargs):
    return (await frames_until(socket, frame_type, **kwargs))[-1]


def of_type(frames, *types):
    return [frame for frame in frames if frame["type"] in types]
