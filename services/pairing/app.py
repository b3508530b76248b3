"""Wiring: the one place where the pairing service's parts are put together."""

from __future__ import annotations

from pathlib import Path

from services.pairing.api import build_api
from services.pairing.api.integration import integration_principal
from services.pairing.config import SERVICE, load_settings
from services.pairing.handler_table import build_handlers
from services.pairing.handlers import MATCH_RUN_DURATION
from services.pairing.retention import run_retention
from shared import registry
from shared.config import ServiceSettings
from shared.metrics import Metrics
from shared.runtime import ServiceHost, ServiceSpec, serve_process


def register_metrics(metrics: Metrics) -> None:
    """The pairing service's own metrics: how long match runs take (the optimiser may take seconds)."""
    metrics.histogram(
        MATCH_RUN_DURATION,
        "Time a match run takes, from reading who waits to the run recorded.",
        buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
    )


SPEC = ServiceSpec(
    name=SERVICE,
    migrations=Path(__file__).parent / "migrations",
    consumes=registry.consumes(SERVICE),
    handlers=build_handlers,
    api=build_api,
    background=[run_retention],
    static_tokens=integration_principal,
    metrics=register_metrics,
)


def bootstrap(settings: ServiceSettings | None = None) -> ServiceHost:
    return ServiceHost(SPEC, settings or load_settings())


def main() -> None:
    serve_process(bootstrap)
