"""The one list of services, and the wiring that must agree with it."""

from __future__ import annotations

import importlib

import pytest
import typer

from services import cli
from shared import registry
from shared.config import ServiceSettings
from shared.identity_provider.model import SERVICE_PORTS
from shared.topics import CONSUMERS, Topics


@pytest.mark.parametrize("service", registry.SERVICES, ids=lambda s: s.name)
def test_each_service_is_wired_as_registered(service: registry.Service) -> None:
    spec = importlib.import_module(service.app).SPEC
    assert spec.name == service.name == importlib.import_module(service.config).SERVICE
    topics = Topics(namespace="ns")
    settings = ServiceSettings(service=service.name, database_url="postgresql://x/y", topics=topics)
    assert spec.consumes(settings) == service.consumed_topics(topics)
    assert all(t.startswith("ns.") for t in service.owned_topics(topics) + service.consumed_topics(topics))


def test_ports_databases_and_prefixes_come_from_the_registry() -> None:
    assert registry.NAMES == ("pairing", "sessions", "notifications")
    assert len({s.port for s in registry.SERVICES}) == len(registry.SERVICES)
    assert SERVICE_PORTS == (8001, 8002, 8003)
    for s in registry.SERVICES:
        settings = ServiceSettings.from_env(s.name, {"DATABASE_URL": "postgresql://h/postgres"})
        assert (settings.http_port, settings.dsn) == (s.port, f"postgresql://h/{s.database}")
        assert ServiceSettings.from_env(s.name, {f"{s.prefix}DATABASE_URL": "postgresql://h/d"}).dsn.endswith("/d")
    assert CONSUMERS == ["pairing", "sessions", "notifications"]


def test_every_topic_is_owned_by_one_service_or_comes_from_outside() -> None:
    topics = Topics()
    owned = [t for s in registry.SERVICES for t in s.owned_topics(topics)]
    assert len(owned) == len(set(owned))
    assert sorted([*owned, topics.hr_inbound]) == sorted(topics.event_topics())


def test_the_cli_knows_the_services_from_the_registry() -> None:
    assert cli._service("sessions") == "sessions"
    with pytest.raises(typer.BadParameter, match="unknown service 'billing'; choose one of pairing, sessions"):
        cli._service("billing")
