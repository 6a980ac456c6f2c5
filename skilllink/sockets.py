"""Base WebSocket consumer: JSON frames with a ``type``, refusals as error frames.

Subclasses implement ``handle_<type>`` coroutines (dots in the type become
underscores); every refusal is ``{"type": "error", "code", "detail"}`` and the
socket stays open.

Sending is safe against the two ways a socket goes away under a consumer:
- the peer closed (or we closed) while group events were still queued for us: those
  frames are dropped quietly, and the ``websocket.disconnect`` that follows runs
  ``disconnect()`` as usual;
- a slow client: the server stops writing when the client stops reading, so a send
  waits. The Redis pub/sub layer queues group events without bound behind it, so a
  send that cannot finish within ``SOCKET_SEND_TIMEOUT`` seconds ends the connection (the
  usual ``disconnect()`` cleanup runs, close code 4008). What is queued for one
  socket is thus bounded by what its groups send in that time.
"""

import asyncio
import contextlib
import functools
import logging
from typing import Any

import orjson
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from skilllink.errors import AppError
from skilllink.ws_auth import CLOSE_FORBIDDEN, CLOSE_NOT_AUTHENTICATED

logger = logging.getLogger(__name__)


CLOSE_TOO_SLOW = 4008


# Client frames read ahead of the consumer at most: beyond this the reader waits, so
# uvicorn's own bounded queue fills and it stops reading the socket (backpressure).
INBOX_SIZE = 64


class JsonSocketConsumer(AsyncWebsocketConsumer):
    max_frame_bytes = 16 * 1024
    socket_gone = False  # closed by either side: nothing more can be sent

    async def __call__(self, scope, receive, send):
        """Channels' ``AsyncConsumer.__call__`` with a cheaper event loop.

        Stock Channels waits on its two sources (the client, the channel layer) with
        ``asyncio.wait`` and a new task per message; here one long-lived reader per
        source feeds a bounded inbox that the consumer drains in arrival order. Same
        contract: messages are dispatched one at a time, ``StopConsumer`` ends it,
        and on exit the readers are cancelled (the channel layer then unsubscribes).
        """
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        inbox: asyncio.Queue = asyncio.Queue(maxsize=INBOX_SIZE)

        async def read(source) -> None:
            try:
                while True:
                    await inbox.put((await source(), None))
            except Exception as error:  # noqa: BLE001 - raised by the consumer's loop
                await inbox.put((None, error))

        readers = [asyncio.create_task(read(source)) for source in sources]
        try:
            while True:
                message, error = await inbox.get()
                if error is not None:
                    raise error
                await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    async def dispatch(self, message):
        """Channels' dispatch without its per-message ``close_old_connections``.

        Stock Channels hops to the ORM thread before *every* frame and group event to
        close stale database connections; at chat rates that hop, on the one shared
        thread, was the bottleneck of the room socket. Our consumers touch the
        database only through ``database_sync_to_async``, which closes stale
        connections on entering and leaving that thread, so the hop is redundant.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send(self, text_data=None, bytes_data=None, close=False):
        if self.socket_gone:
            return
        if text_data is not None:
            message = {"type": "websocket.send", "text": text_data}
        elif bytes_data is not None:
            message = {"type": "websocket.send", "bytes": bytes_data}
        else:
            message = None
        if message is not None:
            try:
                async with asyncio.timeout(settings.SOCKET_SEND_TIMEOUT):
                    await self.base_send(message)
            except TimeoutError:
                logger.warning(
                    "Closing %s: the client read nothing for %.0f s",
                    self.scope.get("path"),
                    settings.SOCKET_SEND_TIMEOUT,
                )
                self.socket_gone = True
                # The usual cleanup (disconnect(), leaving groups), then the consumer
                # ends; the server drops the connection when the application returns.
                await self.websocket_disconnect({"type": "websocket.disconnect", "code": 4008})
            except OSError:  # the peer went away; its websocket.disconnect follows
                self.socket_gone = True
                return
        if close:
            await self.close(close)

    async def close(self, code=None, reason=None):
        if self.socket_gone:
            return
        self.socket_gone = True
        with contextlib.suppress(OSError):  # the peer is already gone
            await super().close(code=code, reason=reason)

    async def websocket_disconnect(self, message):
        self.socket_gone = True
        await super().websocket_disconnect(message)

    async def refuse(self, code: int) -> None:
        """Accept only to close with an application close code the browser can read."""
        await self.accept()
        await self.close(code=code)

    async def refuse_unauthenticated(self) -> None:
        await self.refuse(CLOSE_NOT_AUTHENTICATED)

    async def refuse_forbidden(self) -> None:
        await self.refuse(CLOSE_FORBIDDEN)

    @property
    def user(self):
        return self.scope["user"]

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=orjson.dumps(content).decode())

    async def send_error(self, code: str, detail: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail})

    async def receive(self, text_data=None, bytes_data=None):
        raw = text_data if text_data is not None else bytes_data
        if raw is None:
            return
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > self.max_frame_bytes:
            await self.send_error(
                "frame_too_large", f"Frames are limited to {self.max_frame_bytes} bytes."
            )
            return
        try:
            content = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.send_error("invalid", "Frames must be JSON objects.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.send_error("invalid", 'Frames must be JSON objects with a "type".')
            return
        handler = getattr(self, "handle_" + content["type"].replace(".", "_"), None)
        if handler is None:
            await self.send_error("unknown_type", f"Unknown frame type {content['type']!r}.")
            return
        try:
            await handler(content)
        except AppError as error:
            await self.send_json({"type": "error", **error.as_dict()})

    async def handle_ping(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})
