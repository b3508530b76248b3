"""A chat webhook (Slack- or Teams-style JSON over HTTPS) with the notification id as idempotency key."""

from __future__ import annotations

import httpx

from services.notifications.channels import Outgoing, PermanentDeliveryError, TransientDeliveryError


class WebhookChannel:
    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    async def send(self, message: Outgoing) -> None:
        payload = {
            "text": f"*{message.subject}*\n{message.text}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:2900]}},
            ],
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                r = await client.post(
                    message.to_address, json=payload, headers={"Idempotency-Key": message.notification_id}
                )
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(f"webhook unreachable: {exc}") from exc
        if r.status_code >= 500 or r.status_code == 429:
            raise TransientDeliveryError(f"webhook answered {r.status_code}")
        if r.status_code >= 400:
            raise PermanentDeliveryError(f"webhook refused: {r.status_code} {r.text[:200]}")
