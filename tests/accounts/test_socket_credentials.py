"""Sockets live no longer than their credentials: a password change or a deactivation closes
every socket of the user (notifications and room alike, 4401), a token's expiry closes the
socket opened with it, and the socket path accepts HS256 tokens only."""

import asyncio
import base64
import json
from datetime import timedelta

import jwt
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken

from skilllink.asgi import application
from skilllink.jwt_auth import RefreshToken
from tests.conftest import scheduled_booking
from tests.factories import make_learner

pytestmark = pytest.mark.django_db(transaction=True)


def token_for(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


async def open_socket(path: str, token: str) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, f"{path}?token={token}")
    connected, _ = await socket.connect()
    assert connected
    return socket


async def closed_with(socket: WebsocketCommunicator, code: int, error_code: str, timeout=3):
    """Frames until the close: the last frame before it is the ``error`` saying why."""
    frames = []
    while True:
        output = await socket.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            assert output["code"] == code, (output, frames)
            break
        frames.append(json.loads(output["text"]))
    assert frames and frames[-1]["type"] == "error", frames
    assert frames[-1]["code"] == error_code
    return frames


async def test_password_change_closes_notification_and_room_sockets():
    booking, learner, teacher = await database_sync_to_async(scheduled_booking)()
    token = await database_sync_to_async(token_for)(learner)
    bell = await open_socket("/ws/notifications/", token)
    assert (await bell.receive_json_from())["type"] == "unread"
    room = await open_socket(f"/ws/meetings/{booking.pk}/", token)
    assert (await room.receive_json_from())["type"] == "room"
    teacher_bell = await open_socket(
        "/ws/notifications/", await database_sync_to_async(token_for)(teacher)
    )
    assert (await teacher_bell.receive_json_from())["type"] == "unread"

    def change_password():
        learner.set_password("a-Brand-new-passphrase-5")
        learner.save()

    await database_sync_to_async(change_password)()
    await closed_with(bell, 4401, "token_revoked")
    await closed_with(room, 4401, "token_revoked")
    # Someone else's socket stays open.
    await teacher_bell.send_json_to({"type": "ping"})
    assert (await teacher_bell.receive_json_from())["type"] == "pong"
    await teacher_bell.disconnect()

    # The old token no longer opens a socket.
    again = WebsocketCommunicator(application, f"/ws/notifications/?token={token}")
    await again.connect()
    assert await again.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_deactivation_closes_the_users_sockets():
    learner = await database_sync_to_async(make_learner)()
    bell = await open_socket("/ws/notifications/", await database_sync_to_async(token_for)(learner))
    assert (await bell.receive_json_from())["type"] == "unread"

    def deactivate():
        learner.is_active = False
        learner.save(update_fields=["is_active"])

    await database_sync_to_async(deactivate)()
    await closed_with(bell, 4401, "token_revoked")


async def test_socket_closes_when_its_access_token_expires():
    learner = await database_sync_to_async(make_learner)()
    short = {**settings.SIMPLE_JWT, "ACCESS_TOKEN_LIFETIME": timedelta(seconds=2)}
    with override_settings(SIMPLE_JWT=short):
        token = await database_sync_to_async(token_for)(learner)
    assert (
        jwt.decode(token, options={"verify_signature": False})["exp"]
        - jwt.decode(token, options={"verify_signature": False})["iat"]
        == 2
    )
    bell = await open_socket("/ws/notifications/", token)
    assert (await bell.receive_json_from())["type"] == "unread"
    await bell.send_json_to({"type": "ping"})
    assert (await bell.receive_json_from())["type"] == "pong"  # open before the expiry
    loop = asyncio.get_running_loop()
    started = loop.time()
    await closed_with(bell, 4401, "token_expired", timeout=4)
    assert loop.time() - started < 3.5


async def test_token_socket_without_expiry_scheduled_stays_open_for_a_long_token():
    learner = await database_sync_to_async(make_learner)()
    bell = await open_socket("/ws/notifications/", await database_sync_to_async(token_for)(learner))
    assert (await bell.receive_json_from())["type"] == "unread"
    assert await bell.receive_nothing(timeout=1.0)
    await bell.disconnect()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("kind", ["none", "hs512", "rs256"])
async def test_socket_refuses_tokens_that_are_not_hs256(kind):
    learner = await database_sync_to_async(make_learner)()
    claims = dict((await database_sync_to_async(AccessToken.for_user)(learner)).payload)
    if kind == "none":
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    elif kind == "hs512":
        token = jwt.encode(claims, settings.SECRET_KEY, algorithm="HS512")
    else:
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = jwt.encode(claims, key, algorithm="RS256")
    socket = WebsocketCommunicator(application, f"/ws/notifications/?token={token}")
    await socket.connect()
    assert await socket.receive_output() == {"type": "websocket.close", "code": 4401}
