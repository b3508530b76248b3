"""The whole system of one run, as real processes: an embedded Postgres, the Tansu broker (memory only), the
local OpenID Connect provider, an SMTP sink that records every mail, the three services (`python -m
services.<name>`), and two proxies per service (to the broker, to Postgres) so that faults can slow or cut
each service's connections.

The proxies run on an event loop of their own, in a thread, so that nothing the harness does (a blocking
pg_ctl, a busy checker) ever stalls the traffic it is observing.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.identity_provider import CLIENT_CREDENTIALS, Client, DemoUser, LocalIdentityProvider, default_demo
from shared.localstack import EmbeddedKafka, EmbeddedPostgres, free_port
from shared.topics import Topics, ensure_topics
from tests.faults.proxy import KafkaProxy, TcpProxy

SERVICES = ("pairing", "sessions", "notifications")
ROOT = Path(__file__).resolve().parents[2]
TENANT = "default"
INTEGRATION_CLIENT = "faults-hr-platform"
T = TypeVar("T")
#: Delivery settings of the services under test (shared/config.py, services/notifications/dispatch.py), short
#: enough that what they bound settles well within a run's convergence timeout: an event about an unknown pair
#: waits PARK_TIMEOUT (swept every PARK_SWEEP) before it is dead-lettered `unresolved`; a batch that keeps failing
#: while the database and broker answer is taken apart after RETRY_MAX_ATTEMPTS or RETRY_MAX_SECONDS; a mail
#: claimed by a notifications process killed with -9 is taken again once its CLAIM_SECONDS lapsed; a relay pass
#: the broker never answers fails after PUBLISH_TIMEOUT (well within the park timeout).
DELIVERY_SETTINGS = {
    "TANDEM_PARK_TIMEOUT_SECONDS": "10",
    "TANDEM_PARK_SWEEP_SECONDS": "2",
    "TANDEM_RETRY_MAX_ATTEMPTS": "5",
    "TANDEM_RETRY_MAX_SECONDS": "20",
    "TANDEM_RETRY_MAX_DELAY_SECONDS": "2",
    "NOTIFICATIONS_CLAIM_SECONDS": "20",
    # feedback requests go out once the session is logged (the checker expects them sent before it looks)
    "NOTIFICATIONS_FEEDBACK_GRACE_SECONDS": "0",
    "TANDEM_PUBLISH_TIMEOUT_SECONDS": "5",
}


@dataclass(frozen=True)
class Mail:
    message_id: str
    notification_id: str
    to: str
    subject: str
    at: float


@dataclass
class SmtpSink:
    """An aiosmtpd server that keeps every message it accepts, with its Message-ID and notification id."""

    port: int = 0
    mails: list[Mail] = field(default_factory=list)
    _controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        self.mails.append(
            Mail(
                str(message.get("Message-ID", "")).strip(),
                str(message.get("X-Tandem-Notification", "")).strip(),
                str(message.get("To", "")),
                str(message.get("Subject", "")),
                time.time(),
            )
        )
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        self.port = self.port or free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class ProxyLoop:
    """An asyncio loop in a thread of its own for the proxies; `call` runs a coroutine there and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fault-proxies", daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def soon(self, fn: Any, *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    #: Held by each fault on this service (stop, wait, start), so that two faults on it never overlap.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the service, unless it is running."""
        if self.running:
            return
        with self.log.open("ab") as out:
            out.write(f"\n===== start {self.starts + 1} at {time.strftime('%H:%M:%S')} =====\n".encode())
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"], cwd=ROOT, env=self.env, stdout=out, stderr=out
            )
        self.started.append(self.proc)
        self.starts += 1

    async def signal(self, sig: signal.Signals, wait: float = 20.0) -> int | None:
        """Send `sig`; wait for the process to end (SIGKILL after `wait`). Returns its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        deadline = time.monotonic() + wait
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
            await asyncio.sleep(0.05)
        return self.proc.returncode


@dataclass
class System:
    """One run's system. `start()` brings everything up; `stop()` takes everything down."""

    workdir: Path
    topics: Topics = field(default_factory=Topics)
    postgres: EmbeddedPostgres | None = None
    kafka: EmbeddedKafka | None = None
    idp: LocalIdentityProvider | None = None
    sink: SmtpSink = field(default_factory=SmtpSink)
    proxies: dict[tuple[str, str], TcpProxy] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    broker_starts: list[float] = field(default_factory=list)
    #: Held by a fault that stops and starts Postgres or the broker, so that two such faults never overlap.
    locks: dict[str, asyncio.Lock] = field(
        default_factory=lambda: {"postgres": asyncio.Lock(), "broker": asyncio.Lock()}
    )
    _proxy_loop: ProxyLoop | None = None

    # --- where things are ------------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """The broker itself (the harness never goes through a proxy)."""
        assert self.kafka is not None
        return self.kafka.bootstrap

    def dsn(self, service: str) -> str:
        """The service's database, directly (not through its proxy)."""
        assert self.postgres is not None
        return f"postgresql://postgres@127.0.0.1:{self.postgres.port}/tandem_{service}"

    def url(self, service: str) -> str:
        return self.services[service].url

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def start(self, users: list[DemoUser]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.postgres = await asyncio.to_thread(EmbeddedPostgres(self.workdir / "postgres", fast_unsafe=False).start)
        self.kafka = EmbeddedKafka(port=free_port(), log_file=self.workdir / "tansu.log").start()
        self.broker_starts.append(time.time())
        await ensure_topics(self.bootstrap, self.topics)
        demo = default_demo()
        clients = [
            *demo.clients,
            Client(INTEGRATION_CLIENT, secret="faults", grant_types=(CLIENT_CREDENTIALS,), roles=("integration",),
                   tenant=TENANT),
        ]  # fmt: skip
        self.idp = LocalIdentityProvider(users, clients).start()
        self.sink.start()
        self._proxy_loop = ProxyLoop()
        for service in SERVICES:
            self.proxies[(service, "kafka")] = self._proxy_loop.call(
                KafkaProxy(f"{service}->kafka", upstream_port=self.kafka.port).start()
            )
            self.proxies[(service, "postgres")] = self._proxy_loop.call(
                TcpProxy(f"{service}->postgres", upstream_port=self.postgres.port).start()
            )
        for service in SERVICES:
            port = free_port()
            self.services[service] = ServiceProcess(service, self._env(service, port), port,
                                                    self.workdir / f"{service}.log")  # fmt: skip
        for service in SERVICES:
            self.services[service].start()
        await self.wait_ready(timeout=90)

    def _env(self, service: str, port: int) -> dict[str, str]:
        assert self.idp is not None
        kafka = self.proxies[(service, "kafka")].port
        pg = self.proxies[(service, "postgres")].port
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_URL", "TANDEM_"))}
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
                f"{service.upper()}_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pg}/tandem_{service}",
                "TANDEM_OIDC_ISSUER": self.idp.issuer,
                f"{service.upper()}_HTTP_PORT": str(port),
                "KAFKA_SESSION_TIMEOUT_MS": str(EmbeddedKafka.SESSION_TIMEOUT_MS),
                "KAFKA_HEARTBEAT_INTERVAL_MS": str(EmbeddedKafka.HEARTBEAT_INTERVAL_MS),
                "KAFKA_FETCH_MAX_WAIT_MS": str(EmbeddedKafka.FETCH_MAX_WAIT_MS),
                "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
                "NOTIFICATIONS_SMTP_PORT": str(self.sink.port),
                "PYTHONUNBUFFERED": "1",
                # as the local stack runs them: the broker keeps nothing, so recover from its loss (shared.brokerguard)
                "TANDEM_BROKER_LOSS": "recover",
                "TANDEM_CREATE_TOPICS": "true",
                "TANDEM_CREATE_DATABASE": "true",
                **DELIVERY_SETTINGS,
            }
        )
        return env

    async def wait_ready(self, services: tuple[str, ...] = SERVICES, timeout: float = 60.0) -> list[str]:
        """Wait until each service answers 200 on /health/ready; returns those that did not in time."""
        deadline = time.monotonic() + timeout
        late = []
        async with httpx.AsyncClient(timeout=2, trust_env=False) as http:
            for service in services:
                while not await self._ready(http, service):
                    if time.monotonic() > deadline:
                        late.append(service)
                        break
                    await asyncio.sleep(0.25)
        return late

    async def _ready(self, http: httpx.AsyncClient, service: str) -> bool:
        if not self.services[service].running:
            return False
        try:
            return (await http.get(f"{self.url(service)}/health/ready")).status_code == 200
        except httpx.HTTPError:
            return False

    async def stop(self) -> None:
        for proc in self.services.values():
            await proc.signal(signal.SIGTERM, wait=10)
            for leftover in proc.started:  # none expected: every start but the last was waited for
                if leftover.poll() is None:
                    leftover.kill()
                    leftover.wait()
        if self._proxy_loop is not None:
            for proxy in self.proxies.values():
                self._proxy_loop.call(proxy.stop())
            self._proxy_loop.stop()
            self._proxy_loop = None
        self.sink.stop()
        if self.idp is not None:
            self.idp.stop()
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.stop)

    # --- what faults do -----------------------------------------------------------------------------------

    async def restart_service(self, service: str, sig: signal.Signals, down: float) -> int | None:
        proc = self.services[service]
        async with proc.lock:
            code = await proc.signal(sig)
            await asyncio.sleep(down)
            proc.start()
        return code

    async def stop_postgres(self) -> None:
        assert self.postgres is not None
        await asyncio.to_thread(self.postgres.stop)

    async def start_postgres(self) -> None:
        assert self.postgres is not None
        await asyncio.to_thread(self.postgres.start)

    def stop_broker(self) -> None:
        assert self.kafka is not None
        self.kafka.stop()

    def start_broker(self) -> None:
        """Start Tansu again, empty (memory storage: no topics, no records, no offsets). On a new port: Tansu does
        not bind with SO_REUSEADDR, so its old port is refused while connections linger in TIME_WAIT. The services
        do not see the change: their proxies now forward there (and rewrite what the broker advertises)."""
        self.kafka = EmbeddedKafka(port=free_port(), log_file=self.workdir / "tansu.log").start()
        self.broker_starts.append(time.time())
        assert self._proxy_loop is not None
        for (_, target), proxy in self.proxies.items():
            if target == "kafka":
                self._proxy_loop.soon(setattr, proxy, "upstream_port", self.kafka.port)

    @property
    def broker_running(self) -> bool:
        proc = self.kafka._proc if self.kafka is not None else None
        return proc is not None and proc.poll() is None

    async def postgres_running(self) -> bool:
        assert self.postgres is not None
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.postgres.port)
        except OSError:
            return False
        writer.close()
        return True

    def set_latency(self, service: str, target: str, seconds: float) -> None:
        assert self._proxy_loop is not None
        self._proxy_loop.soon(setattr, self.proxies[(service, target)], "latency", seconds)

    def cut(self, service: str, target: str, outage: float) -> None:
        assert self._proxy_loop is not None
        self._proxy_loop.soon(self.proxies[(service, target)].cut, outage)

    def heal_proxies(self) -> None:
        assert self._proxy_loop is not None
        for proxy in self.proxies.values():
            self._proxy_loop.soon(proxy.heal)
