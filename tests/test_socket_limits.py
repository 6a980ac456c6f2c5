"""What one socket, and one address, may send and open (issue 14, point 5).

On the real ASGI app with the in-memory layer: signaling, chat, assistant and ping frames
spend from per-socket token buckets and are capped in size per kind; a refused frame gets
an ``error`` frame (``rate_limited`` / ``too_large``) and the socket stays open, until
too many refusals close it with 4429. An address may hold ``SOCKETS_PER_ADDRESS`` sockets.
"""

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from skilllink.asgi import application
from skilllink.sockets import CLOSE_ABUSE, TokenBucket
from tests.conftest import access_token_for, scheduled_booking
from tests.factories import make_learner

pytestmark = pytest.mark.django_db(transaction=True)

CANDIDATE = {
    "candidate": {
        "candidate": "candidate:842163049 1 udp 1677729535 203.0.113.5 46154 typ srflx "
        "raddr 10.0.0.5 rport 46154 generation 0 ufrag abcd network-cost 999",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "abcd",
    }
}


def offer(sdp_bytes: int) -> dict:
    return {"description": {"type": "offer", "sdp": "v=0\r\n" + "a" * sdp_bytes}}


async def socket_for(path: str, user, address: str = "203.0.113.9") -> WebsocketCommunicator:
    token = await database_sync_to_async(access_token_for)(user)
    socket = WebsocketCommunicator(application, f"{path}?token={token}")
    socket.scope["client"] = (address, 50000)
    return socket


async def room_pair():
    """Both participants in an open room, past their presence frames."""
    booking, learner, teacher = await database_sync_to_async(scheduled_booking)(
        starts_in=timedelta(minutes=5)
    )
    sockets = []
    for user in (learner, teacher):
        socket = await socket_for(f"/ws/meetings/{booking.pk}/", user)
        assert (await socket.connect())[0]
        assert (await socket.receive_json_from())["type"] == "room"
        sockets.append(socket)
    learner_socket, teacher_socket = sockets
    await drain(learner_socket)
    await drain(teacher_socket)
    return learner_socket, teacher_socket


async def drain(socket, timeout: float = 0.3) -> list[dict]:
    """Every frame that arrives until ``timeout`` passes without one."""
    frames = []
    while not await socket.receive_nothing(timeout=timeout):
        frames.append(await socket.receive_json_from())
    return frames


async def closed_with(socket) -> int:
    """Read until the close; its code."""
    for _ in range(500):
        message = await socket.receive_output(timeout=2)
        if message["type"] == "websocket.close":
            return message["code"]
    raise AssertionError("the socket was never closed")


def test_token_bucket_gives_a_burst_then_the_average():
    bucket = TokenBucket("5/10")
    assert [bucket.take() for _ in range(5)] == [0.0] * 5
    wait = bucket.take()
    assert 1.9 < wait <= 2.0  # one frame every 2 seconds after the burst
    bucket.stamp -= 2.0  # two seconds later: one more frame
    assert bucket.take() == 0.0
    assert bucket.take() > 0


async def test_a_normal_negotiation_passes_the_signal_limits():
    learner, teacher = await room_pair()
    frames = [offer(6000), *[CANDIDATE] * 40, {"candidate": None}]
    for data in frames:
        await learner.send_json_to({"type": "signal", "data": data})
    relayed = [frame for frame in await drain(teacher) if frame["type"] == "signal"]
    assert [frame["data"] for frame in relayed] == frames
    assert not [frame for frame in await drain(learner) if frame["type"] == "error"]
    await learner.disconnect()
    await teacher.disconnect()


async def test_a_signal_flood_is_refused_then_the_socket_is_closed(settings):
    settings.SOCKET_SIGNAL_RATE = "10/1000"  # a burst of 10, then (almost) nothing
    settings.SOCKET_REFUSALS = "5/1000"
    learner, teacher = await room_pair()
    for _ in range(30):
        await learner.send_json_to({"type": "signal", "data": CANDIDATE})
    errors = []
    while True:
        message = await learner.receive_output(timeout=2)
        if message["type"] == "websocket.close":
            code = message["code"]
            break
        frame = json.loads(message["text"])
        if frame["type"] == "error":
            errors.append(frame)
    assert code == CLOSE_ABUSE
    assert len(errors) == 5
    assert {frame["code"] for frame in errors} == {"rate_limited"}
    assert all(frame["retry_after"] > 0 for frame in errors)
    relayed = [frame for frame in await drain(teacher) if frame["type"] == "signal"]
    assert len(relayed) == 10  # the burst, nothing of the flood
    await teacher.disconnect()


async def test_oversized_signals_are_refused_by_kind_and_the_socket_stays_open(settings):
    learner, teacher = await room_pair()
    big_candidate = {"candidate": {**CANDIDATE["candidate"], "candidate": "c" * 1100}}
    await learner.send_json_to({"type": "signal", "data": big_candidate})
    refused = await learner.receive_json_from()
    assert (refused["type"], refused["code"], refused["limit"]) == ("error", "too_large", 1024)
    await learner.send_json_to({"type": "signal", "data": offer(17 * 1024)})
    refused = await learner.receive_json_from()
    assert (refused["code"], refused["limit"]) == ("too_large", 16 * 1024)
    assert not [frame for frame in await drain(teacher) if frame["type"] == "signal"]
    # Below the caps they pass, on the same socket.
    await learner.send_json_to({"type": "signal", "data": offer(12 * 1024)})
    relayed = [frame for frame in await drain(teacher) if frame["type"] == "signal"]
    assert len(relayed) == 1 and len(relayed[0]["data"]["description"]["sdp"]) > 12 * 1024
    await learner.disconnect()
    await teacher.disconnect()


async def test_assistant_frames_are_rate_limited_per_socket(settings):
    settings.SOCKET_FRAME_RATE = "5/1000"
    learner, teacher = await room_pair()
    for _ in range(8):
        await learner.send_json_to({"type": "assistant.stop"})
    errors = [frame for frame in await drain(learner) if frame["type"] == "error"]
    assert [frame["code"] for frame in errors] == ["rate_limited"] * 3
    # Another kind with its own bucket still passes: chat.
    await learner.send_json_to({"type": "chat.send", "text": "still here"})
    assert any(frame["type"] == "chat.message" for frame in await drain(learner))
    await learner.disconnect()
    await teacher.disconnect()


async def test_notification_socket_pings_are_limited_too(settings):
    settings.SOCKET_FRAME_RATE = "3/1000"
    user = await database_sync_to_async(make_learner)()
    socket = await socket_for("/ws/notifications/", user)
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from())["type"] == "unread"
    for _ in range(5):
        await socket.send_json_to({"type": "ping"})
    frames = await drain(socket)
    assert [frame["type"] for frame in frames] == ["pong"] * 3 + ["error"] * 2
    assert {frame.get("code") for frame in frames[3:]} == {"rate_limited"}
    await socket.disconnect()


async def test_garbage_frames_count_toward_closing_the_socket(settings):
    settings.SOCKET_REFUSALS = "3/1000"
    user = await database_sync_to_async(make_learner)()
    socket = await socket_for("/ws/notifications/", user)
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    for _ in range(4):
        await socket.send_to(text_data="not json")
    assert await closed_with(socket) == CLOSE_ABUSE


async def test_an_address_may_hold_only_so_many_sockets(settings):
    settings.SOCKETS_PER_ADDRESS = 2
    user = await database_sync_to_async(make_learner)()
    first = await socket_for("/ws/notifications/", user)
    second = await socket_for("/ws/notifications/", user)
    for socket in (first, second):
        assert (await socket.connect())[0]
        await socket.receive_json_from()
    third = await socket_for("/ws/notifications/", user)
    await third.connect()
    assert await closed_with(third) == CLOSE_ABUSE
    # Another address is not affected.
    elsewhere = await socket_for("/ws/notifications/", user, address="198.51.100.7")
    assert (await elsewhere.connect())[0]
    assert (await elsewhere.receive_json_from())["type"] == "unread"
    # A socket that ends gives its place back.
    await first.disconnect()
    for _ in range(50):
        if cache.get("sockets:203.0.113.9") == 1:
            break
        await asyncio.sleep(0.02)
    again = await socket_for("/ws/notifications/", user)
    assert (await again.connect())[0]
    assert (await again.receive_json_from())["type"] == "unread"
    for socket in (second, elsewhere, again):
        await socket.disconnect()
    await asyncio.sleep(0.1)
    assert cache.get("sockets:203.0.113.9") == 0


async def test_refused_unauthenticated_sockets_do_not_hold_an_addresss_places(settings):
    settings.SOCKETS_PER_ADDRESS = 1
    for _ in range(3):
        socket = WebsocketCommunicator(application, "/ws/notifications/")
        socket.scope["client"] = ("203.0.113.10", 1)
        await socket.connect()
        assert await closed_with(socket) == 4401
        await socket.wait()
    await asyncio.sleep(0.1)
    assert cache.get("sockets:203.0.113.10") == 0
