"""The notifications service's handlers, in one table: what runs for each event it consumes (from the pairing
and sessions topics) and what it leaves alone. app.py wires this table, the contracts are generated from it,
and tests/unit/test_handler_tables.py checks it covers every event type of the topics the service consumes.

The service has no command handlers of the write-model kind: its API changes preferences, resends and
manages webhook subscriptions straight through its repositories, and the dispatcher and webhook worker are
background loops (app.py)."""

from __future__ import annotations

from services.notifications import personal_data, projection
from services.notifications.webhooks import build_webhook_handlers
from shared.consumer import Handlers
from shared.runtime import ServiceHost


def build_handlers(host: ServiceHost | None = None) -> Handlers:
    """Every event handler of the service. For one event type they run in this order, in one transaction:
    the read model, then the rules that plan notifications (projection.py), then the webhook planner
    (webhooks/handlers.py), which sees the event applied."""
    h = Handlers()
    h.include(personal_data.build_side_effects(host))  # reads the names before the read model scrubs them
    h.include(projection.build_handlers(host))
    h.include(personal_data.build_projection(host))
    h.include(build_webhook_handlers(host))
    return h


#: Event types of the consumed topics that no handler takes, and why.
IGNORED: dict[str, str] = {}
