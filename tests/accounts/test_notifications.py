"""Notifications: the service, the REST endpoints, and live delivery on /ws/notifications/."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from accounts.models import Notification
from accounts.services import notification_send
from skilllink.asgi import application
from tests.conftest import access_token_for
from tests.factories import make_learner

ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")  # a browser's handshake names the host its Origin must match


def _connect(path: str, *, headers=None) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=headers or [])


# --- REST ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_is_mine_only_newest_first(auth_client, learner, teacher):
    first = notification_send(user=learner, kind="test", title="First")
    second = notification_send(user=learner, kind="test", title="Second", url="/dashboard/")
    notification_send(user=teacher, kind="test", title="Not yours")
    body = auth_client.get("/api/notifications/").json()
    assert [n["id"] for n in body] == [second.pk, first.pk]
    assert body[0] == {
        "id": second.pk,
        "kind": "test",
        "title": "Second",
        "body": "",
        "url": "/dashboard/",
        "created_at": body[0]["created_at"],
        "read": False,
    }


@pytest.mark.django_db
def test_read_one_read_all_and_unread_filter(auth_client, learner):
    a = notification_send(user=learner, kind="test", title="A")
    notification_send(user=learner, kind="test", title="B")
    notification_send(user=learner, kind="test", title="C")
    assert auth_client.get("/api/notifications/unread-count/").json() == {"count": 3}

    response = auth_client.post(f"/api/notifications/{a.pk}/read/")
    assert response.status_code == 200 and response.json()["read"] is True
    unread = auth_client.get("/api/notifications/?unread=true").json()
    assert {n["title"] for n in unread} == {"B", "C"}

    assert auth_client.post("/api/notifications/read-all/").json() == {"marked": 2}
    assert auth_client.get("/api/notifications/unread-count/").json() == {"count": 0}


@pytest.mark.django_db
def test_cannot_read_someone_elses_notification(auth_client, teacher):
    theirs = notification_send(user=teacher, kind="test", title="Theirs")
    response = auth_client.post(f"/api/notifications/{theirs.pk}/read/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.django_db
def test_bad_limit_is_a_validation_error(auth_client):
    response = auth_client.get("/api/notifications/?limit=5000")
    assert response.status_code == 400
    assert "limit" in response.json()["fields"]


@pytest.mark.django_db
def test_notifications_need_authentication(api_client):
    assert api_client.get("/api/notifications/").status_code == 401


# --- Sockets --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_socket_without_auth_is_closed_4401():
    communicator = _connect("/ws/notifications/", headers=[ORIGIN, HOST])
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
async def test_socket_with_bad_token_is_closed_4401():
    communicator = _connect("/ws/notifications/?token=garbage")
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_output())["code"] == 4401


@pytest.mark.django_db(transaction=True)
async def test_socket_with_foreign_origin_is_refused_even_with_a_valid_token():
    user = await database_sync_to_async(make_learner)()
    token = await database_sync_to_async(access_token_for)(user)
    communicator = _connect(
        f"/ws/notifications/?token={token}", headers=[(b"origin", b"https://evil.example")]
    )
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4403


@pytest.mark.django_db(transaction=True)
async def test_cookie_without_origin_does_not_authenticate(client):
    """A script cannot ride a session cookie: without Origin only a token counts."""
    user = await database_sync_to_async(make_learner)()
    await database_sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = _connect("/ws/notifications/", headers=[(b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_output())["code"] == 4401


@pytest.mark.django_db(transaction=True)
async def test_session_cookie_with_own_origin_authenticates(client):
    user = await database_sync_to_async(make_learner)()
    await database_sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = _connect("/ws/notifications/", headers=[ORIGIN, HOST, (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from() == {"type": "unread", "count": 0}
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_notification_created_in_a_service_reaches_the_open_socket():
    user = await database_sync_to_async(make_learner)()
    other = await database_sync_to_async(make_learner)()
    token = await database_sync_to_async(access_token_for)(user)
    other_token = await database_sync_to_async(access_token_for)(other)
    mine = _connect(f"/ws/notifications/?token={token}")
    theirs = _connect(f"/ws/notifications/?token={other_token}")
    assert (await mine.connect())[0] and (await theirs.connect())[0]
    assert await mine.receive_json_from() == {"type": "unread", "count": 0}
    assert await theirs.receive_json_from() == {"type": "unread", "count": 0}

    def create():
        with transaction.atomic():
            return notification_send(user=user, kind="booking.requested", title="New request")

    created = await database_sync_to_async(create)()
    frame = await mine.receive_json_from(timeout=2)
    assert frame["type"] == "notification"
    assert frame["notification"]["id"] == created.pk
    assert frame["notification"]["title"] == "New request"
    assert await theirs.receive_nothing(timeout=0.3)
    await mine.disconnect()
    await theirs.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_notification_is_not_delivered_when_the_transaction_rolls_back():
    user = await database_sync_to_async(make_learner)()
    token = await database_sync_to_async(access_token_for)(user)
    socket = _connect(f"/ws/notifications/?token={token}")
    assert (await socket.connect())[0]
    await socket.receive_json_from()

    def create_then_fail():
        with transaction.atomic():
            notification_send(user=user, kind="test", title="Never")
            raise RuntimeError("crash mid-action")

    with pytest.raises(RuntimeError):
        await database_sync_to_async(create_then_fail)()
    assert await socket.receive_nothing(timeout=0.5)
    assert not await database_sync_to_async(Notification.objects.filter(title="Never").exists)()

    def create():
        with transaction.atomic():
            notification_send(user=user, kind="test", title="Committed")

    await database_sync_to_async(create)()
    frame = await socket.receive_json_from(timeout=2)
    assert frame["notification"]["title"] == "Committed"
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_marking_read_updates_other_tabs_count():
    user = await database_sync_to_async(make_learner)()
    token = await database_sync_to_async(access_token_for)(user)
    created = await database_sync_to_async(notification_send)(user=user, kind="t", title="x")
    socket = _connect(f"/ws/notifications/?token={token}")
    assert (await socket.connect())[0]
    assert await socket.receive_json_from() == {"type": "unread", "count": 1}

    from accounts.services import notification_mark_read

    def mark():
        with transaction.atomic():
            notification_mark_read(user=user, notification_id=created.pk)

    await database_sync_to_async(mark)()
    assert await socket.receive_json_from(timeout=2) == {"type": "unread", "count": 0}
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_malformed_and_oversize_frames_get_error_and_socket_stays_open():
    user = await database_sync_to_async(make_learner)()
    token = await database_sync_to_async(access_token_for)(user)
    socket = _connect(f"/ws/notifications/?token={token}")
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    await socket.send_to(text_data="{nope")
    assert (await socket.receive_json_from())["code"] == "invalid"
    await socket.send_to(text_data='["no type"]')
    assert (await socket.receive_json_from())["code"] == "invalid"
    await socket.send_to(text_data='{"type": "launch.missiles"}')
    assert (await socket.receive_json_from())["code"] == "unknown_type"
    await socket.send_to(text_data='{"type": "ping", "pad": "' + "x" * 20000 + '"}')
    assert (await socket.receive_json_from())["code"] == "frame_too_large"
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from() == {"type": "pong"}
    await socket.disconnect()
