"""Writes for meetings: entering and leaving the room, chat."""

import functools
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import User
from meetings.models import ChatMessage
from scheduling.attendance import visit_close
from scheduling.models import Booking, RoomVisit
from scheduling.transitions import booking_join
from skilllink.ratelimit import parse_rate, rate_limit_hit_local
from skilllink.text import text_clean

if TYPE_CHECKING:
    import psycopg

CHAT_MAX_LENGTH = 2000
CHAT_TABLE = ChatMessage._meta.db_table


def room_enter(
    *, user: User, booking_id: int, now: datetime | None = None
) -> tuple[Booking, RoomVisit]:
    """A participant's socket enters: the ``join`` move (the first join starts the session),
    which opens this connection's visit (attendance, ``scheduling.attendance``).

    ``NotFound`` for strangers, 403 ``room_closed`` outside the window or state
    (``scheduling.rules.room_access``).
    """
    booking = booking_join(booking_id=booking_id, user=user, now=now or timezone.now())
    return booking, booking.visit


def room_leave(*, visit_id: int, now: datetime | None = None) -> None:
    visit_close(visit_id=visit_id, now=now)


def chat_clean_text(text: object) -> str:
    """The message as it will be saved, or ``ValidationFailed`` (code ``invalid``): checked
    here, before it joins a shared insert batch, so a bad text fails alone."""
    return text_clean(
        text, field="text", max_length=CHAT_MAX_LENGTH, empty_message="Type a message first."
    )


def chat_rate_hit(*, user_id: int) -> None:
    """Count one chat message against ``CHAT_RATE_LIMIT``; ``RateLimited`` past it.

    Counted in this process's memory: the room socket is the only way to chat, and a
    shared counter would cost a Redis round trip per message (docs/architecture.md).
    """
    limit, window = parse_rate(settings.CHAT_RATE_LIMIT)
    rate_limit_hit_local(
        scope=f"chat:{user_id}",
        limit=limit,
        window=window,
        message="You're sending messages too fast. Wait a moment.",
    )


@functools.cache  # batch sizes are bounded by CHAT_INSERT_VALUES_MAX
def _chat_insert_sql(rows: int) -> str:
    """One multi-row ``INSERT … RETURNING id`` of ``rows`` chat messages (``%s`` values:
    booking id, sender id, text, sent at, row after row)."""
    return (
        f"INSERT INTO {CHAT_TABLE} (booking_id, sender_id, text, sent_at) VALUES "  # noqa: S608
        + ", ".join(["(%s, %s, %s, %s)"] * rows)
        + " RETURNING id"
    )


def chat_save_batch(items: list[tuple[int, int, str, datetime]]) -> list[int]:
    """Save ``(booking_id, sender_id, text, sent_at)`` rows in one INSERT; their ids, in order.

    Precondition: the caller has checked access and text (the room socket does so at
    entry and per frame). Used by :class:`meetings.chat_writer.ChatWriter` on SQLite (and
    any database but PostgreSQL, which has its own path below).
    """
    messages = ChatMessage.objects.bulk_create(
        ChatMessage(booking_id=booking_id, sender_id=sender_id, text=text, sent_at=sent_at)
        for booking_id, sender_id, text, sent_at in items
    )
    return [message.pk for message in messages]


# PostgreSQL: the same insert from the event loop (``chat_save_batch_async``), written by
# hand because the ORM cannot run there without a thread hop, which at one or two
# messages a batch cost more than the insert (200-room chat p99 17-20 ms with the hop,
# 8-10 ms without, bench/results-chat.md). As prepared statements: the server plans each text once per connection. Small batches
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
