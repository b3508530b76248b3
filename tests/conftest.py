"""One harness, three sources of infrastructure (see shared.infra): environment variables, then
testcontainers when a Docker daemon answers, then the embedded Postgres + Tansu pair.

Tests isolate themselves with unique topic namespaces and unique databases, never by cleaning up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from shared.config import ServiceSettings
from shared.db import ensure_database
from shared.infra import Infra, provide
from shared.runtime import ServiceHost, ServiceSpec
from shared.topics import Topics, ensure_topics

logging.getLogger("aiokafka").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with provide() as provided:
        print(f"\n[tandem] infrastructure: {provided.source} kafka={provided.kafka_bootstrap}")
        yield provided


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def topics() -> Topics:
    return Topics(namespace=unique("t"), partitions=3)


@pytest.fixture
async def new_database(infra: Infra) -> Callable[[str], Awaitable[str]]:
    async def make(prefix: str = "db") -> str:
        return await ensure_database(infra.postgres_dsn, unique(prefix))

    return make


@pytest.fixture
async def created_topics(infra: Infra, topics: Topics) -> Topics:
    await ensure_topics(infra.kafka_bootstrap, topics)
    return topics


HostFactory = Callable[..., Awaitable[ServiceHost]]


@pytest.fixture
async def start_service(
    infra: Infra, created_topics: Topics, new_database: Callable[[str], Awaitable[str]]
) -> AsyncIterator[HostFactory]:
    """Start a service in-process against the test infrastructure, with its own fresh database."""
    hosts: list[ServiceHost] = []

    async def start(spec: ServiceSpec, *, database_url: str | None = None, **overrides: object) -> ServiceHost:
        settings = ServiceSettings(
            service=spec.name,
            database_url=database_url or await new_database(spec.name),
            kafka_bootstrap_servers=infra.kafka_bootstrap,
            kafka_enable_idempotence=infra.kafka_idempotence,
            topics=created_topics,
            relay_poll_interval=0.2,
            kafka_session_timeout_ms=infra.session_timeout_ms,
            kafka_heartbeat_interval_ms=infra.heartbeat_interval_ms,
            **overrides,  # type: ignore[arg-type]
        )
        host = ServiceHost(spec, settings)
        await host.start()
        hosts.append(host)
        return host

    yield start
    for host in reversed(hosts):
        await host.stop()
