"""The assistant across two server processes on Redis: an answer streamed by the asker's
server reaches the other participant's socket on the other server, in order; a stop
sent to the other server cancels it; a second question sent to the other server while
it streams is refused (the claim lives in the database, not in either process)."""

import asyncio
import json

import pytest
import websockets
from channels.db import database_sync_to_async

from assistant.models import Exchange
from tests.assistant.fake_gemini import FakeGemini, Reply
from tests.assistant.rooms import scheduled
from tests.conftest import access_token_for
from tests.live_server import live_servers

pytestmark = pytest.mark.redis


@pytest.fixture
def fake_gemini():
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def assistant_cluster(transactional_db, redis_url, fake_gemini):
    env = {
        "GEMINI_API_KEY": "test-key",
        "GEMINI_BASE_URL": fake_gemini.url,
        "GEMINI_TIMEOUT_SECONDS": "30",
    }
    with live_servers() as start:
        yield start(redis_url=redis_url, extra_env=env), start(redis_url=redis_url, extra_env=env)


def room_url(server, user, booking_id: int) -> str:
    return f"{server.ws_url}/ws/meetings/{booking_id}/?token={access_token_for(user)}"


async def until(socket, frame_type, check=lambda frame: True, limit=20):
    for _ in range(limit):
        frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if frame["type"] == frame_type and check(frame):
            return frame
    raise AssertionError(f"no matching {frame_type!r} frame in {limit} frames")


async def frames_until(socket, frame_type, limit=100):
    frames = []
    for _ in range(limit):
        frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames
    raise AssertionError(f"no {frame_type} in {[f['type'] for f in frames]}")


async def test_answer_crosses_processes_and_a_stop_from_the_other_process_cancels_it(
    assistant_cluster, fake_gemini
):
    server_a, server_b = assistant_cluster
    booking, learner, teacher = await scheduled()
    learner_url = await database_sync_to_async(room_url)(server_a, learner, booking.pk)
    teacher_url = await database_sync_to_async(room_url)(server_b, teacher, booking.pk)
    fake_gemini.add(
        Reply.text("one ", "two ", "three", delay=0.05),
        Reply.text("Never ", then_hang=20),
    )
    async with (
        websockets.connect(learner_url) as learner_ws,
        websockets.connect(teacher_url) as teacher_ws,
    ):
        await until(learner_ws, "room")
        await until(teacher_ws, "room")
        await until(learner_ws, "presence", lambda f: len(f["participants"]) == 2)

        await learner_ws.send(json.dumps({"type": "assistant.ask", "prompt": "Count"}))
        for socket in (learner_ws, teacher_ws):
            frames = await frames_until(socket, "assistant.done")
            deltas = [f["text"] for f in frames if f["type"] == "assistant.delta"]
            assert deltas == ["one ", "two ", "three"]
            assert frames[-1]["markdown"] == "one two three"

        await learner_ws.send(json.dumps({"type": "assistant.ask", "prompt": "Go on"}))
        started = await until(teacher_ws, "assistant.started")
        await until(teacher_ws, "assistant.delta")
        # Server B holds no claim in memory: the database refuses a second answer.
        await teacher_ws.send(json.dumps({"type": "assistant.ask", "prompt": "Me too"}))
        refusal = await until(teacher_ws, "assistant.error")
        assert (refusal["request_id"], refusal["code"]) == (None, "assistant_in_progress")
        # The stop goes to server B; the answer runs on server A.
        await teacher_ws.send(
            json.dumps({"type": "assistant.stop", "request_id": started["request_id"]})
        )
        for socket in (learner_ws, teacher_ws):
            error = await until(socket, "assistant.error")
            assert error["code"] == "assistant_stopped"
            assert error["detail"] == f"Stopped by {teacher.username}."
    statuses = await database_sync_to_async(
        lambda: list(Exchange.objects.order_by("pk").values_list("status", flat=True))
    )()
    assert statuses == ["done", "stopped"]
