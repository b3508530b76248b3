"""Runs one service: migrations, topics, pool, outbox relay, idempotent consumer and HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Response
from faststream.kafka import KafkaBroker

from shared import personal
from shared.auth import Principal, TokenVerifier
from shared.brokerguard import BrokerGuard
from shared.chain import Checkpoint
from shared.config import ConfigError, ServiceSettings
from shared.consumer import Handlers, InboxConsumer
from shared.db import (
    ListenConnection,
    check_migrations,
    create_pool,
    database_missing,
    database_name,
    ensure_database,
    migrate,
    server_of,
    with_database,
)
from shared.errors import Unauthorized
from shared.failures import DATABASE_UNAVAILABLE
from shared.health import Watchdog
from shared.keymirror import KeyMirror
from shared.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from shared.metrics import Metrics, ServiceMetrics
from shared.outbox import OutboxRelay
from shared.personal import Keyring
from shared.production import (
    StartRefused,
    missing_database_message,
    production_mode,
    signing_key_message,
    topics_message,
    unmigrated_message,
)
from shared.registry import CONSUMERS
from shared.tamper import SigningKeyError, load_signing_key, write_checkpoint
from shared.telemetry import configure_logging, configure_tracing, log_context, shutdown_tracing
from shared.topics import check_topics, ensure_topics
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class ServiceSpec:
    """What a service is: its name, migrations, the topics it consumes, its handlers and its API."""

    name: str
    migrations: Path
    consumes: Callable[[ServiceSettings], list[str]]
    handlers: Callable[[ServiceHost], Handlers]
    api: Callable[[ServiceHost], FastAPI]
    background: list[Callable[[ServiceHost], Coroutine[Any, Any, None]]] = field(default_factory=list)
    #: Callers that present something other than a JWT (the pairing service's integration tokens for SCIM
    #: clients that can only send a static secret): token -> principal, or None when it is not one.
    static_tokens: Callable[[ServiceHost, str], Awaitable[Principal | None]] | None = None
    #: The service's own metrics (shared.metrics): registers histograms and database gauges on the host's.
    metrics: ServiceMetrics | None = None


class ServiceHost:
    """The running service; the one object the API and handlers get their dependencies from."""

    def __init__(self, spec: ServiceSpec, settings: ServiceSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.topics = settings.topics
        self._pool: asyncpg.Pool | None = None
        self._producer: AIOKafkaProducer | None = None
        self._listen: ListenConnection | None = None
        self.relay: OutboxRelay | None = None
        self.guard: BrokerGuard | None = None
        self.watchdog = Watchdog(self)
        #: This host's Prometheus metrics (its own registry: several hosts may share a process).
        self.metrics = Metrics(spec.name)
        if spec.metrics is not None:
            spec.metrics(self.metrics)
        self.metrics.attach(self)
        self.consumer: InboxConsumer | None = None
        self.broker: KafkaBroker | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.verifier: TokenVerifier | None = None
        #: The Ed25519 key checkpoints are signed with (TANDEM_SIGNING_KEY_FILE); None: no checkpoints.
        self.signing_key: Ed25519PrivateKey | None = None
        self.app: FastAPI = spec.api(self)
        self.app.state.host = self
        self.started = False
        self.key_mirror: KeyMirror | None = None
        #: The data keys of this service's database, for reads outside the consumer (the audit, the API).
        self.keys = Keyring()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.spec.name} is not started")
        return self._pool

    async def keys_for(self, values: list[bytes | None]) -> Keyring:
        """This service's keyring, with the keys the raw record values name loaded from its own table."""
        async with self.pool.acquire() as conn:
            await self.keys.prepare(conn, values)
        return self.keys

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError(f"{self.spec.name} is not started")
        return self._producer

    async def authenticate(self, token: str) -> Principal:
        """The caller a bearer token names: a JWT from the identity provider, or a static token the service
        accepts (spec.static_tokens). Raises Unauthorized."""
        if token.count(".") == 2:
            if self.verifier is None:
                raise Unauthorized("this service verifies no tokens (TANDEM_OIDC_ISSUER is not set)")
            return await self.verifier.verify(token)
        if self.spec.static_tokens is not None:
            found = await self.spec.static_tokens(self, token)
            if found is not None:
                return found
        raise Unauthorized("the bearer token is not valid", field="authorization")

    def uow(
        self, *, correlation_id: str | None = None, causation_id: str | None = None, tenant: str | None = None
    ) -> UnitOfWork:
        return UnitOfWork(
            self.pool,
            self.topics,
            tenant=tenant or self.settings.tenant,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )

    async def start(self, *, create_database: bool | None = None, relay: bool = True, consume: bool = True) -> None:
        s = self.settings
        if s.auth is None:
            raise ConfigError(
                f"{self.spec.name}: TANDEM_OIDC_ISSUER is not set, so the API could not verify who calls it. "
                "Point it at your OpenID Connect provider (tandem up runs a local one)."
            )
        configure_tracing(self.spec.name, endpoint=s.otlp_endpoint, sample_ratio=s.trace_sample_ratio)
        with log_context(service=self.spec.name):  # the tasks started here keep it
            await self._start(create_database=create_database, relay=relay, consume=consume)

    async def _start(self, *, create_database: bool | None, relay: bool, consume: bool) -> None:
        s = self.settings
        declared = s.topics.all_topics(CONSUMERS)
        await self.prepare(create_database=s.create_database if create_database is None else create_database)
        self._load_kek()
        self._load_signing_key()
        assert s.auth is not None  # start() refused to go on without it
        self.verifier = TokenVerifier(s.auth)
        self._pool = await create_pool(s.dsn, max_size=10)
        # A replay swapped a rebuilt projection in: drop connections whose cached statements name old tables.
        self._listen = ListenConnection(s.dsn, "tandem_projection", self._projection_swapped)
        await self._listen.start()
        topics = self.spec.consumes(s)
        consuming = consume and bool(topics)
        self.guard = BrokerGuard(
            service=self.spec.name,
            bootstrap=s.kafka_bootstrap_servers,
            topics=s.topics,
            declared=declared,
            consumer=self.spec.name if consuming else None,
            consumed=topics if consuming else [],
            pool=self._pool,
            mode=s.broker_loss,
            security=s.kafka_security,
        )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap_servers,
            client_id=f"tandem-{self.spec.name}",
            acks="all",
            enable_idempotence=s.kafka_enable_idempotence,
            linger_ms=s.kafka_linger_ms,
            **s.kafka_security.aiokafka(),
        )
        await self._producer.start()
        if relay:
            self.relay = OutboxRelay(
                self._pool,
                self._producer,
                dsn=s.dsn,
                name=f"{s.topics.namespace}-{self.spec.name}-relay",
                poll_interval=s.relay_poll_interval,
                backoff=s.consumer_policy.retry.backoff,
                guard=self.guard,
                publish_timeout=s.publish_timeout_seconds,
                tail=lambda: AIOKafkaConsumer(
                    bootstrap_servers=s.kafka_bootstrap_servers,
                    client_id=f"tandem-{self.spec.name}-relay-tail",
                    enable_auto_commit=False,
                    **s.kafka_security.aiokafka(),
                ),
                service=self.spec.name,
            )
            self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.spec.name}-relay"))
        # every service mirrors every service's data keys into its own table (shared.keymirror)
        self.key_mirror = KeyMirror(
            self.spec.name,
            pool=self._pool,
            bootstrap=s.kafka_bootstrap_servers,
            topic=s.topics.keys,
            security=s.kafka_security,
            backoff=s.consumer_policy.retry.backoff,
        )
        self._tasks.append(asyncio.create_task(self.key_mirror.run(), name=f"{self.spec.name}-keys"))
        if consuming:
            self.consumer = InboxConsumer(
                self.spec.name,
                pool=self._pool,
                topics=topics,
                handlers=self.spec.handlers(self),
                dead_letter_topic=s.topics.dead_letter(self.spec.name),
                producer=self._producer,
                max_records=s.consumer_max_records,
                policy=s.consumer_policy,
                group_id=f"{s.topics.namespace}.{self.spec.name}",
                session_timeout_ms=s.kafka_session_timeout_ms,
                heartbeat_interval_ms=s.kafka_heartbeat_interval_ms,
                fetch_max_wait_ms=s.kafka_fetch_max_wait_ms,
                serves=s.serves,
                metrics=self.metrics,
            )
            self.broker = KafkaBroker(
                s.kafka_bootstrap_servers,
                allow_auto_create_topics=False,
                security=s.kafka_security.faststream(),
                client_id=f"tandem-{self.spec.name}-consumer",
                logger=logging.getLogger(f"tandem.{self.spec.name}.broker"),
                log_level=logging.DEBUG,
            )
            self.consumer.subscribe(self.broker)
            await self.broker.start()
            self._tasks.append(asyncio.create_task(self.consumer.run_sweeper(), name=f"{self.spec.name}-parked"))
        self._wire_recovery()
        self._tasks.append(asyncio.create_task(self.watchdog.run(), name=f"{self.spec.name}-watchdog"))
        if self.signing_key is not None:
            self._tasks.append(asyncio.create_task(self._checkpoints(), name=f"{self.spec.name}-checkpoints"))
        for job in self.spec.background:
            self._tasks.append(asyncio.create_task(job(self), name=f"{self.spec.name}-{job.__name__}"))
        self.started = True
        log.info("%s started", self.spec.name)

    async def prepare(self, *, create_database: bool) -> None:
        """Database, schema and topics, before anything runs: each created where the settings allow it, else
        checked; a missing one stops the service (StartRefused) having created nothing."""
        s, name = self.settings, self.spec.name
        if create_database:
            await self._database_answers(
                lambda: ensure_database(with_database(s.dsn, "postgres"), database_name(s.dsn))
            )
        elif await self._database_answers(lambda: database_missing(s.dsn)):
            raise StartRefused(missing_database_message(name, s.dsn))
        if s.migrate_at_start:
            await migrate(s.dsn, self.spec.migrations, service=name)
        else:
            schema = await check_migrations(s.dsn, self.spec.migrations, service=name)
            if schema.problems:
                raise StartRefused(unmigrated_message(name, database_name(s.dsn), schema.problems))
            if schema.newer:  # a newer release migrated (this is a rollback, or pods of two releases roll)
                log.warning(
                    "%s: the schema has migrations this code does not know (%s): a newer release's; running on it",
                    name, ", ".join(schema.newer),
                )  # fmt: skip
        declared = s.topics.all_topics(CONSUMERS)
        if s.create_topics:
            await ensure_topics(s.kafka_bootstrap_servers, s.topics, declared, security=s.kafka_security)
            return
        problems = await self._topic_problems(declared)
        if problems:
            raise StartRefused(topics_message(name, s.kafka_bootstrap_servers, problems))

    async def _database_answers(self, ask: Callable[[], Awaitable[T]]) -> T:
        """`ask`'s answer once the database server answers: a server that is away at start (restarting, failing
        over, not up yet) is waited for with back-off and logged, as the broker is, not a reason to exit."""
        s = self.settings
        backoff, failures = s.consumer_policy.retry.backoff, 0
        while True:
            try:
                return await ask()
            except DATABASE_UNAVAILABLE as exc:
                failures += 1
                delay = backoff.delay(failures)
                log.warning(
                    "%s: database server %s does not answer (%s); trying again in %.1f s",
                    self.spec.name, server_of(s.dsn), type(exc).__name__, delay,
                )  # fmt: skip
                await asyncio.sleep(delay)

    async def _topic_problems(self, declared: list[str]) -> list[str]:
        """The declared topics' differences, once the broker answers (waited for with back-off, logged)."""
        s = self.settings
        backoff, failures = s.consumer_policy.retry.backoff, 0
        while True:
            try:
                return await check_topics(s.kafka_bootstrap_servers, s.topics, declared, security=s.kafka_security)
            except (KafkaError, OSError, TimeoutError) as exc:
                failures += 1
                delay = backoff.delay(failures)
                log.warning(
                    "%s: broker %s does not answer (%s); checking the topics again in %.1f s",
                    self.spec.name, s.kafka_bootstrap_servers, type(exc).__name__, delay,
                )  # fmt: skip
                await asyncio.sleep(delay)

    def _wire_recovery(self) -> None:
        """What a broker recovery does besides resetting the database (see shared.brokerguard)."""
        guard, consumer, relay, s = self.guard, self.consumer, self.relay, self.settings
        if guard is None:
            return
        if consumer is not None and consumer.subscriber is not None:
            guard.before_reset.append(consumer.subscriber.stop)
            guard.after_reset.append(consumer.subscriber.start)
            guard.after_reset.append(
                lambda: consumer.dead_letters.republish(
                    self.pool, bootstrap=s.kafka_bootstrap_servers, security=s.kafka_security
                )
            )
        if relay is not None:

            async def wake() -> None:
                relay.wake()

            guard.after_reset.append(wake)

    def _load_kek(self) -> None:
        """The key-encryption key of personal data (shared.personal), from TANDEM_KEK_FILE: a file that cannot be
        read stops the service naming it; none at all is refused in production mode."""
        s = self.settings
        if s.kek_file:
            try:
                personal.use_kek_files(s.kek_file, s.kek_previous_files)
            except personal.KekError as exc:
                raise ConfigError(f"{self.spec.name}: {exc}") from None
        elif production_mode(s.create_database, s.migrate_at_start, s.create_topics):
            raise StartRefused(personal.kek_message(self.spec.name))
        else:
            personal.kms()  # the development KEK, which says so

    def _load_signing_key(self) -> None:
        s = self.settings
        if s.signing_key_file:
            try:
                self.signing_key = load_signing_key(s.signing_key_file)
            except SigningKeyError as exc:
                raise ConfigError(f"{self.spec.name}: {exc}") from None
        elif production_mode(s.create_database, s.migrate_at_start, s.create_topics):
            raise StartRefused(signing_key_message(self.spec.name))
        else:
            log.info(
                "%s: TANDEM_SIGNING_KEY_FILE is not set: no signed checkpoints of its event chains", self.spec.name
            )

    async def checkpoint(self) -> Checkpoint | None:
        """Sign a checkpoint of the outbox now and publish it (shared.tamper); None when there is no key or nothing
        new."""
        if self.signing_key is None:
            return None
        return await write_checkpoint(
            self.pool, self.spec.name, self.signing_key, topics=self.topics, tenant=self.settings.tenant
        )

    async def _checkpoints(self) -> None:
        while True:
            await asyncio.sleep(self.settings.checkpoint_seconds)
            try:
                await self.checkpoint()
            except Exception as exc:  # the database is away: the next one will do
                log.warning("%s: no checkpoint this time (%s: %s)", self.spec.name, type(exc).__name__, exc)

    def _projection_swapped(self, *_: object) -> None:
        if self._pool is not None:
            self._tasks.append(asyncio.create_task(self._pool.expire_connections()))

    async def stop(self) -> None:
        if self._listen is not None:
            await self._listen.close()
            self._listen = None
        if self.relay is not None:
            self.relay.stop()
        if self.broker is not None:
            await self.broker.stop()
        pending = set(self._tasks)
        while pending:  # cancelled again until done: Python 3.11's wait_for can swallow a cancellation (the watchdog's)
            for task in pending:
                task.cancel()
            done, pending = await asyncio.wait(pending, timeout=2.0)
            for task in done:
                if not task.cancelled():
                    task.exception()  # retrieved: the task is over either way
        self._tasks.clear()
        if self.signing_key is not None and self._pool is not None:  # a last checkpoint, covering all it wrote
            try:
                await asyncio.wait_for(self.checkpoint(), timeout=10)
            except Exception as exc:
                log.warning("%s: no checkpoint at stop (%s: %s)", self.spec.name, type(exc).__name__, exc)
        if self.guard is not None:
            await self.guard.close()
        if self._producer is not None:
            await self._producer.stop()
        if self._pool is not None:
            await self._pool.close()
        if self.verifier is not None:
            await self.verifier.close()
            self.verifier = None
        self.started = False

    def http_server(self, port: int | None = None) -> uvicorn.Server:
        """The uvicorn server for this service's API; the host, not uvicorn, handles signals."""
        config = uvicorn.Config(
            self.app,
            host=self.settings.http_host,
            port=self.settings.http_port if port is None else port,
            log_level="warning",
            log_config=None,  # uvicorn's lines go through the process's handler (JSON or text), not its own
            lifespan="off",
            http="auto",  # httptools where installed
        )
        return _Server(config)

    def metrics_server(self, port: int | None = None) -> uvicorn.Server | None:
        """The uvicorn server for GET /metrics alone, on the metrics port (`port`, else <SERVICE>_METRICS_PORT);
        None when no metrics port is set (then the API's server answers /metrics)."""
        port = self.settings.metrics_port if port is None else port
        if port is None:
            return None
        metrics = self.metrics
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        @app.get("/metrics")
        async def scrape() -> Response:
            return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

        config = uvicorn.Config(
            app, host=self.settings.http_host, port=port, log_level="warning", log_config=None, lifespan="off"
        )
        return _Server(config)

    async def serve(self) -> None:
        """Start, serve HTTP (the API, and /metrics on its own port when one is set) until SIGINT/SIGTERM, stop."""
        try:
            await self.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await self.stop()
            raise
        servers = [self.http_server()]
        metrics = self.metrics_server()
        if metrics is not None:
            servers.append(metrics)

        def stop_serving() -> None:
            for server in servers:
                server.should_exit = True

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop_serving)
        try:
            await asyncio.gather(*(server.serve() for server in servers))
        finally:
            await self.stop()


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a service's main coroutine on uvloop (libuv's event loop: faster sockets for HTTP, Postgres
    and Kafka alike) where it is installed, else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def serve_process(bootstrap: Callable[[], ServiceHost]) -> None:
    """A service's process: the host `bootstrap` builds, its log lines as its settings say (TANDEM_LOG_FORMAT,
    TANDEM_LOG_LEVEL: shared.telemetry), served until SIGINT or SIGTERM; then the spans still buffered are
    exported."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        host = bootstrap()
        configure_logging(host.spec.name, host.settings.log_format, host.settings.log_level)
        follow_parent()
        run(host.serve())
    except ConfigError as exc:  # a setting, or what production mode found missing: one line, no traceback
        print(f"tandem: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    finally:
        shutdown_tracing()


def follow_parent() -> None:
    """Started by the local stack (TANDEM_PARENT_PID set): stop (SIGTERM, a graceful stop) when it dies, even by
    kill -9, instead of living on with the ports and claims of a stack that is gone (Linux: PR_SET_PDEATHSIG)."""
    expected = os.environ.get("TANDEM_PARENT_PID")
    if not expected or not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if str(os.getppid()) != expected:  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


class _Server(uvicorn.Server):
    """uvicorn that leaves signals to the host, which stops the relay and consumer after the server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def host_of(app: FastAPI) -> ServiceHost:
    host: ServiceHost = app.state.host
    return host
