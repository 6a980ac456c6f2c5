"""Base WebSocket consumer: JSON frames with a ``type``, refusals as error frames.

Subclasses implement ``handle_<type>`` coroutines (dots in the type become
underscores); every refusal is ``{"type": "error", "code", "detail"}`` and the
socket stays open.
"""

import logging
from typing import Any

import orjson
from channels.generic.websocket import AsyncWebsocketConsumer

from skilllink.errors import AppError
from skilllink.ws_auth import CLOSE_FORBIDDEN, CLOSE_NOT_AUTHENTICATED

logger = logging.getLogger(__name__)


class JsonSocketConsumer(AsyncWebsocketConsumer):
    max_frame_bytes = 16 * 1024

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
