"""Wiring: the one place where the pairing service's parts are put together."""

from __future__ import annotations

from pathlib import Path

from services.pairing.api import build_api
from services.pairing.api.integration import integration_principal
from services.pairing.config import SERVICE, load_settings
from services.pairing.handler_table import build_handlers
from shared import registry
from shared.config import ServiceSettings
from shared.runtime import ServiceHost, ServiceSpec, serve_process

SPEC = ServiceSpec(
    name=SERVICE,
    migrations=Path(__file__).parent / "migrations",
    consumes=registry.consumes(SERVICE),
    handlers=build_handlers,
    api=build_api,
    static_tokens=integration_principal,
)


def bootstrap(settings: ServiceSettings | None = None) -> ServiceHost:
    return ServiceHost(SPEC, settings or load_settings())


def main() -> None:
    serve_process(bootstrap)
