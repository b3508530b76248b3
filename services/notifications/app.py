"""Wiring: the one place where the notifications service's parts are put together."""

from __future__ import annotations

from pathlib import Path

from services.notifications import repository
from services.notifications.api import build_api
from services.notifications.config import SERVICE, load_settings
from services.notifications.dispatch import run_dispatcher
from services.notifications.handler_table import build_handlers
from services.notifications.webhooks import run_webhook_worker
from shared.config import ServiceSettings
from shared.metrics import Metrics
from shared.runtime import ServiceHost, ServiceSpec, serve_process

#: Every state a notification may be in (the CHECK of notifications.status): each is shown, 0 when none.
NOTIFICATION_STATES = ("planned", "sending", "sent", "failed", "cancelled", "skipped")


def register_metrics(metrics: Metrics) -> None:
    """The notifications service's own metrics: its notifications by state (an index-only count: 0006)."""
    metrics.db_gauge(
        "tandem_notifications",
        "Notifications by state.",
        "state",
        repository.count_by_state,
        known=NOTIFICATION_STATES,
    )


SPEC = ServiceSpec(
    name=SERVICE,
    migrations=Path(__file__).parent / "migrations",
    consumes=lambda s: [s.topics.pairing, s.topics.sessions],
    handlers=build_handlers,
    api=build_api,
    background=[run_dispatcher, run_webhook_worker],
    metrics=register_metrics,
)


def bootstrap(settings: ServiceSettings | None = None) -> ServiceHost:
    return ServiceHost(SPEC, settings or load_settings())


def main() -> None:
    serve_process(bootstrap)
