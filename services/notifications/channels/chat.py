"""A chat webhook (Slack- or Teams-style JSON over HTTPS) with the notification's Message-ID (without its angle
brackets: `<id>@<sender's domain>`) as Idempotency-Key, the same on every attempt, as the mail would carry.

Where it may point is bounded (domain/chat.py): https, a host on the tenant's list, public addresses only;
checked when a person saves the URL and again before every message. Redirects are never followed: a 3xx
answer fails the notification, naming where it pointed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import httpx

from services.notifications.channels import Outgoing, PermanentDeliveryError, TransientDeliveryError
from services.notifications.domain import mail
from services.notifications.domain.chat import FIELD, check_chat_url
from services.notifications.domain.webhooks import Target, check_addresses, describe_failure
from services.notifications.webhooks.network import check_resolved, resolve
from shared.errors import InvalidInput


async def check_chat_target(url: str, allowed: Collection[str], *, allow_insecure: bool) -> Target:
    """The URL's parts when it passes every rule: https (http in development), its host on the tenant's list
    `allowed`, and resolving to public addresses only (any where the development setting allows it);
    InvalidInput naming `chat_webhook_url` otherwise. When a person saves the URL."""
    target = check_chat_url(url, allowed, allow_insecure=allow_insecure)
    await check_resolved(target, allow_insecure=allow_insecure, field=FIELD)
    return target


async def check_before_send(url: str, allowed: Collection[str], *, allow_insecure: bool) -> None:
    """The same rules before a message is posted: PermanentDeliveryError with the reason when the URL breaks one
    (the notification fails; HR can resend it once the cause is gone); TransientDeliveryError when its host does
    not resolve right now (tried again later, as an unreachable receiver is)."""
    try:
        target = check_chat_url(url, allowed, allow_insecure=allow_insecure)
        addresses = await resolve(target.host, target.port)
        if not addresses:
            raise TransientDeliveryError(f"chat webhook host {target.host} does not resolve")
        check_addresses(target.host, addresses, allow_private=allow_insecure, field=FIELD)
    except InvalidInput as exc:
        raise PermanentDeliveryError(f"chat webhook refused: {exc.message}") from exc


@dataclass(frozen=True)
class ChatPost:
    url: str
    payload: dict[str, Any]
    idempotency_key: str


class WebhookChannel:
    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def prepare(self, message: Outgoing) -> ChatPost:
        subject = mail.single_line(message.subject)
        payload = {
            "text": f"*{subject}*\n{message.text}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": subject[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:2900]}},
            ],
        }
        return ChatPost(message.to_address, payload, mail.idempotency_key(message.message_id))

    async def send(self, prepared: ChatPost) -> str:
        """Post the message; the receiver's answer once it took it (2xx)."""
        try:
            # no redirects; no proxies from the environment: the address rules apply to the receiver itself
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, trust_env=False) as client:
                r = await client.post(
                    prepared.url, json=prepared.payload, headers={"Idempotency-Key": prepared.idempotency_key}
                )
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(f"webhook unreachable: {exc}") from exc
        if 300 <= r.status_code < 400:
            location = r.headers.get("location", "")
            raise PermanentDeliveryError(
                "webhook " + describe_failure(r.status_code, None, {"location": location} if location else None)
            )
        if r.status_code >= 500 or r.status_code == 429:
            raise TransientDeliveryError(f"webhook answered {r.status_code}")
        if r.status_code >= 400:
            raise PermanentDeliveryError(f"webhook refused: {r.status_code} {r.text[:200]}")
        return f"HTTP {r.status_code}"
