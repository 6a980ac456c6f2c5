"""The production layout (deploy/): two workers behind nginx on one port, WebSockets proxied.

Everything goes through nginx, as a browser's traffic would. nginx adds ``X-Upstream``
(the worker that answered) in this cluster, so a test can tell where a socket landed
and place the two sides of a room on different workers (round robin: a retry or two).
The workers run DEBUG off with ``FORWARDED_ALLOW_IPS=127.0.0.1``, on the test database
and the shared Redis (this run's prefix), exactly as ``make cluster`` starts them.
"""

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import websockets
from channels.db import database_sync_to_async

from meetings.models import ChatMessage
from scheduling.models import Booking
from tests.conftest import access_token_for, next_frame, require, scheduled_booking, until
from tests.factories import in_future, make_learner, make_slot, make_teacher_with_skills
from tests.live_server import BASE_DIR

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def nginx_cluster(django_db_setup, django_db_blocker):
    from django.conf import settings

    from deploy.cluster import Cluster, nginx_binary
    from tests.live_server import (
        TEST_REDIS_PREFIX,
        current_database_url,
        redis_reachable,
        redis_test_url,
    )

    require(nginx_binary() is not None, "nginx is not installed (apt-get install -y nginx)")
    url = redis_test_url()
    require(redis_reachable(url), f"Redis not reachable at {url}")
    with django_db_blocker.unblock():
        database_url = current_database_url()
    # As in production: collectstatic's hashed files (pages rendered without DEBUG need
    # the manifest), in a directory of this run's own.
    static_root = Path(tempfile.mkdtemp(prefix="skilllink-static-"))
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=BASE_DIR,
        env={**os.environ, "DEBUG": "0", "SECRET_KEY": settings.SECRET_KEY,
             "STATIC_ROOT": str(static_root), "ALLOWED_HOSTS": "127.0.0.1"},
        check=True,
    )  # fmt: skip
    media_root = Path(tempfile.mkdtemp(prefix="skilllink-media-"))
    media_root.chmod(0o755)
    cluster = Cluster(
        static_root=static_root,
        media_root=media_root,
        database_url=database_url,
        redis_url=url,
        secret_key=settings.SECRET_KEY,
        redis_prefix=TEST_REDIS_PREFIX,
        workers=2,
        sweep=False,  # the tests drive time themselves
    )
    try:
        with cluster:
            yield cluster
    finally:
        print(cluster.logs())
        shutil.rmtree(static_root, ignore_errors=True)
        shutil.rmtree(media_root, ignore_errors=True)


@pytest.fixture
def cluster(nginx_cluster, transactional_db):
    """The cluster with every worker alive (a test may have killed one)."""
    for worker in nginx_cluster.restart_dead():
        worker.wait_ready()
    return nginx_cluster


def request(cluster, method: str, path: str, *, token=None, body=None, headers=None, source=None):
    """One HTTP request through nginx: (status, JSON body, the worker that answered)."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", cluster.port, timeout=10, source_address=(source, 0) if source else None
    )
    try:
        all_headers = {"Accept": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body)
            all_headers["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        worker = cluster.worker_at(response.getheader("X-Upstream", ""))
        return response.status, (json.loads(data) if data else None), worker
    finally:
        connection.close()


@contextlib.asynccontextmanager
async def socket_on(cluster, path: str, worker, attempts: int = 8):
    """A socket through nginx that landed on ``worker`` (others are closed and retried),
    after its first frame (kept as ``socket.first``)."""
    for _ in range(attempts):
        socket = await websockets.connect(
            f"{cluster.ws_url}{path}", open_timeout=10, close_timeout=2
        )
        landed = cluster.worker_at(socket.response.headers["X-Upstream"])
        if landed is worker:
            break
        await socket.close()
    else:
        pytest.fail(f"no socket landed on {worker.address} in {attempts} attempts")
    try:
        socket.first = await next_frame(socket, timeout=10)
        socket.worker = landed
        yield socket
    finally:
        await socket.close()


def room_path(user, booking_id: int) -> str:
    return f"/ws/meetings/{booking_id}/?token={access_token_for(user)}"


async def test_booking_on_one_worker_notifies_the_teacher_on_the_other(cluster):
    worker_a, worker_b = cluster.workers
    teacher = await database_sync_to_async(make_teacher_with_skills)("Python")
    slots = [
        await database_sync_to_async(make_slot)(teacher, start=in_future(days=2, hours=2 * k))
        for k in range(4)
    ]
    path = f"/ws/notifications/?token={access_token_for(teacher)}"
    async with socket_on(cluster, path, worker_a) as teacher_socket:
        assert teacher_socket.first == {"type": "unread", "count": 0}
        # Round robin: within a few requests one booking is made on worker B.
        for slot in slots:
            learner = await database_sync_to_async(make_learner)()
            status, body, served_by = await asyncio.to_thread(
                request, cluster, "POST", "/api/bookings/",
                token=access_token_for(learner), body={"slot": slot.pk},
            )  # fmt: skip
            assert status == 201, body
            frame = await until(
                teacher_socket,
                "notification",
                lambda f, booking=body["id"]: f["notification"]["url"].endswith(f"/{booking}/"),
            )
            assert frame["notification"]["read"] is False
            if served_by is worker_b:
                break
        else:
            pytest.fail("no booking request reached worker B")
    assert await database_sync_to_async(Booking.objects.filter(teacher=teacher).count)() >= 1


async def test_nginx_passes_the_client_address_and_drops_a_forged_one(cluster):
    learner = await database_sync_to_async(make_learner)()
    # The client connects from 127.0.0.2 (nginx itself reaches the workers from
    # 127.0.0.1) and claims to be 203.0.113.9: nginx replaces the claim with the address
    # it saw, and the workers trust nginx (FORWARDED_ALLOW_IPS).
    status, body, _ = await asyncio.to_thread(
        request, cluster, "POST", "/api/auth/token/",
        body={"username": learner.username, "password": "a-Long-test-passphrase-42"},
        headers={"X-Forwarded-For": "203.0.113.9"}, source="127.0.0.2",
    )  # fmt: skip
    assert status == 200, body
    await database_sync_to_async(learner.refresh_from_db)()
    assert learner.last_login_address == "127.0.0.2"


async def test_room_participants_on_two_workers_exchange_chat_and_signals(cluster):
    worker_a, worker_b = cluster.workers
    booking, learner, teacher = await database_sync_to_async(scheduled_booking)()
    async with (
        socket_on(cluster, room_path(learner, booking.pk), worker_a) as on_a,
        socket_on(cluster, room_path(teacher, booking.pk), worker_b) as on_b,
    ):
        assert on_a.first["type"] == "room" and on_b.first["type"] == "room"
        await on_a.send(json.dumps({"type": "chat.send", "text": "from worker A"}))
        received = (await until(on_b, "chat.message"))["message"]
        assert received["text"] == "from worker A" and received["sender"] == learner.pk
        await on_b.send(json.dumps({"type": "chat.send", "text": "from worker B"}))
        received = await until(on_a, "chat.message", lambda f: f["message"]["sender"] != learner.pk)
        assert received["message"]["text"] == "from worker B"

        offer = {"description": {"type": "offer", "sdp": "v=0\r\n"}}
        await on_a.send(json.dumps({"type": "signal", "data": offer}))
        assert (await until(on_b, "signal"))["data"] == offer
        candidate = {"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}
        await on_b.send(json.dumps({"type": "signal", "data": candidate}))
        assert (await until(on_a, "signal"))["data"] == candidate


async def test_a_killed_worker_loses_no_saved_message_and_its_client_gets_the_history(cluster):
    worker_a, worker_b = cluster.workers
    booking, learner, teacher = await database_sync_to_async(scheduled_booking)()
    seen_by_teacher: list[dict] = []
    async with socket_on(cluster, room_path(teacher, booking.pk), worker_b) as on_b:
        async with contextlib.AsyncExitStack() as stack:
            on_a = await stack.enter_async_context(
                socket_on(cluster, room_path(learner, booking.pk), worker_a)
            )
            for k in range(5):  # saved and delivered before the crash
                await on_a.send(json.dumps({"type": "chat.send", "text": f"before {k}"}))
                frame = await until(
                    on_b, "chat.message", lambda f: f["message"]["sender"] == learner.pk
                )
                seen_by_teacher.append(frame["message"])
            # Mid-session: more messages go out and worker A dies with them in flight.
            for k in range(5):
                await on_a.send(json.dumps({"type": "chat.send", "text": f"in flight {k}"}))
            worker_a.kill(signal.SIGKILL)
            with pytest.raises(websockets.ConnectionClosed):
                for _ in range(50):
                    await next_frame(on_a, timeout=5)

        # The teacher's side (worker B) never noticed the crash but for the learner's absence.
        await on_b.send(json.dumps({"type": "chat.send", "text": "are you there?"}))
        await until(on_b, "chat.message", lambda f: f["message"]["text"] == "are you there?")

        # The learner's page reconnects through nginx: worker A refuses, nginx tries B.
        async with socket_on(cluster, room_path(learner, booking.pk), worker_b) as again:
            history = again.first["history"]
            saved = await database_sync_to_async(
                lambda: list(
                    ChatMessage.objects.filter(booking=booking)
                    .order_by("sent_at", "id")
                    .values_list("id", "text")
                )
            )()
            # Every saved message is in the history it got, in order...
            assert [(m["id"], m["text"]) for m in history] == saved
            # ...including every message the teacher saw before the crash and the one after.
            texts = [text for _, text in saved]
            for message in seen_by_teacher:
                assert message["text"] in texts
            assert "are you there?" in texts
            # And the room works again across the surviving worker.
            await again.send(json.dumps({"type": "chat.send", "text": "back"}))
            await until(on_b, "chat.message", lambda f: f["message"]["text"] == "back")

    # The supervisor's job: the dead worker comes back on its port.
    assert [w.index for w in cluster.restart_dead()] == [worker_a.index]
    worker_a.wait_ready()


async def test_feed_and_socket_tokens_are_redacted_in_every_access_log(cluster):
    from scheduling.services.calendar_feed import calendar_feed_token

    learner = await database_sync_to_async(make_learner)()
    feed_token = await database_sync_to_async(calendar_feed_token)(user=learner)
    jwt = access_token_for(learner)

    def fetch(path: str) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    assert await asyncio.to_thread(fetch, f"/calendar/{feed_token}.ics") == 200
    status = await asyncio.to_thread(fetch, "/calendar/not-a-real-token.ics")
    assert status == 404, cluster.logs()
    socket = await websockets.connect(f"{cluster.ws_url}/ws/notifications/?token={jwt}")
    await next_frame(socket, timeout=10)
    await socket.close()
    await asyncio.sleep(0.5)  # nginx writes the socket's line when it closes
    logs = {
        path.name: path.read_text(errors="replace")
        for path in cluster.directory.glob("*.log")
        if path.name == "access.log" or path.name.startswith("worker-")
    }
    access = logs["access.log"]
    assert "/calendar/[redacted].ics" in access and "token=[redacted]" in access
    for name, text in logs.items():
        assert feed_token not in text, name
        assert "not-a-real-token" not in text, name
        assert jwt not in text, name


async def test_an_uploaded_photo_is_served_by_nginx_and_never_sniffed(cluster, settings):
    """Photos are written by the app (accounts.services.user_photo_set) into MEDIA_ROOT,
    which the workers and nginx share; nginx serves them at /media/."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from accounts.services import user_photo_set
    from tests.factories import make_teacher

    settings.MEDIA_ROOT = str(cluster.media_root)  # as the workers have it
    teacher = await database_sync_to_async(make_teacher)()
    png = io.BytesIO()
    Image.new("RGB", (200, 200), "orange").save(png, "PNG")
    picture = SimpleUploadedFile("me.png", png.getvalue(), "image/png")
    await database_sync_to_async(user_photo_set)(user=teacher, upload=picture)
    await database_sync_to_async(teacher.refresh_from_db)()

    def fetch(path: str):
        connection = http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    status, headers, body = await asyncio.to_thread(fetch, teacher.photo.url)
    assert status == 200, (teacher.photo.url, cluster.logs())
    assert body[:3] == b"\xff\xd8\xff"  # re-encoded as JPEG
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]
    assert (await asyncio.to_thread(fetch, "/media/../skilllink/settings.py"))[0] in (400, 404)
