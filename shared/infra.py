"""Where a Kafka broker and a Postgres server come from, for tests, benchmarks and tools.

In order: environment variables (KAFKA_BOOTSTRAP_SERVERS and TANDEM_TEST_DATABASE_URL, or
DATABASE_URL); else testcontainers (real Apache Kafka and Postgres) when a Docker daemon answers;
else the embedded pair. One suite, three sources; `source` says which one was used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Infra:
    source: str  # "env" | "docker" | "embedded"
    kafka_bootstrap: str
    postgres_dsn: str  # a server DSN on which databases may be created
    kafka_idempotence: bool
    #: Consumer client settings for this broker (the embedded one wants others: see EmbeddedKafka).
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    fetch_max_wait_ms: int = 20


def docker_available(timeout: float = 0.3) -> bool:
    """Ask the Docker daemon for /_ping; answers in well under a second when there is none."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    parts = urlsplit(host)
    try:
        if parts.scheme == "unix":
            if not os.path.exists(parts.path):
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(parts.path)
        elif parts.scheme in ("tcp", "http"):
            sock = socket.create_connection((parts.hostname or "localhost", parts.port or 2375), timeout=timeout)
        else:
            return False
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b"200 OK" in sock.recv(256)
    except OSError:
        return False


@contextlib.contextmanager
def provide(prefer: str | None = None) -> Iterator[Infra]:
    """Yield an Infra; started servers stop on exit. `prefer` (or TANDEM_INFRA) forces a source."""
    prefer = prefer or os.environ.get("TANDEM_INFRA")
    env_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    env_pg = os.environ.get("TANDEM_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    idempotence_env = os.environ.get("KAFKA_ENABLE_IDEMPOTENCE")
    if prefer in (None, "env") and env_kafka and env_pg:
        yield Infra("env", env_kafka, env_pg, idempotence_env == "true")
        return
    if prefer == "env":
        raise RuntimeError("TANDEM_INFRA=env needs KAFKA_BOOTSTRAP_SERVERS and TANDEM_TEST_DATABASE_URL")
    if prefer in (None, "docker") and docker_available():
        with _containers() as infra:
            yield infra
        return
    if prefer == "docker":
        raise RuntimeError("TANDEM_INFRA=docker but no Docker daemon answers")
    with _embedded() as infra:
        yield infra


@contextlib.contextmanager
def _containers() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with (
        KafkaContainer("confluentinc/cp-kafka:7.6.1") as kafka,
        PostgresContainer("postgres:17-alpine", driver=None) as pg,
    ):
        dsn = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
        yield Infra("docker", kafka.get_bootstrap_server(), dsn, kafka_idempotence=True)


@contextlib.contextmanager
def _embedded() -> Iterator[Infra]:
    from shared.localstack import EmbeddedKafka, EmbeddedPostgres

    _sweep_stale()
    root = Path(tempfile.mkdtemp(prefix="tandem-infra-"))
    pg = EmbeddedPostgres(root / "pg", fast_unsafe=True)
    kafka = EmbeddedKafka(log_file=root / "tansu.log")
    try:
        pg.start()
        kafka.start()
        yield Infra(
            "embedded",
            kafka.bootstrap,
            pg.dsn,
            kafka_idempotence=False,
            session_timeout_ms=EmbeddedKafka.SESSION_TIMEOUT_MS,
            heartbeat_interval_ms=EmbeddedKafka.HEARTBEAT_INTERVAL_MS,
            fetch_max_wait_ms=EmbeddedKafka.FETCH_MAX_WAIT_MS,
        )
    finally:
        kafka.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def _sweep_stale(older_than: float = 3600.0) -> None:
    """Remove the data of embedded sessions that were killed before they could clean up (their Postgres is gone)."""
    for d in Path(tempfile.gettempdir()).glob("tandem-infra-*"):
        try:
            if time.time() - d.stat().st_mtime < older_than:
                continue
            pid_file = d / "pg" / "pgdata" / "postmaster.pid"
            if pid_file.exists():
                os.kill(int(pid_file.read_text().split()[0]), 0)  # raises when that Postgres is gone
                continue
        except PermissionError:  # alive, someone else's
            continue
        except (OSError, ValueError, IndexError):
            pass
        shutil.rmtree(d, ignore_errors=True)
