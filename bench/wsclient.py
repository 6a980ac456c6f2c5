"""A minimal WebSocket client for load generators: one asyncio ``Protocol`` per socket,
frames parsed in ``data_received`` and handed to a callback, no per-frame futures or
queues.

The chat benchmark runs its load generator on the same 2-core machine as the two
servers it measures, so whatever CPU the generator spends is taken from them. The
``websockets`` client (a task, queue and future per received frame, a lock per send)
needed about a third of a core for 400 sockets at 2,000 messages a second; this one
does the same work with a fraction of that. It speaks just what the benchmark needs
(RFC 6455): the opening handshake, masked text frames out, text/ping/close frames in
(unfragmented: the servers never fragment these small frames), pongs back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections.abc import Callable
from urllib.parse import urlsplit

from websockets.speedups import apply_mask

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


class HandshakeError(Exception):
    pass


class RawWebSocket(asyncio.Protocol):
    def __init__(self, host: str, target: str) -> None:
        self.host = host
        self.target = target
        self.key = base64.b64encode(os.urandom(16))
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.open = False
        self.closed = asyncio.get_running_loop().create_future()
        self.handshake: asyncio.Future = asyncio.get_running_loop().create_future()
        self.backlog: list[str] = []  # text frames before a handler is set
        self.on_text: Callable[[str], None] | None = None

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(
            b"GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (self.target.encode(), self.host.encode(), self.key)
        )

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 4 :]
            self._check_handshake(head)
        self._frames()

    def connection_lost(self, exc) -> None:
        self.open = False
        if not self.handshake.done():
            self.handshake.set_exception(HandshakeError(f"connection lost: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    # --- frames ----------------------------------------------------------------------

    def _check_handshake(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        accept = base64.b64encode(hashlib.sha1(self.key + GUID).digest())  # noqa: S324 - RFC 6455
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(b":") for line in lines[1:])
        }
        if b" 101 " not in lines[0] + b" " or headers.get(b"sec-websocket-accept") != accept:
            self.handshake.set_exception(HandshakeError(lines[0].decode(errors="replace")))
            self.transport.close()
            return
        self.open = True
        self.handshake.set_result(None)

    def _frames(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            length, offset = second & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                (length,) = struct.unpack_from("!H", buffer, 2)
                offset = 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                (length,) = struct.unpack_from("!Q", buffer, 2)
                offset = 10
            if len(buffer) < offset + length:
                return
            payload = bytes(buffer[offset : offset + length])
            del buffer[: offset + length]
            opcode = first & 0x0F
            if opcode == OP_TEXT:
                self._text(payload.decode())
            elif opcode == OP_PING:
                self._write(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                if self.open:
                    self._write(OP_CLOSE, payload[:2])
                self.open = False
                self.transport.close()
                return

    def _text(self, text: str) -> None:
        if self.on_text is None:
            self.backlog.append(text)
        else:
            self.on_text(text)

    def _write(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        self.transport.write(header + mask + apply_mask(payload, mask))

    # --- API -------------------------------------------------------------------------

    def send(self, text: str) -> None:
        if not self.open:
            raise ConnectionError("the socket is closed")
        self._write(OP_TEXT, text.encode())

    async def first_text(self, timeout: float) -> str:
        """The first text frame (read before ``on_text`` is set)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.backlog:
            if self.closed.done():
                raise ConnectionError("closed before its first frame")
            if loop.time() > deadline:
                raise TimeoutError("no first frame")
            await asyncio.sleep(0.01)
        return self.backlog.pop(0)

    async def close(self, timeout: float = 2.0) -> None:
        if self.open:
            self._write(OP_CLOSE, struct.pack("!H", 1000))
            self.open = False
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except TimeoutError:
            self.transport.close()


async def connect(url: str, timeout: float = 60.0) -> RawWebSocket:
    """Open ``ws://host:port/path?query`` and complete the handshake."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(
        loop.create_connection(
            lambda: RawWebSocket(parts.netloc, target), parts.hostname, parts.port or 80
        ),
        timeout,
    )
    await asyncio.wait_for(protocol.handshake, timeout)
    return protocol
