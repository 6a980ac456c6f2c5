"""Chat writes for the room sockets, batched: one transaction for everything that
arrived while the previous batch was being written.

A message is broadcast only once its row is committed ("saved before it is
broadcast"): the room socket hands it over with ``submit()`` and publishes when the
future resolves. A busy server pays one commit per batch instead of one per
message, and the socket keeps delivering frames while its messages are saved.
"""

import asyncio
from datetime import datetime

from channels.db import database_sync_to_async

from meetings.services import chat_save_batch

MAX_BATCH = 500


class ChatWriter:
    def __init__(self) -> None:
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ensure_running(self) -> asyncio.Queue:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
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

    async def save(self, *, booking_id: int, sender_id: int, text: str, sent_at: datetime) -> int:
        """Queue one message and wait until it is committed; return its id."""
        return await self.submit(
            booking_id=booking_id, sender_id=sender_id, text=text, sent_at=sent_at
        )

    async def _run(self, queue: asyncio.Queue) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < MAX_BATCH:
                batch.append(queue.get_nowait())
            try:
                saved = await database_sync_to_async(chat_save_batch)([row for row, _ in batch])
            except Exception as error:  # noqa: BLE001 - handed to every waiting sender
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), message_id in zip(batch, saved, strict=True):
                if not future.done():
                    future.set_result(message_id)


chat_writer = ChatWriter()
