"""Outbound webhooks: HR platforms subscribe per tenant to event types and receive them as signed CloudEvents
over HTTP. Rules: domain/webhooks.py; matching: handlers.py; sending: worker.py; API: api.py; SQL: repository.py."""

from services.notifications.webhooks.handlers import build_webhook_handlers
from services.notifications.webhooks.worker import run_webhook_worker

__all__ = ["build_webhook_handlers", "run_webhook_worker"]
