"""The meeting room across two server processes on Redis: chat, signaling, presence, refusals.

The learner's socket is on server A and the teacher's on server B (scripts: no
Origin, JWT in ``?token=``), so every frame one sees from the other crossed the
Redis pub/sub layer.
"""

import json
import time

import pytest
import websockets
from channels.db import database_sync_to_async

from meetings.models import ChatMessage
from scheduling.models import Booking
from tests.conftest import (
    assert_silent,
    eventually_all_left,
    next_frame,
    room_socket,
    room_url,
    scheduled_booking,
    until,
)
from tests.factories import make_learner

pytestmark = pytest.mark.redis


async def scheduled() -> tuple[Booking, object, object]:
    return await database_sync_to_async(scheduled_booking)()


async def test_participants_on_two_servers_share_chat_signals_and_presence(cluster):
    server_a, server_b = cluster
    booking, learner, teacher = await scheduled()
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
