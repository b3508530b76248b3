"""Builds each service's AsyncAPI from its wiring (the topics it consumes and the handlers it has)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from shared import contracts, registry
from shared.config import ServiceSettings
from shared.events import audit
from shared.runtime import ServiceHost, ServiceSpec
from shared.topics import Topics

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "docs" / "contracts"
#: What each service publishes: the pairing service also writes the employee directory's history, and every
#: service its signed checkpoints (shared.events.audit).
SOURCES = {s.name: [*s.sources, audit.SOURCE] for s in registry.SERVICES}
SPECS: list[ServiceSpec] = [importlib.import_module(s.app).SPEC for s in registry.SERVICES]


def service_asyncapi(spec: ServiceSpec) -> dict[str, Any]:
    topics = Topics()
    settings = ServiceSettings(service=spec.name, database_url="postgresql://unused/unused", topics=topics)
    host = ServiceHost(spec, settings)  # not started: only its wiring is read
    handled = sorted(spec.handlers(host).by_type)
    consumed = spec.consumes(settings)
    by_topic = {t: [h for h in handled if topics.for_source(_source_of(h)) == t] for t in consumed}
    return contracts.asyncapi(
        spec.name, SOURCES[spec.name], by_topic, topics.dead_letter(spec.name) if consumed else None, topics
    )


def _source_of(event_type: str) -> str:
    from shared.events import model_for

    return model_for(event_type).SOURCE


def expected() -> dict[str, str]:
    return contracts.expected_files({spec.name: service_asyncapi(spec) for spec in SPECS})
