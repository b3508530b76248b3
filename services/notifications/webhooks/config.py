"""Webhook settings, from the service's `extra` mapping (environment variables NOTIFICATIONS_WEBHOOK_*)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from services.notifications.domain.webhooks import RetryPolicy
from shared.config import ConfigError, _bool


@dataclass(frozen=True)
class WebhookSettings:
    #: Development only: allow http URLs and receivers on loopback, private or link-local addresses.
    allow_insecure: bool = False
    #: How often the worker looks for due deliveries (seconds).
    interval: float = 1.0
    #: One attempt's whole time budget: connect, send, answer (seconds).
    timeout: float = 10.0
    #: How long a claimed delivery is reserved for its worker; a crashed worker's claim lapses after it.
    lease: float = 60.0
    #: Deliveries claimed (and sent concurrently) per pass.
    batch: int = 20
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def from_extra(cls, extra: Mapping[str, str]) -> WebhookSettings:
        e = dict(extra)
        try:
            settings = cls(
                allow_insecure=_bool(e.get("WEBHOOK_ALLOW_INSECURE", "false")),
                interval=float(e.get("WEBHOOK_INTERVAL", "1.0")),
                timeout=float(e.get("WEBHOOK_TIMEOUT", "10")),
                lease=float(e.get("WEBHOOK_LEASE", "60")),
                batch=int(e.get("WEBHOOK_BATCH", "20")),
                retry=RetryPolicy(
                    max_attempts=int(e.get("WEBHOOK_MAX_ATTEMPTS", "8")),
                    base=timedelta(seconds=float(e.get("WEBHOOK_BACKOFF_BASE", "60"))),
                    cap=timedelta(seconds=float(e.get("WEBHOOK_BACKOFF_CAP", str(6 * 3600)))),
                ),
            )
        except ValueError as exc:
            raise ConfigError(f"bad webhook setting (NOTIFICATIONS_WEBHOOK_*): {exc}") from exc
        if settings.lease <= settings.timeout:
            raise ConfigError("NOTIFICATIONS_WEBHOOK_LEASE must be longer than NOTIFICATIONS_WEBHOOK_TIMEOUT")
        if settings.interval <= 0 or settings.timeout <= 0 or settings.batch < 1:
            raise ConfigError("webhook interval and timeout must be positive, the batch at least 1")
        return settings
