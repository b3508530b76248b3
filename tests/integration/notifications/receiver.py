"""A real HTTP receiver for the webhook tests: records every request byte for byte, answers as scripted."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from tests.integration.notifications.servers import LocalHttp


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver(LocalHttp):
    """HTTP/1.1 on 127.0.0.1. Each request takes the next status of `script`, then `status`; `location` is sent
    with 3xx answers; while `hold` is set, requests are read and recorded but never answered."""

    status: int = 200
    script: list[int] = field(default_factory=list)
    location: str = ""
    hold: bool = False
    received: list[Received] = field(default_factory=list)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: several requests may come on one connection
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.received.append(Received(headers, body, time.monotonic()))
                if self.hold:
                    await reader.read()  # until the sender gives up or goes away
                    return
                status = self.script.pop(0) if self.script else self.status
                extra = f"Location: {self.location}\r\n" if 300 <= status < 400 and self.location else ""
                writer.write(f"HTTP/1.1 {status} Scripted\r\n{extra}Content-Length: 0\r\n\r\n".encode())
                await writer.drain()
        finally:
            writer.close()
