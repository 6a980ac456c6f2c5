"""Reads for meetings: chat history and who is in the room."""

from datetime import datetime
from typing import Any

from meetings.models import ChatMessage

# How much of a session's chat any reader gets: the room on joining, the API, the session
# page (the newest this many, oldest first). A session's chat rarely comes near it: at the
# rate limit (20 per 10 s) an hour could hold more, but nobody scrolls that far back.
HISTORY_LIMIT = 500


def chat_payload(
    *, message_id: int, sender_id: int, sender_name: str, text: str, sent_at: datetime
) -> dict[str, Any]:
    """A chat message as sockets and the API show it."""
    return {
        "id": message_id,
        "sender": sender_id,
        "sender_name": sender_name,
        "text": text,
        "sent_at": sent_at.isoformat(),
    }


def chat_message_payload(message: ChatMessage) -> dict[str, Any]:
    return chat_payload(
        message_id=message.pk,
        sender_id=message.sender_id,
        sender_name=message.sender.username,
        text=message.text,
        sent_at=message.sent_at,
    )


def chat_messages(*, booking_id: int, limit: int = HISTORY_LIMIT):
    """Message rows (for templates), oldest first."""
    latest = (
        ChatMessage.objects.filter(booking_id=booking_id)
        .select_related("sender")
        .order_by("-sent_at", "-id")[:limit]
    )
    return list(reversed(list(latest)))


def chat_history(*, booking_id: int, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """The last ``limit`` messages, oldest first."""
    return [chat_message_payload(m) for m in chat_messages(booking_id=booking_id, limit=limit)]


def chat_lines(booking_id: int, limit: int) -> list[tuple[str, str]]:
    """The last ``limit`` messages as ``(sender name, text)``, oldest first: the plain
    context the assistant may quote."""
    latest = (
        ChatMessage.objects.filter(booking_id=booking_id)
        .order_by("-sent_at", "-id")
        .values_list("sender__username", "text")[:limit]
    )
    return list(reversed(list(latest)))


def chat_history_after(
    *, booking_id: int, after_id: int, limit: int = HISTORY_LIMIT
) -> list[dict[str, Any]]:
    """Messages newer than ``after_id`` (at most ``limit``, oldest first): what a socket
    missed while live delivery was down."""
    rows = (
        ChatMessage.objects.filter(booking_id=booking_id, pk__gt=after_id)
        .select_related("sender")
        .order_by("pk")[:limit]
    )
    return [chat_message_payload(m) for m in rows]
