"""A lean HTTP/1.1 load generator: keep-alive connections on asyncio streams, one request at a time each.

The latency benchmark shares two cores with the services it measures, so the client must cost as little
as it can: a general-purpose client (httpx) spends about 1.5 ms of CPU per request here and its pool adds
queueing at the tail, which the benchmark would then report as the system's latency. This one writes the
request bytes, reads the status line, headers and a Content-Length body, and nothing else.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class HttpError(Exception):
    pass


class Client:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        #: Sent with every request (e.g. Authorization); a Content-Type here replaces application/json.
        self.headers = dict(headers or {})
        self._type = next((v for k, v in self.headers.items() if k.lower() == "content-type"), "application/json")
        self._extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items() if k.lower() != "content-type")
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._all: list[asyncio.StreamWriter] = []

    async def post(self, path: str, body: Any = None) -> tuple[int, bytes]:
        """POST `body` as JSON (no body when None); returns the status and the response body."""
        return await self.request("POST", path, body)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path)

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(data)}\r\n{self._extra}"
        if data:
            head += f"Content-Type: {self._type}\r\n"
        request = head.encode() + b"\r\n" + data
        for _ in range(2):
            conn = await self._take()
            reader, writer = conn
            writer.write(request)
            if status_line := await reader.readline():
                break
            writer.close()  # the server closed an idle connection before reading the request: use a new one
        else:
            raise HttpError("connection closed by the server")
        status = int(status_line.split(b" ", 2)[1])
        length, keep_alive = 0, True
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep_alive = False
        payload = await reader.readexactly(length) if length else b""
        if keep_alive:
            self._idle.append(conn)
        else:
            writer.close()
        return status, payload

    async def _take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle:
            reader, writer = self._idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return await self._connect()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._all.append(writer)
        return reader, writer

    async def close(self) -> None:
        for writer in self._all:
            writer.close()
        self._all.clear()
        self._idle.clear()
