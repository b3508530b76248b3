"""Delivery channels: e-mail over SMTP and a chat webhook. Both raise TransientDeliveryError (try again
later) or PermanentDeliveryError (do not retry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class DeliveryError(Exception):
    pass


class TransientDeliveryError(DeliveryError):
    pass


class PermanentDeliveryError(DeliveryError):
    pass


@dataclass(frozen=True)
class Outgoing:
    notification_id: str
    to_address: str  # an e-mail address or a webhook URL
    to_name: str
    subject: str
    text: str
    attachments: tuple[tuple[str, str, bytes], ...] = field(default_factory=tuple)


class Channel(Protocol):
    async def send(self, message: Outgoing) -> None: ...
