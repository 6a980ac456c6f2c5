"""A minimal Socket.IO client for the load generator: Engine.IO v4 / Socket.IO v5 over
``bench.wsclient``'s WebSocket (the ``websocket`` transport only, no long-polling).

What it speaks, as the Socket.IO protocol documents it:

- Engine.IO packets are text frames whose first character is the type: ``0`` open
  (the server's handshake: ``sid``, ``pingInterval``...), ``2`` ping (answered with
  ``3`` pong at once), ``4`` message (the Socket.IO packet follows), ``1`` close.
- Socket.IO packets (after the ``4``) on the main namespace: ``0`` CONNECT with the
  auth payload (``40{"token": ..., "booking": ...}``), answered by ``40{"sid": ...}``
  or ``44{"message": ...}`` (refused); ``2`` EVENT, ``42["name", data]``.

Events are handed on as the same dicts SkillLink's sockets send (``{"type": name,
**data}``), so the benchmark handles both servers' frames with one function, and each
received frame costs one JSON parse on either side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import urlsplit

import orjson

from bench.wsclient import RawWebSocket


class SocketIOError(Exception):
    pass


class SocketIOWebSocket(RawWebSocket):
    def __init__(self, host: str, target: str, auth: dict) -> None:
        super().__init__(host, target)
        self.auth = auth
        self.connected: asyncio.Future = asyncio.get_running_loop().create_future()
        self.pings = 0
        self.on_frame: Callable[[dict], None] | None = None
        self.frames: list[dict] = []  # events before a handler is set

    def _text(self, text: str) -> None:
        kind = text[:1]
        if kind == "2":  # Engine.IO ping: pong at once, or the server drops us
            self.pings += 1
            self._write(0x1, b"3" + text[1:].encode())
        elif kind == "4":
            self._packet(text[1:])
        elif kind == "0":  # Engine.IO open: now connect to the main namespace
            self.send("40" + orjson.dumps(self.auth).decode())
        elif kind == "1":
            self.transport.close()

    def _packet(self, packet: str) -> None:
        kind = packet[:1]
        if kind == "2":
            name, *args = orjson.loads(packet[1:])
            frame = {"type": name, **(args[0] if args and isinstance(args[0], dict) else {})}
            if self.on_frame is None:
                self.frames.append(frame)
            else:
                self.on_frame(frame)
        elif kind == "0":
            if not self.connected.done():
                self.connected.set_result(orjson.loads(packet[1:] or b"{}"))
        elif kind == "4":
            if not self.connected.done():
                self.connected.set_exception(SocketIOError(packet[1:]))
        elif kind == "1":  # the server disconnected us from the namespace
            self.transport.close()

    def connection_lost(self, exc) -> None:
        if not self.connected.done():
            self.connected.set_exception(SocketIOError(f"connection lost: {exc}"))
        super().connection_lost(exc)

    def emit(self, name: str, data: dict) -> None:
        self.send("42" + orjson.dumps([name, data]).decode())

    async def first_frame(self, timeout: float) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.frames:
            if self.closed.done():
                raise ConnectionError("closed before its first event")
            if loop.time() > deadline:
                raise TimeoutError("no first event")
            await asyncio.sleep(0.01)
        return self.frames.pop(0)


async def connect(base_url: str, auth: dict, timeout: float = 60.0) -> SocketIOWebSocket:
    """Open ``ws://host:port`` + ``/socket.io/?EIO=4&transport=websocket`` and connect to
    the main namespace with ``auth``; raises ``SocketIOError`` when the server refuses."""
    parts = urlsplit(base_url)
    target = "/socket.io/?EIO=4&transport=websocket"
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(
        loop.create_connection(
            lambda: SocketIOWebSocket(parts.netloc, target, auth), parts.hostname, parts.port or 80
        ),
        timeout,
    )
    await asyncio.wait_for(protocol.handshake, timeout)
    await asyncio.wait_for(protocol.connected, timeout)
    return protocol
