"""Chat writes for the room sockets, batched: one statement for everything that
arrived while the previous batch was being written.

A message is broadcast only once its row is committed ("saved before it is
broadcast"): the room socket hands it over with ``submit()`` and publishes when the
future resolves. A busy server pays one commit per batch instead of one per
message, and the socket keeps delivering frames while its messages are saved.

On PostgreSQL the writer keeps a connection of its own on the event loop (psycopg's
async connection, autocommit) and never hops to the ORM thread: at chat rates most
batches hold one or two messages, and the hop there and back (thread wake-ups, the
GIL passed between threads) cost more CPU and latency than the insert. A broken
connection fails its batch (the senders get ``chat_not_saved``) and the next batch
opens a new one. Other databases go through the ORM thread (``chat_save_batch``).
"""

import asyncio
import logging
from datetime import datetime

from channels.db import database_sync_to_async
from django.db import connection

from meetings.services import chat_db_connect, chat_save_batch, chat_save_batch_async

logger = logging.getLogger(__name__)

MAX_BATCH = 500


class ChatWriter:
    def __init__(self) -> None:
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pg = None  # psycopg.AsyncConnection of self._loop, opened on first use

    def _ensure_running(self) -> asyncio.Queue:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
            if self._loop is not loop:
                self.close_now()  # a connection belongs to the loop that opened it
            self._loop = loop
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._run(self._queue))
        return self._queue

    def submit(
        self, *, booking_id: int, sender_id: int, text: str, sent_at: datetime
    ) -> asyncio.Future:
        """Queue one message; the future gets its id once committed (or the batch's error).

        Futures resolve in submission order.
        """
        future = asyncio.get_running_loop().create_future()
        self._ensure_running().put_nowait(((booking_id, sender_id, text, sent_at), future))
        return future

    def close_now(self) -> None:
        """Close the writer's own database connection at once (no await: usable when its
        event loop is gone, as between tests). The next batch opens a new one."""
        conn, self._pg = self._pg, None
        if conn is not None and not conn.closed:
            conn.pgconn.finish()

    async def _save(self, rows: list[tuple[int, int, str, datetime]]) -> list[int]:
        if connection.vendor != "postgresql":
            return await database_sync_to_async(chat_save_batch)(rows)
        if self._pg is None or self._pg.closed:
            self._pg = await chat_db_connect()
        try:
            return await chat_save_batch_async(self._pg, rows)
        except Exception:
            if self._pg is not None and self._pg.broken:
                logger.warning("Chat writer: database connection lost; reconnecting")
                self.close_now()
            raise

    async def _run(self, queue: asyncio.Queue) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < MAX_BATCH:
                batch.append(queue.get_nowait())
            try:
                saved = await self._save([row for row, _ in batch])
            except Exception as error:  # noqa: BLE001 - handed to the senders below
                if len(batch) == 1:
                    _settle(batch[0][1], error=error)
                    continue
                # One row's fault (a booking deleted meanwhile, a value the database
                # refuses) must not cost the other rooms their messages: save each row
                # alone, so only the faulty one fails.
                logger.warning(
                    "Chat writer: a batch of %d failed (%s); saving one by one", len(batch), error
                )
                for row, future in batch:
                    try:
                        (message_id,) = await self._save([row])
                    except Exception as row_error:  # noqa: BLE001 - handed to its sender
                        _settle(future, error=row_error)
                    else:
                        _settle(future, result=message_id)
                continue
            for (_, future), message_id in zip(batch, saved, strict=True):
                _settle(future, result=message_id)


def _settle(future: asyncio.Future, *, result: int | None = None, error: Exception | None = None):
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


chat_writer = ChatWriter()
