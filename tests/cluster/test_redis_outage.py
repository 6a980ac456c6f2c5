"""A Redis outage loses no chat and stops nothing for good.

Two servers on a redis-server of the test's own (the shared one is never stopped): the
learner's room socket on A, the teacher's room and notification sockets on B. Redis is
killed mid-session and started again. While it is down, each chat message is still
saved and shown to its sender, who is told live delivery is interrupted; once it is
back, delivery resumes on the same sockets (no reconnect, no page reload) and each side
catches up from the database with what it missed, including the bell.
"""

import asyncio
import contextlib
import json
import time

import pytest
import websockets
from channels.db import database_sync_to_async

from accounts.services import notification_send
from meetings.models import ChatMessage
from tests.conftest import (
    access_token_for,
    next_frame,
    room_socket,
    scheduled_booking,
    until,
)
from tests.live_server import live_servers, pubsub_layer_settings

pytestmark = pytest.mark.redis

RECOVERY_TIMEOUT = 30.0


async def texts_seen(
    socket, wanted: set[str], timeout: float, seen: set[str] | None = None
) -> set[str]:
    """Read chat messages from ``socket`` into ``seen`` until every text in ``wanted`` is in it."""
    seen = set() if seen is None else seen
    deadline = time.monotonic() + timeout
    while not wanted <= seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"still missing {sorted(wanted - seen)} after {timeout:.0f} s")
        try:
            frame = await next_frame(socket, timeout=left)
        except TimeoutError:
            continue
        if frame["type"] == "chat.message":
            seen.add(frame["message"]["text"])
    return seen


async def send_chat(socket, text: str) -> None:
    await socket.send(json.dumps({"type": "chat.send", "text": text}))


@pytest.mark.django_db(transaction=True)
async def test_chat_and_notifications_recover_from_a_redis_outage_without_reconnecting(
    private_redis, settings
):
    settings.CHANNEL_LAYERS = pubsub_layer_settings(private_redis.url)
    booking, learner, teacher = await database_sync_to_async(scheduled_booking)()
    with live_servers() as start:
        server_a = await asyncio.to_thread(start, redis_url=private_redis.url)
        server_b = await asyncio.to_thread(start, redis_url=private_redis.url)
        bell_url = f"{server_b.ws_url}/ws/notifications/?token={access_token_for(teacher)}"
        async with (
            room_socket(server_a, learner, booking.pk) as on_a,
            room_socket(server_b, teacher, booking.pk) as on_b,
            websockets.connect(bell_url, open_timeout=5) as bell,
        ):
            assert (await next_frame(bell))["type"] == "unread"
            both = sorted([learner.pk, teacher.pk])
            await until(on_a, "presence", lambda f: f["participants"] == both)
            await send_chat(on_b, "before")
            await texts_seen(on_a, {"before"}, timeout=5)

            private_redis.stop()

            # Each message sent during the outage is saved and shown to its sender, with a
            # clear word that the other side will only see it later.
            for socket, text in ((on_b, "teacher during"), (on_a, "learner during")):
                await send_chat(socket, text)
                own = await until(
                    socket, "chat.message", lambda f, t=text: f["message"]["text"] == t
                )
                delayed = await until(socket, "error")
                assert delayed["code"] == "chat_delayed"
                assert delayed["message_id"] == own["message"]["id"]
            await database_sync_to_async(notification_send)(
                user=teacher, kind="test.outage", title="Sent while Redis was down"
            )

            private_redis.start()

            # Delivery resumes on the same sockets, and what was missed arrives too.
            deadline = time.monotonic() + RECOVERY_TIMEOUT
            seen_by_a: set[str] = set()
            attempt = 0
            while not any(text.startswith("teacher after#") for text in seen_by_a):
                assert time.monotonic() < deadline, "live delivery never resumed"
                attempt += 1
                await send_chat(on_b, f"teacher after#{attempt}")
                with contextlib.suppress(AssertionError):
                    await texts_seen(on_a, {f"teacher after#{attempt}"}, 1, seen_by_a)
            await texts_seen(on_a, {"teacher during"}, RECOVERY_TIMEOUT, seen_by_a)
            assert await texts_seen(on_b, {"learner during"}, timeout=RECOVERY_TIMEOUT)

            # The bell caught up from the database: the notification and the unread count.
            caught_up = await until(
                bell,
                "notification",
                lambda f: f["notification"]["title"] == "Sent while Redis was down",
                limit=20,
                timeout=RECOVERY_TIMEOUT,
            )
            assert caught_up["notification"]["kind"] == "test.outage"
            unread = await until(bell, "unread", timeout=RECOVERY_TIMEOUT)
            assert unread["count"] >= 1

            # Nothing was lost: every message is saved, in the order it was sent.
            stored = await database_sync_to_async(
                lambda: list(
                    ChatMessage.objects.filter(booking=booking)
                    .order_by("pk")
                    .values_list("text", flat=True)
                )
            )()
            assert stored[:3] == ["before", "teacher during", "learner during"]
