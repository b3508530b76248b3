"""Matching: every subscribable event plans one delivery per subscription of its tenant that lists its type.

Side-effect handlers (the live consumer runs them, replay never does), in the consumer's transaction: the
delivery rows commit with the inbox row, and a delivery's id is uuid5(subscription, event id) with ON
CONFLICT DO NOTHING, so a redelivered event plans nothing new.
"""

from __future__ import annotations

from typing import Any

from services.notifications.domain import webhooks
from services.notifications.webhooks import repository as repo
from shared.consumer import Handlers
from shared.db import Conn
from shared.events import Envelope, model_for
from shared.runtime import ServiceHost


def build_webhook_handlers(host: ServiceHost | None = None) -> Handlers:
    h = Handlers()

    async def plan(conn: Conn, env: Envelope[Any]) -> None:
        subscriptions = await repo.subscribers(conn, env.tenant, env.type)
        if not subscriptions:
            return
        body = webhooks.body(env)
        await repo.plan_deliveries(
            conn,
            [(webhooks.delivery_id(s, env.id), s, env.tenant, env.id, env.type, body) for s in subscriptions],
        )

    h.on(*(model_for(t) for t in sorted(webhooks.SUBSCRIBABLE)), side_effects=True)(plan)
    return h
