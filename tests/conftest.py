"""One harness, three sources of infrastructure (see shared.infra): environment variables, then
testcontainers when a Docker daemon answers, then the embedded Postgres + Tansu pair.

Tests isolate themselves with unique topic namespaces and unique databases, never by cleaning up.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from shared import registry
from shared.auth import AuthSettings
from shared.config import ServiceSettings
from shared.db import ensure_database
from shared.identity_provider import LocalIdentityProvider
from shared.infra import Infra, provide
from shared.localstack import free_port
from shared.runtime import ServiceHost, ServiceSpec
from shared.topics import CONSUMERS, Topics, ensure_topics
from tests.health import answers, ready
from tests.integration.notifications.servers import SmtpServer
from tests.kafka_helpers import eventually

logging.getLogger("aiokafka").setLevel(logging.ERROR)


@pytest.fixture(scope="session", autouse=True)
def identity_provider() -> Iterator[LocalIdentityProvider]:
    """A real OpenID Connect provider on 127.0.0.1 for the whole session: the services verify its tokens,
    and tests get theirs from it through the real flows (tests/auth.py)."""
    from tests import auth

    with LocalIdentityProvider() as idp:
        auth.use(idp)
        yield idp


def auth_settings(idp: LocalIdentityProvider) -> AuthSettings:
    return AuthSettings(issuer=idp.issuer, audience=idp.audience, tenants=frozenset({"*"}))


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
    """The system's topics, plus the dead-letter topics of the tests' own consumers (no topic is
    ever auto-created: shared.topics)."""
    await ensure_topics(infra.kafka_bootstrap, topics, topics.all_topics([*CONSUMERS, "counter", "replaytest"]))
    return topics


HostFactory = Callable[..., Awaitable[ServiceHost]]


@pytest.fixture
async def start_service(
    infra: Infra,
    created_topics: Topics,
    new_database: Callable[[str], Awaitable[str]],
    identity_provider: LocalIdentityProvider,
) -> AsyncIterator[HostFactory]:
    """Start a service in-process against the test infrastructure, with its own fresh database."""
    hosts: list[ServiceHost] = []

    async def start(spec: ServiceSpec, *, database_url: str | None = None, **overrides: object) -> ServiceHost:
        """`overrides` are ServiceSettings fields (e.g. tenants=frozenset({"acme"}), auth=...)."""
        options: dict[str, object] = {
            "kafka_bootstrap_servers": infra.kafka_bootstrap,
            "kafka_enable_idempotence": infra.kafka_idempotence,
            "topics": created_topics,
            "relay_poll_interval": 0.2,
            "kafka_session_timeout_ms": infra.session_timeout_ms,
            "kafka_heartbeat_interval_ms": infra.heartbeat_interval_ms,
            "kafka_fetch_max_wait_ms": infra.fetch_max_wait_ms,
            "tenants": frozenset({"*"}),
            "auth": auth_settings(identity_provider),
            **overrides,
        }
        settings = ServiceSettings(
            service=spec.name,
            database_url=database_url or await new_database(spec.name),
            **options,  # type: ignore[arg-type]
        )
        host = ServiceHost(spec, settings)
        await host.start()
        hosts.append(host)
        return host

    yield start
    for host in reversed(hosts):
        await host.stop()


@dataclass
class Running:
    host: ServiceHost
    url: str


ServeFactory = Callable[..., Awaitable[Running]]


@pytest.fixture
async def serve(start_service: HostFactory) -> AsyncIterator[ServeFactory]:
    """Start a service and its real HTTP server on a free port; yields a factory."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def run(spec: ServiceSpec, *, port: int | None = None, **overrides: object) -> Running:
        """Serve `spec` on `port` (a free one by default); `overrides` as for start_service."""
        host = await start_service(spec, **overrides)
        port = port or free_port()
        server = host.http_server(port)
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        url = f"http://127.0.0.1:{port}"
        await answers(url)
        return Running(host, url)

    yield run
    for server, _ in servers:
        server.should_exit = True
    await asyncio.gather(*(task for _, task in servers))


#: Every service of the system (shared.registry), as the tests start them.
SPECS: list[ServiceSpec] = [importlib.import_module(s.app).SPEC for s in registry.SERVICES]
ServeAllFactory = Callable[..., Awaitable[dict[str, Running]]]


@pytest.fixture
async def serve_all(serve: ServeFactory) -> ServeAllFactory:
    """Start the whole system, each service with its HTTP server, and wait until all are ready. Keyword
    arguments, by service name, are that service's overrides: `await serve_all(notifications={"extra": ...})`."""

    async def run(**overrides: dict[str, object]) -> dict[str, Running]:
        running = {spec.name: await serve(spec, **overrides.get(spec.name, {})) for spec in SPECS}
        for service in running.values():
            await eventually(lambda url=service.url: ready(url))
        return running

    return run


@pytest.fixture
def site_smtp() -> Iterator[SmtpServer]:
    """The mail server of `serve_site`'s notifications service (never whatever listens on the default port)."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
async def serve_site(serve: ServeFactory, site_smtp: SmtpServer) -> ServeAllFactory:
    """The whole system as the browser pages see it: each service on a free port it knows in advance, every
    service told the others' public URLs (the pages call all three APIs) and allowing their origins (CORS); the
    notifications service sends through `site_smtp` at once (no feedback grace). Keyword arguments as for
    serve_all (a notifications `extra` is merged over the mail settings)."""

    async def run(**overrides: dict[str, object]) -> dict[str, Running]:
        ports = {spec.name: free_port() for spec in SPECS}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        mail = {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(site_smtp.port),
            "DISPATCH_INTERVAL": "0.05",
            "SCAN_INTERVAL": "3600",
            "FEEDBACK_GRACE_SECONDS": "0",
        }
        running = {}
        for spec in SPECS:
            own = dict(overrides.get(spec.name, {}))
            if spec.name == "notifications":
                own["extra"] = {**mail, **dict(own.get("extra") or {})}  # type: ignore[call-overload]
            given = {"public_urls": urls, "web_origins": tuple(urls.values()), **own}
            running[spec.name] = await serve(spec, port=ports[spec.name], **given)
        for service in running.values():
            await eventually(lambda url=service.url: ready(url))
        return running

    return run
