"""A client that stops reading is cut off, and the room goes on without it.

One real server (in-memory layer). The learner's socket has a tiny receive buffer
and stops reading after its ``room`` frame; the teacher sends chat the server must
forward to both. Once the server cannot write to the learner for
``SOCKET_SEND_TIMEOUT`` seconds it ends that connection through the normal
disconnect path: the visit gets its leave time and the teacher sees the learner
leave, while the teacher's own socket keeps working.
"""

import asyncio
import json
import socket
import time

import pytest
import websockets
from channels.db import database_sync_to_async

from scheduling.models import RoomVisit
from tests.conftest import access_token_for, next_frame, scheduled_booking
from tests.live_server import live_servers

# 2,000 four-byte characters: 8 KB a frame, so the kernel's buffers fill in a few
# hundred frames.
HEAVY_TEXT = "\N{GRINNING FACE}" * 2000


@database_sync_to_async
def booking_and_tokens():
    booking, learner, teacher = scheduled_booking()
    return booking, learner, teacher, access_token_for(learner), access_token_for(teacher)


async def frame(ws, timeout: float = 10.0) -> dict:
    return await next_frame(ws, timeout)


@pytest.mark.django_db(transaction=True)
async def test_a_client_that_stops_reading_is_disconnected_and_the_room_goes_on():
    booking, learner, teacher, learner_token, teacher_token = await booking_and_tokens()
    with live_servers() as start:
        server = await asyncio.to_thread(
            start, extra_env={"SOCKET_SEND_TIMEOUT": "1", "CHAT_RATE_LIMIT": "100000/10"}
        )
        path = f"/ws/meetings/{booking.pk}/?token="

        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: small window
        raw.setblocking(False)
        await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", server.port))
        # max_queue=1: the client library stops reading the socket once one frame waits.
        stalled = await websockets.connect(
            server.ws_url + path + learner_token, sock=raw, max_queue=1, ping_interval=None
        )
        assert (await frame(stalled))["type"] == "room"

        async with websockets.connect(server.ws_url + path + teacher_token) as active:
            assert (await frame(active))["type"] == "room"
            left = None
            deadline = time.monotonic() + 60
            sent = 0
            while left is None and time.monotonic() < deadline:
                for _ in range(20):
                    await active.send(json.dumps({"type": "chat.send", "text": HEAVY_TEXT}))
                sent += 20
                # Read what the server sends the teacher: its own 20 messages back, and
                # presence frames; the learner's departure may come at any point.
                echoed = 0
                while echoed < 20:
                    message = await frame(active)
                    if message["type"] == "chat.message":
                        echoed += 1
                    elif message["participants"] == [teacher.pk]:
                        left = message
            assert left is not None, f"the stalled learner was never cut off ({sent} messages sent)"

            visit = await database_sync_to_async(
                lambda: RoomVisit.objects.get(booking=booking, user=learner)
            )()
            assert visit.left_at is not None

            # The teacher's socket is unaffected.
            await active.send(json.dumps({"type": "chat.send", "text": "still here"}))
            while True:
                message = await frame(active)
                if message["type"] == "chat.message" and message["message"]["text"] == "still here":
                    break
        stalled.transport.abort()
