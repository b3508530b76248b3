"""Wiring: the one place where the sessions service's parts are put together."""

from __future__ import annotations

from pathlib import Path

from services.sessions.api import build_api
from services.sessions.config import SERVICE, load_settings
from services.sessions.handler_table import build_handlers
from shared import registry
from shared.config import ServiceSettings
from shared.runtime import ServiceHost, ServiceSpec, serve_process

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
    serve_process(bootstrap)
