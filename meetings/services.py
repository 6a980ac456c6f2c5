"""Writes for meetings: entering and leaving the room, chat."""

import functools
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from meetings.models import ChatMessage, RoomVisit
from meetings.selectors import chat_message_payload
from scheduling.models import Booking
from scheduling.transitions import booking_get_for_user, booking_join, room_window
from skilllink.errors import AppError
from skilllink.ratelimit import parse_rate, rate_limit_hit, rate_limit_hit_local
from skilllink.realtime import meeting_group, send_on_commit
from skilllink.text import text_clean

if TYPE_CHECKING:
    import psycopg

CHAT_MAX_LENGTH = 2000
CHAT_TABLE = ChatMessage._meta.db_table
ROOM_STATUSES = (Booking.Status.SCHEDULED, Booking.Status.IN_PROGRESS)


class RoomClosed(AppError):
    code = "room_closed"
    status = 403


def room_check_open(*, booking: Booking, now: datetime | None = None) -> None:
    """Raise ``RoomClosed`` unless the booking's room is open now."""
    now = now or timezone.now()
    opens, closes = room_window(booking)
    if booking.status not in ROOM_STATUSES or not opens <= now <= closes:
        raise RoomClosed("The room is open from 10 minutes before the session until shortly after.")


def room_enter(
    *, user: User, booking_id: int, now: datetime | None = None
) -> tuple[Booking, RoomVisit]:
    """A participant enters: the ``join`` move (first join starts the session) and a visit row.

    ``NotFound`` for strangers, ``RoomClosed`` outside the window or state.
    """
    now = now or timezone.now()
    with transaction.atomic():
        booking = booking_join(booking_id=booking_id, user=user, now=now)
        visit = RoomVisit.objects.create(booking=booking, user=user, joined_at=now)
    return booking, visit


def room_leave(*, visit_id: int, now: datetime | None = None) -> None:
    RoomVisit.objects.filter(pk=visit_id, left_at__isnull=True).update(
        left_at=now or timezone.now()
    )


def chat_clean_text(text: object) -> str:
    """The message as it will be saved, or ``ValidationFailed`` (code ``invalid``): checked
    here, before it joins a shared insert batch, so a bad text fails alone."""
    return text_clean(
        text, field="text", max_length=CHAT_MAX_LENGTH, empty_message="Type a message first."
    )


def chat_rate_hit(*, user_id: int, shared: bool) -> None:
    """Count one chat message against ``CHAT_RATE_LIMIT``; ``RateLimited`` past it.

    ``shared``: in the cache every process sees (the API); otherwise in this
    process's memory (room sockets: no I/O per message, see docs/architecture.md).
    """
    limit, window = parse_rate(settings.CHAT_RATE_LIMIT)
    hit = rate_limit_hit if shared else rate_limit_hit_local
    hit(
        scope=f"chat:{user_id}",
        limit=limit,
        window=window,
        message="You're sending messages too fast. Wait a moment.",
    )


@functools.cache  # batch sizes are bounded (chat_writer.MAX_BATCH)
def _chat_insert_sql(rows: int) -> str:
    """One multi-row ``INSERT … RETURNING id`` of ``rows`` chat messages (``%s`` values:
    booking id, sender id, text, sent at, row after row)."""
    return (
        f"INSERT INTO {CHAT_TABLE} (booking_id, sender_id, text, sent_at) VALUES "  # noqa: S608
        + ", ".join(["(%s, %s, %s, %s)"] * rows)
        + " RETURNING id"
    )


def chat_save_batch(items: list[tuple[int, int, str, datetime]]) -> list[int]:
    """Save ``(booking_id, sender_id, text, sent_at)`` rows in one statement; their ids, in order.

    Precondition: the caller has checked access and text (the room socket does so
    at entry and per frame). Used by :class:`meetings.chat_writer.ChatWriter`.

    One multi-row ``INSERT … RETURNING`` (PostgreSQL, SQLite 3.35+), not
    ``bulk_create``: this runs for every chat batch of a busy server, and building
    model instances and the ORM's SQL cost more than the insert itself. The ids
    come back in VALUES order, as ``bulk_create`` also relies on.
    """
    if not items:
        return []
    adapt = connection.ops.adapt_datetimefield_value
    params = [
        value
        for booking_id, sender_id, text, sent_at in items
        for value in (booking_id, sender_id, text, adapt(sent_at))
    ]
    with connection.cursor() as cursor:
        cursor.execute(_chat_insert_sql(len(items)), params)
        return [row[0] for row in cursor.fetchall()]


# The same insert for PostgreSQL from the event loop (``chat_save_batch_async``), as
# prepared statements: the server plans each text once per connection. Small batches
# (most of them: a message or two) bind plain values, which psycopg dumps in C; larger
# ones bind four arrays to one statement (``WITH ORDINALITY`` keeps the batch order).
CHAT_INSERT_VALUES_MAX = 8
CHAT_INSERT_PG_ARRAYS = (
    f"INSERT INTO {CHAT_TABLE} (booking_id, sender_id, text, sent_at)"  # noqa: S608
    " SELECT b, s, t, a FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::timestamptz[])"
    " WITH ORDINALITY AS rows(b, s, t, a, n) ORDER BY n RETURNING id"
)


async def chat_db_connect() -> "psycopg.AsyncConnection":
    """A PostgreSQL connection of the event loop's own for chat writes (autocommit),
    with Django's connection settings (host, database, user, options; no pool)."""
    import psycopg

    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    return await psycopg.AsyncConnection.connect(**params, autocommit=True)


async def chat_save_batch_async(
    conn: "psycopg.AsyncConnection", items: list[tuple[int, int, str, datetime]]
) -> list[int]:
    """``chat_save_batch`` on PostgreSQL without leaving the event loop: no hop to the
    ORM thread (which, at a message per batch, cost more than the insert itself)."""
    if not items:
        return []
    if len(items) <= CHAT_INSERT_VALUES_MAX:
        sql, params = _chat_insert_sql(len(items)), [v for row in items for v in row]
    else:
        sql, params = CHAT_INSERT_PG_ARRAYS, [list(column) for column in zip(*items, strict=True)]
    cursor = await conn.execute(sql, params, prepare=True)
    return [row[0] for row in await cursor.fetchall()]


def chat_post(
    *, user: User, booking_id: int, text: str, now: datetime | None = None
) -> ChatMessage:
    """Save a message, then (after commit) broadcast it to the room. Rate-limited per user."""
    now = now or timezone.now()
    text = chat_clean_text(text)
    chat_rate_hit(user_id=user.pk, shared=True)
    booking = booking_get_for_user(user=user, booking_id=booking_id)
    room_check_open(booking=booking, now=now)
    with transaction.atomic():
        message = ChatMessage.objects.create(booking=booking, sender=user, text=text, sent_at=now)
        message.sender = user
        send_on_commit(
            meeting_group(booking.pk),
            {"type": "chat.message", "message": chat_message_payload(message)},
        )
    return message
