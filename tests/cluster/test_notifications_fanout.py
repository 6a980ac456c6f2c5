"""Notifications fan out across server processes, and only for committed transactions."""

import contextlib

import pytest
import websockets
from channels.db import database_sync_to_async
from django.db import transaction

from accounts.models import Notification
from accounts.services import notification_send
from tests.conftest import access_token_for, next_frame
from tests.factories import make_learner

pytestmark = pytest.mark.redis


@contextlib.asynccontextmanager
async def notification_socket(server, user):
    """A script's socket (no Origin, JWT in the query) that has had its catch-up frame."""
    url = f"{server.ws_url}/ws/notifications/?token={access_token_for(user)}"
    async with websockets.connect(url, open_timeout=5, close_timeout=2) as socket:
        assert await next_frame(socket) == {"type": "unread", "count": 0}
        yield socket


@database_sync_to_async
def send_committed(user, title: str) -> Notification:
    with transaction.atomic():
        return notification_send(user=user, kind="test", title=title, body="body", url="/x/")


@database_sync_to_async
def send_then_roll_back(user, title: str) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        notification_send(user=user, kind="test", title=title)
        raise Boom


@database_sync_to_async
def titles_stored(user) -> list[str]:
    return list(Notification.objects.filter(user=user).values_list("title", flat=True))


async def test_notification_reaches_sockets_on_both_servers(cluster, user):
    first, second = cluster
    bystander = await database_sync_to_async(make_learner)()
    async with (
        notification_socket(first, user) as on_first,
        notification_socket(second, user) as on_second,
        notification_socket(second, bystander) as other_user,
    ):
        notification = await send_committed(user, "Omar booked Statistics")

        for socket in (on_first, on_second):
            frame = await next_frame(socket)
            assert frame["type"] == "notification"
            assert frame["notification"]["id"] == notification.pk
            assert frame["notification"]["title"] == "Omar booked Statistics"
            assert frame["notification"]["read"] is False

        # Someone else's socket on the same server hears nothing.
        with pytest.raises(TimeoutError):
            await next_frame(other_user, timeout=0.5)


async def test_rolled_back_notification_is_never_delivered(cluster, user):
    first, second = cluster
    async with (
        notification_socket(first, user) as on_first,
        notification_socket(second, user) as on_second,
    ):
        await send_then_roll_back(user, "Never happened")
        assert await titles_stored(user) == []
        # A push of the rolled-back one would travel the same path ahead of the next one:
        # the next committed notification must be the first frame on both sockets.
        await send_committed(user, "Sentinel")
        for socket in (on_first, on_second):
            frame = await next_frame(socket)
            assert frame["type"] == "notification"
            assert frame["notification"]["title"] == "Sentinel"
    assert await titles_stored(user) == ["Sentinel"]
