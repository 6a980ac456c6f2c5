"""The one way real-time events leave the application: after the transaction commits.

Group names come from one function per kind so producers and consumers agree.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def meeting_group(booking_id: int) -> str:
    return f"meeting.{booking_id}"


def send_now(group: str, event: dict[str, Any]) -> None:
    """Send ``event`` to ``group`` from synchronous code; failures are logged, not raised.

    A push is a courtesy: the data is already committed and every client catches
    up from the database when its socket (re)connects.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        logger.exception("Real-time send to %s failed", group)


def send_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send ``event`` to ``group`` once the current transaction commits (never if it rolls back)."""
    transaction.on_commit(lambda: send_now(group, event))
