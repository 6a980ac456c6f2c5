"""The one way real-time events leave the application: after the transaction commits.

Group names come from one function per kind so producers and consumers agree.
"""

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def user_sockets_group(user_id: int) -> str:
    """Every socket a user has open, whatever it serves: control events only (``auth.revoked``),
    which every ``JsonSocketConsumer`` handles, so no consumer receives another's events."""
    return f"user.{user_id}.sockets"


def meeting_group(booking_id: int) -> str:
    return f"meeting.{booking_id}"


def meeting_inbox_group(booking_id: int, user_id: int) -> str:
    """One participant's sockets in one room: what only they should receive."""
    return f"meeting.{booking_id}.to.{user_id}"


async def group_send(group: str, event: dict[str, Any]) -> bool:
    """Send ``event`` to ``group`` from async code (consumers). False, logged, when the channel
    layer is unreachable (Redis down): the caller tells its client what was not delivered,
    and sockets catch up from the database once the layer is back."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        await layer.group_send(group, event)
    except Exception as error:  # noqa: BLE001 - any layer failure means "not delivered"
        logger.warning("Real-time send to %s failed: %r", group, error)
        return False
    return True


def send_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send ``event`` to ``group`` once the current transaction commits (never if it rolls back)."""
    send_all_on_commit([(group, event)])


def send_all_now(messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Send ``(group, event)`` pairs from synchronous code, in order, in one hop to the event
    loop (each hop costs a thread switch or a new loop). Failures are logged, not raised:
    a push is a courtesy; the data is committed and clients catch up from the database."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all() -> None:
        for group, event in messages:
            try:
                await layer.group_send(group, event)
            except Exception:
                logger.exception("Real-time send to %s failed", group)

    try:
        async_to_sync(send_all)()
    except Exception:
        logger.exception("Real-time sends failed")


def send_all_on_commit(messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """``send_on_commit`` for several ``(group, event)`` pairs: sent in order, in one hop
    (inside ``pushes_in_one_hop``, in that block's one hop)."""
    messages = list(messages)
    if not messages:
        return
    outbox = getattr(_batch, "outbox", None)
    if outbox is None:
        transaction.on_commit(lambda: send_all_now(messages))
    else:
        # Collected once the transaction commits: a savepoint rolled back drops its pushes.
        transaction.on_commit(lambda: outbox.extend(messages))


_batch = threading.local()


@contextmanager
def pushes_in_one_hop() -> Iterator[None]:
    """Every push registered inside the block goes out after commit in one hop, in order.

    A service whose writes push from several places (a booking's update and notification, the
    ledger's balance) costs one hop to the event loop instead of one per place; a hop is a
    thread switch in the server (a new event loop in a management command). Use inside the
    transaction; nested blocks join the outermost. Nothing is sent if the block raises or
    the transaction rolls back.
    """
    if getattr(_batch, "outbox", None) is not None:
        yield
        return
    outbox: list[tuple[str, dict[str, Any]]] = []
    _batch.outbox = outbox
    try:
        yield
    finally:
        _batch.outbox = None
    # Registered after every collecting callback, so it runs after them all.
    transaction.on_commit(lambda: send_all_now(outbox) if outbox else None)
