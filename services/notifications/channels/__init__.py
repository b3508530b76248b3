"""Delivery channels: e-mail over SMTP and a chat webhook.

A message is first prepared (`prepare`: addressed and built, with everything checked that can be checked without
sending), then sent (`send`: the server's reply once it took the message). Both raise PermanentDeliveryError (the
notification fails with the reason: nothing would change on another try) or, `send` only, TransientDeliveryError
(try again later)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class DeliveryError(Exception):
    pass


class TransientDeliveryError(DeliveryError):
    pass


class PermanentDeliveryError(DeliveryError):
    pass


@dataclass(frozen=True)
class Outgoing:
    notification_id: str
    #: `<notification id@sender's domain>`: the same on every attempt (a chat message's Idempotency-Key too)
    message_id: str
    to_address: str  # an e-mail address or a webhook URL
    to_name: str
    subject: str
    text: str
    attachments: tuple[tuple[str, str, bytes], ...] = field(default_factory=tuple)


class Channel(Protocol):
    def prepare(self, message: Outgoing) -> Any: ...

    async def send(self, prepared: Any) -> str: ...
