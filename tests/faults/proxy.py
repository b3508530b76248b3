"""A small TCP proxy (asyncio) between one service and the broker or Postgres, so that faults can add latency
and cut connections.

`TcpProxy` forwards bytes both ways. `latency` delays every chunk by that many seconds without limiting
throughput (each direction is a queue of (due time, bytes)); `cut(outage)` closes every open connection and
refuses new ones for `outage` seconds.

`KafkaProxy` also frames the Kafka protocol (4-byte size, then the message) so that it can make the broker
advertise the proxy: a client bootstraps through the proxy and then connects to whatever address the broker
names in its Metadata and FindCoordinator answers. Those two answers get the broker's port replaced by the
proxy's (same length, so no size changes), in both the classic (int16 length) and the compact (varint length)
string encodings of the host. Every other message passes untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from dataclasses import dataclass, field

METADATA, FIND_COORDINATOR = 3, 10


@dataclass
class ProxyStats:
    connections: int = 0
    cut: int = 0
    refused: int = 0


@dataclass
class TcpProxy:
    name: str
    upstream_port: int
    upstream_host: str = "127.0.0.1"
    port: int = 0
    latency: float = 0.0
    stats: ProxyStats = field(default_factory=ProxyStats)
    _server: asyncio.Server | None = field(default=None, init=False)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set, init=False)
    _refuse_until: float = field(default=0.0, init=False)

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.cut()
            await self._server.wait_closed()
            self._server = None

    def cut(self, outage: float = 0.0) -> int:
        """Close every open connection (both sides); refuse new ones for `outage` seconds. Returns how many."""
        self._refuse_until = max(self._refuse_until, time.monotonic() + outage)
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        self._writers.clear()
        self.stats.cut += len(writers) // 2
        return len(writers) // 2

    def heal(self) -> None:
        self.latency = 0.0
        self._refuse_until = 0.0

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if time.monotonic() < self._refuse_until:
            self.stats.refused += 1
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:
            client_w.transport.abort()
            return
        self.stats.connections += 1
        self._writers |= {client_w, server_w}
        session = self.session()
        try:
            await asyncio.gather(
                self._pipe(client_r, server_w, session.upstream),
                self._pipe(server_r, client_w, session.downstream),
            )
        finally:
            for writer in (client_w, server_w):
                self._writers.discard(writer)
                writer.transport.abort()

    def session(self) -> Session:
        return Session()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transform: Transform) -> None:
        """Read chunks, hold each for the latency in force when it arrived, write them in order."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def send() -> None:
            while (item := await queue.get()) is not None:
                due, data = item
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        try:
            while chunk := await reader.read(65536):
                for data in transform(chunk):
                    queue.put_nowait((time.monotonic() + self.latency, data))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            queue.put_nowait(None)
            with contextlib.suppress(OSError, ConnectionError):
                await sender
            writer.transport.abort()


class Transform:
    """Bytes in, bytes out (possibly buffered): the identity for plain TCP."""

    def __call__(self, chunk: bytes) -> list[bytes]:
        return [chunk]


@dataclass
class Session:
    upstream: Transform = field(default_factory=Transform)
    downstream: Transform = field(default_factory=Transform)


class _Frames(Transform):
    """Cuts a Kafka byte stream into whole messages (4-byte big-endian size, then the message)."""

    def __init__(self) -> None:
        self.buffer = b""

    def __call__(self, chunk: bytes) -> list[bytes]:
        self.buffer += chunk
        out = []
        while len(self.buffer) >= 4:
            size = struct.unpack(">i", self.buffer[:4])[0]
            if len(self.buffer) < 4 + size:
                break
            frame, self.buffer = self.buffer[: 4 + size], self.buffer[4 + size :]
            out.append(self.frame(frame))
        return out

    def frame(self, frame: bytes) -> bytes:
        return frame


class _Requests(_Frames):
    def __init__(self, pending: dict[int, int]) -> None:
        super().__init__()
        self.pending = pending

    def frame(self, frame: bytes) -> bytes:
        if len(frame) >= 12:
            api_key, _, correlation = struct.unpack(">hhi", frame[4:12])
            self.pending[correlation] = api_key
        return frame


class _Responses(_Frames):
    def __init__(self, pending: dict[int, int], replace: list[tuple[bytes, bytes]]) -> None:
        super().__init__()
        self.pending = pending
        self.replace = replace

    def frame(self, frame: bytes) -> bytes:
        if len(frame) < 8:
            return frame
        api_key = self.pending.pop(struct.unpack(">i", frame[4:8])[0], None)
        if api_key in (METADATA, FIND_COORDINATOR):
            for old, new in self.replace:
                frame = frame.replace(old, new)
        return frame


@dataclass
class KafkaProxy(TcpProxy):
    """A TcpProxy that makes the broker (advertised as 127.0.0.1:upstream_port) advertise the proxy instead."""

    def session(self) -> Session:
        pending: dict[int, int] = {}
        host = self.upstream_host.encode()
        old, new = struct.pack(">i", self.upstream_port), struct.pack(">i", self.port)
        replace = [
            (struct.pack(">h", len(host)) + host + old, struct.pack(">h", len(host)) + host + new),
            (bytes([len(host) + 1]) + host + old, bytes([len(host) + 1]) + host + new),  # compact string
        ]
        return Session(_Requests(pending), _Responses(pending, replace))
