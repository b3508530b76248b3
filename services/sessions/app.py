"""Wiring: the one place where the sessions service's parts are put together."""

from __future__ import annotations

import logging
from pathlib import Path

from services.sessions.api import build_api
from services.sessions.config import SERVICE, load_settings
from services.sessions.handler_table import build_handlers
from shared import registry
from shared.config import ServiceSettings
from shared.runtime import ServiceHost, ServiceSpec, run

SPEC = ServiceSpec(
    name=SERVICE,
    migrations=Path(__file__).parent / "migrations",
    consumes=registry.consumes(SERVICE),
    handlers=build_handlers,
    api=build_api,
)


def bootstrap(settings: ServiceSettings | None = None) -> ServiceHost:
    return ServiceHost(SPEC, settings or load_settings())


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run(bootstrap().serve())
