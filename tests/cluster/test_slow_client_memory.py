"""Clients that stop reading cost the server bounded memory, and give it back.

One server on the Redis pub/sub layer. In each episode a learner's socket stops reading
(a 4 KB receive buffer, nothing read after its ``room`` frame) while the teacher sends
60 KB signal frames as fast as the server takes them: the server must bound what it
holds for the stalled socket (``SOCKET_INBOX_BYTES``), cut it off, and release its
buffers and group memberships. After several episodes the server's resident memory is
back near where it was after the first one (before the fix every episode left ~46 MB).
"""

import asyncio
import json
import socket
from pathlib import Path

import pytest
import websockets
from channels.db import database_sync_to_async

from tests.conftest import access_token_for, eventually_all_left, next_frame, scheduled_booking
from tests.live_server import live_servers

pytestmark = pytest.mark.redis

EPISODES = 5
SIGNAL = {"description": {"type": "offer", "sdp": "a" * 60_000}}
# What the server may keep per episode (interpreter and allocator noise included).
ALLOWED_GROWTH_MB = 25


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def stalled_socket(url: str, port: int):
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", port))
    stalled = await websockets.connect(url, sock=raw, max_queue=1, ping_interval=None)
    assert (await next_frame(stalled))["type"] == "room"
    return stalled


async def episode(server, booking, learner, teacher) -> int:
    """One stalled learner, flooded until the server drops it; returns frames sent."""
    base = f"{server.ws_url}/ws/meetings/{booking.pk}/?token="
    stalled = await stalled_socket(base + access_token_for(learner), server.port)
    frame = json.dumps({"type": "signal", "data": SIGNAL})
    sent = 0
    async with websockets.connect(base + access_token_for(teacher), max_size=None) as active:
        assert (await next_frame(active))["type"] == "room"
        gone = False
        while not gone:
            for _ in range(10):
                await active.send(frame)
            sent += 10
            assert sent < 20_000, "the stalled learner was never cut off"
            # The teacher reads its own frames: presence tells when the learner is gone.
            while True:
                try:
                    message = await next_frame(active, timeout=0.01)
                except TimeoutError:
                    break
                if message["type"] == "presence" and message["participants"] == [teacher.pk]:
                    gone = True
    stalled.transport.abort()
    await eventually_all_left(booking.pk)  # the server has finished the disconnects
    return sent


@pytest.mark.django_db(transaction=True)
async def test_memory_returns_to_its_baseline_after_repeated_stalled_clients(redis_url):
    booking, learner, teacher = await database_sync_to_async(scheduled_booking)()
    with live_servers() as start:
        server = await asyncio.to_thread(
            start,
            redis_url=redis_url,
            extra_env={
                "SOCKET_SEND_TIMEOUT": "2",
                "SOCKET_INBOX_BYTES": str(1024 * 1024),
                # The flood is the point here: the frame limits would refuse it first.
                "SOCKET_SIGNAL_SDP_BYTES": str(64 * 1024),
                "SOCKET_SIGNAL_RATE": "1000000/1",
            },
        )
        pid = server.process.pid
        await episode(server, booking, learner, teacher)  # warms up: imports, pools, caches
        baseline = resident_mb(pid)
        readings = []
        for _ in range(EPISODES):
            await episode(server, booking, learner, teacher)
            readings.append(round(resident_mb(pid), 1))
        print(f"RSS baseline {baseline:.1f} MB, after each episode {readings}")
        assert readings[-1] - baseline < ALLOWED_GROWTH_MB, (baseline, readings)
