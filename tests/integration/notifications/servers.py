"""Real peers for the notifications tests: an SMTP server (aiosmtpd) and an HTTP webhook receiver."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.localstack import free_port


@dataclass(frozen=True)
class Received:
    """One message as the server took it: the envelope (MAIL FROM, RCPT TOs, whether SMTPUTF8 was asked for)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    smtputf8: bool
    message: EmailMessage


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    #: set whenever a message's data has arrived (before the server answers it)
    arrived: threading.Event = field(default_factory=threading.Event)
    #: while holding, the answer to a message's data waits until `let_go()`: the sender cannot know it was taken
    holding: bool = False
    _released: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.received.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), envelope.smtp_utf8, message))
        held = self.holding
        self.arrived.set()
        if held:
            await asyncio.get_running_loop().run_in_executor(None, self._released.wait, 120)
        return "250 Message accepted for delivery"

    def hold(self) -> None:
        """Answer no message's data until `let_go()`; `arrived` is cleared to signal the next one."""
        self._released.clear()
        self.arrived.clear()
        self.holding = True

    def let_go(self) -> None:
        self.holding = False
        self._released.set()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["To"]]


class SmtpServer:
    """aiosmtpd on 127.0.0.1; `smtputf8`: whether it offers SMTPUTF8 (RFC 6531) in its answer to EHLO."""

    def __init__(self, *, smtputf8: bool = False) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.mailbox.let_go()
        self.controller.stop()


@dataclass
class Webhook:
    """A tiny HTTP/1.1 server on 127.0.0.1 that records JSON posts; answers `status`."""

    status: int = 200
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    port: int = 0
    server: asyncio.Server | None = None

    async def start(self) -> Webhook:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/tandem"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.received.append((headers, json.loads(body)))
        reason = "OK" if self.status < 400 else "Unavailable"
        writer.write(f"HTTP/1.1 {self.status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
