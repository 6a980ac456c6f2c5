"""The meeting room across two server processes on Redis: chat, signaling, presence, refusals.

The learner's socket is on server A and the teacher's on server B (scripts: no
Origin, JWT in ``?token=``), so every frame one sees from the other crossed the
Redis pub/sub layer.
"""

import asyncio
import contextlib
import json
import time
from datetime import timedelta

import pytest
import websockets
from channels.db import database_sync_to_async
from django.utils import timezone

from meetings.models import ChatMessage, RoomVisit
from scheduling.models import Booking
from scheduling.services.bookings import booking_request
from scheduling.transitions import booking_accept
from tests.conftest import access_token_for
from tests.factories import make_learner, make_slot, make_teacher_with_skills

pytestmark = pytest.mark.redis

FRAME_TIMEOUT = 5.0
QUIET = 0.5  # long enough for a wrongly relayed frame to arrive across processes


@database_sync_to_async
def scheduled_booking() -> tuple[Booking, object, object]:
    """A booking accepted for a slot 5 minutes from now: its room is open (opens 10 min before)."""
    teacher = make_teacher_with_skills("Python")
    learner = make_learner()
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
    slot = make_slot(teacher, start=start)
    booking = booking_request(learner=learner, slot_id=slot.pk)
    booking_accept(booking_id=booking.pk, teacher=teacher)
    return booking, learner, teacher


async def next_frame(socket, timeout: float = FRAME_TIMEOUT) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def until(socket, frame_type: str, check=lambda frame: True, limit: int = 10) -> dict:
    """The next frame of ``frame_type`` that passes ``check``; other frames are skipped."""
    for _ in range(limit):
        frame = await next_frame(socket)
        if frame["type"] == frame_type and check(frame):
            return frame
    raise AssertionError(f"no matching {frame_type!r} frame in {limit} frames")


async def assert_silent(socket, timeout: float = QUIET) -> None:
    with pytest.raises(TimeoutError):
        frame = await next_frame(socket, timeout=timeout)
        pytest.fail(f"expected no frame, got {frame}")


async def eventually_all_left(booking_id: int, timeout: float = FRAME_TIMEOUT) -> list:
    """The booking's visits once every one has a leave time (the servers record it on close)."""
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


def room_url(server, user, booking_id: int) -> str:
    return f"{server.ws_url}/ws/meetings/{booking_id}/?token={access_token_for(user)}"


@contextlib.asynccontextmanager
async def room_socket(server, user, booking_id: int):
    """A participant's socket that has had its ``room`` frame (sent first, with the history)."""
    url = await database_sync_to_async(room_url)(server, user, booking_id)
    async with websockets.connect(url, open_timeout=5, close_timeout=2) as socket:
        room = await next_frame(socket)
        assert room["type"] == "room", room
        socket.room = room
        yield socket


async def test_participants_on_two_servers_share_chat_signals_and_presence(cluster):
    server_a, server_b = cluster
    booking, learner, teacher = await scheduled_booking()
    both = sorted([learner.pk, teacher.pk])

    async with room_socket(server_a, learner, booking.pk) as on_a:
        assert on_a.room["you"] == learner.pk and on_a.room["peer"] == teacher.pk
        assert on_a.room["polite"] is True and on_a.room["history"] == []
        assert on_a.room["booking"]["status"] == "in_progress"  # the first join started it
        assert (await until(on_a, "presence"))["participants"] == [learner.pk]

        async with room_socket(server_b, teacher, booking.pk) as on_b:
            assert on_b.room["you"] == teacher.pk and on_b.room["peer"] == learner.pk
            assert on_b.room["polite"] is False
            # Presence comes from the visits table, so both servers agree.
            assert (await until(on_b, "presence"))["participants"] == both
            assert (await until(on_a, "presence"))["participants"] == both

            # Chat from A reaches both, saved first (same id on both sides).
            sent = time.perf_counter()
            await on_a.send(json.dumps({"type": "chat.send", "text": "Hi from server A"}))
            on_b_message = (await until(on_b, "chat.message"))["message"]
            crossed_ms = (time.perf_counter() - sent) * 1000
            on_a_message = (await until(on_a, "chat.message"))["message"]
            assert on_a_message == on_b_message
            assert on_b_message["text"] == "Hi from server A"
            assert on_b_message["sender"] == learner.pk
            assert on_b_message["sender_name"] == learner.username

            # And from B to both.
            await on_b.send(json.dumps({"type": "chat.send", "text": "<b>Hello</b> from B"}))
            for socket in (on_a, on_b):
                message = (await until(socket, "chat.message"))["message"]
                assert message["text"] == "<b>Hello</b> from B"
                assert message["sender"] == teacher.pk
            stored = await database_sync_to_async(
                lambda: list(ChatMessage.objects.values_list("sender_id", "text"))
            )()
            assert stored == [
                (learner.pk, "Hi from server A"),
                (teacher.pk, "<b>Hello</b> from B"),
            ]

            # Signals: relayed to the other participant only, never echoed to the sender.
            offer = {"description": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n"}}
            await on_a.send(json.dumps({"type": "signal", "data": offer}))
            assert await next_frame(on_b) == {"type": "signal", "from": learner.pk, "data": offer}
            await assert_silent(on_a)

            answer = {"description": {"type": "answer", "sdp": "v=0\r\n"}}
            candidate = {
                "candidate": {
                    "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host",
                    "sdpMid": "0",
                    "sdpMLineIndex": 0,
                }
            }
            await on_b.send(json.dumps({"type": "signal", "data": answer}))
            await on_b.send(json.dumps({"type": "signal", "data": candidate}))
            assert await next_frame(on_a) == {"type": "signal", "from": teacher.pk, "data": answer}
            assert await next_frame(on_a) == {
                "type": "signal",
                "from": teacher.pk,
                "data": candidate,
            }
            await assert_silent(on_b)

            # A third user is refused on either server: accepted only to close with 4403.
            stranger = await database_sync_to_async(make_learner)()
            for server in (server_a, server_b):
                url = await database_sync_to_async(room_url)(server, stranger, booking.pk)
                async with websockets.connect(url, open_timeout=5, close_timeout=2) as socket:
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await next_frame(socket)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
            # ...and nobody in the room heard about it.
            await assert_silent(on_a, timeout=0.2)
            await assert_silent(on_b, timeout=0.2)

            # A rejoin (on the other server) gets the history in its room frame.
            async with room_socket(server_a, teacher, booking.pk) as again:
                assert [m["text"] for m in again.room["history"]] == [
                    "Hi from server A",
                    "<b>Hello</b> from B",
                ]

        # The teacher left server B (both teacher sockets are closed now): A hears it.
        await until(on_a, "presence", lambda frame: frame["participants"] == [learner.pk])

    # Every visit (learner, teacher twice) is closed once its socket is: attendance is kept.
    visits = await eventually_all_left(booking.pk)
    assert sorted(user_id for user_id, _ in visits) == sorted([learner.pk, teacher.pk, teacher.pk])
    print(f"chat A→B across processes: {crossed_ms:.1f} ms")
