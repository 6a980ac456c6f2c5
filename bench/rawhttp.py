"""A minimal keep-alive HTTP/1.1 client on asyncio streams (loopback only, no dependency)."""

from __future__ import annotations

import asyncio
import contextlib
import json


class HttpConnection:
    def __init__(self, host: str, port: int, timeout: float = 10.0):
        if host not in {"127.0.0.1", "localhost"}:
            raise ValueError("The benchmark client talks to loopback only.")
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout
        )

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._reader = self._writer = None

    async def request(
        self, method: str, path: str, *, body: dict | None = None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        return await asyncio.wait_for(self._request(method, path, body, headers), self.timeout)

    async def _request(self, method, path, body, headers) -> tuple[int, bytes]:
        if self._writer is None:
            await self._connect()
        payload = json.dumps(body).encode() if body is not None else b""
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Accept: application/json",
            f"Content-Length: {len(payload)}",
        ]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        fields = {}
        for line in header_lines:
            if ":" in line:
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
        if "content-length" in fields:
            content = await self._reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            content = b""
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await self._reader.readexactly(size + 2)
                if size == 0:
                    break
                content += chunk[:-2]
        else:
            content = await self._reader.read()
            await self.close()
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, content
