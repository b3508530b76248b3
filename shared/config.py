"""Service configuration from environment variables, one shape for every service.

Sign-in: TANDEM_OIDC_ISSUER (required by the HTTP API), TANDEM_OIDC_AUDIENCE, TANDEM_OIDC_ALGORITHMS,
TANDEM_OIDC_LEEWAY_SECONDS, TANDEM_OIDC_ROLES_CLAIM, TANDEM_OIDC_TENANT_CLAIM, TANDEM_OIDC_EMPLOYEE_CLAIM,
TANDEM_OIDC_ROLE_MAP, TANDEM_OIDC_TENANT_MAP, TANDEM_OIDC_WEB_CLIENT_ID (the public client browser pages sign in
as, default "tandem-web"); TANDEM_TENANTS (the tenants served, "*" for any).
Common: KAFKA_BOOTSTRAP_SERVERS, KAFKA_ENABLE_IDEMPOTENCE (off by default: the local Tansu broker lacks
InitProducerId; turn it on against real Kafka), TANDEM_TOPIC_NAMESPACE, TANDEM_TOPIC_PARTITIONS,
TANDEM_TOPIC_REPLICATION_FACTOR, TANDEM_TENANT, KAFKA_SESSION_TIMEOUT_MS, KAFKA_HEARTBEAT_INTERVAL_MS,
KAFKA_FETCH_MAX_WAIT_MS, KAFKA_LINGER_MS; KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_* (shared/kafka_security.py).
Delivery: TANDEM_RETRY_INITIAL_SECONDS, TANDEM_RETRY_MAX_DELAY_SECONDS (capped, jittered back-off),
TANDEM_RETRY_MAX_ATTEMPTS, TANDEM_RETRY_MAX_SECONDS (when a record that keeps failing while the database and
broker answer becomes a dead letter), TANDEM_PARK_TIMEOUT_SECONDS, TANDEM_PARK_SWEEP_SECONDS (events waiting for
their predecessor), TANDEM_READY_STALL_SECONDS, TANDEM_READY_RELAY_GRACE_SECONDS (readiness), TANDEM_BROKER_LOSS
(alert | recover: what to do about a broker that lost its log), TANDEM_CREATE_TOPICS (create missing declared
topics at start; off outside the local stack, where topics are declared to the cluster).
Per service (prefix PAIRING_, SESSIONS_, NOTIFICATIONS_): DATABASE_URL, HTTP_HOST, HTTP_PORT.
A bare DATABASE_URL names a server; each service then uses its own database `tandem_<service>` on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from shared.auth import AuthSettings, serves
from shared.brokerguard import BROKER_LOSS_MODES
from shared.consumer import ConsumerPolicy
from shared.db import with_database
from shared.kafka_security import PLAINTEXT, KafkaSecurity
from shared.retry import Backoff, RetryPolicy
from shared.topics import Topics

DEFAULT_PORTS = {"pairing": 8001, "sessions": 8002, "notifications": 8003}


class ConfigError(ValueError):
    pass


def _bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{value!r} is not a boolean (use true or false)")


@dataclass(frozen=True)
class ServiceSettings:
    service: str
    database_url: str
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_enable_idempotence: bool = False
    topics: Topics = field(default_factory=Topics)
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    tenant: str = "default"
    relay_poll_interval: float = 1.0
    consumer_max_records: int = 500
    #: Consumer group liveness. A member joins in about half the session timeout on some brokers
    #: (Tansu), so the embedded stack runs with a short one.
    kafka_session_timeout_ms: int = 10_000
    kafka_heartbeat_interval_ms: int = 3_000
    #: How long a fetch may wait for data. Kafka answers as soon as data arrives; some brokers (Tansu)
    #: hold the fetch for the whole wait, which then adds straight to end-to-end latency.
    kafka_fetch_max_wait_ms: int = 20
    #: How long the producer holds a record to batch it with others. 0 sends at once; records that come
    #: while a send is in flight still go out together (measured: no loss of relay throughput).
    kafka_linger_ms: int = 0
    #: The tenants this deployment serves ("*": any): tokens and consumed events of others are refused.
    tenants: frozenset[str] = frozenset({"default"})
    #: How callers are verified (TANDEM_OIDC_*); the HTTP API refuses to start without it.
    auth: AuthSettings | None = None
    #: How the service authenticates to Kafka (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*).
    kafka_security: KafkaSecurity = PLAINTEXT
    #: How consumers retry, when a failing record becomes a dead letter, how long an event may stay parked.
    consumer_policy: ConsumerPolicy = field(default_factory=ConsumerPolicy)
    #: Readiness: not ready when the consumer made no progress for this long while events wait ...
    ready_stall_seconds: float = 30.0
    #: ... or when the relay has failed to publish for this long.
    ready_relay_grace_seconds: float = 10.0
    #: A broker that lost its log: "alert" (not ready, publish nothing; production) or "recover" (local stack).
    broker_loss: str = "alert"
    #: Create missing declared topics at start (the local stack and tests); production declares them to the
    #: cluster (Strimzi KafkaTopic) and the services only check them.
    create_topics: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    def serves(self, tenant: str) -> bool:
        return serves(self.tenants, tenant)

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None, **overrides: Any) -> ServiceSettings:
        env = os.environ if env is None else env
        prefix = service.upper() + "_"
        database_url = env.get(prefix + "DATABASE_URL")
        if not database_url and env.get("DATABASE_URL"):
            database_url = with_database(env["DATABASE_URL"], f"tandem_{service}")
        if not database_url and "database_url" not in overrides:
            raise ConfigError(f"set {prefix}DATABASE_URL (or DATABASE_URL, a server for all services)")
        tenant = env.get("TANDEM_TENANT", "default")
        tenants = frozenset(t.strip() for t in env.get("TANDEM_TENANTS", tenant).split(",") if t.strip())
        try:
            topics = Topics(
                namespace=env.get("TANDEM_TOPIC_NAMESPACE", "tandem"),
                partitions=int(env.get("TANDEM_TOPIC_PARTITIONS", "6")),
                replication_factor=int(env.get("TANDEM_TOPIC_REPLICATION_FACTOR", "1")),
            )
            settings = cls(
                service=service,
                database_url=database_url or "",
                kafka_bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                kafka_enable_idempotence=_bool(env.get("KAFKA_ENABLE_IDEMPOTENCE", "false")),
                topics=topics,
                http_host=env.get(prefix + "HTTP_HOST", "127.0.0.1"),
                http_port=int(env.get(prefix + "HTTP_PORT", str(DEFAULT_PORTS.get(service, 8000)))),
                tenant=tenant,
                kafka_session_timeout_ms=int(env.get("KAFKA_SESSION_TIMEOUT_MS", "10000")),
                kafka_heartbeat_interval_ms=int(env.get("KAFKA_HEARTBEAT_INTERVAL_MS", "3000")),
                kafka_fetch_max_wait_ms=int(env.get("KAFKA_FETCH_MAX_WAIT_MS", "20")),
                kafka_linger_ms=int(env.get("KAFKA_LINGER_MS", "0")),
                tenants=tenants,
                auth=AuthSettings.from_env(env, tenants),
                kafka_security=KafkaSecurity.from_env(env),
                consumer_policy=_consumer_policy(env),
                ready_stall_seconds=_seconds(env, "TANDEM_READY_STALL_SECONDS", 30.0),
                ready_relay_grace_seconds=_seconds(env, "TANDEM_READY_RELAY_GRACE_SECONDS", 10.0),
                broker_loss=_choice(env, "TANDEM_BROKER_LOSS", "alert", BROKER_LOSS_MODES),
                create_topics=_bool(env.get("TANDEM_CREATE_TOPICS", "false")),
                extra={k[len(prefix) :]: v for k, v in env.items() if k.startswith(prefix)},
            )
        except ValueError as exc:
            raise ConfigError(f"bad configuration for {service}: {exc}") from exc
        return replace(settings, **overrides) if overrides else settings


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be more than 0 seconds")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, default)
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _consumer_policy(env: Mapping[str, str]) -> ConsumerPolicy:
    attempts = env.get("TANDEM_RETRY_MAX_ATTEMPTS", "5")
    if not attempts.isdigit() or int(attempts) < 1:
        raise ConfigError(f"TANDEM_RETRY_MAX_ATTEMPTS={attempts!r} must be a whole number of at least 1")
    initial = _seconds(env, "TANDEM_RETRY_INITIAL_SECONDS", 0.2)
    cap = _seconds(env, "TANDEM_RETRY_MAX_DELAY_SECONDS", 10.0)
    if cap < initial:
        raise ConfigError(f"TANDEM_RETRY_MAX_DELAY_SECONDS ({cap}) is below TANDEM_RETRY_INITIAL_SECONDS ({initial})")
    return ConsumerPolicy(
        retry=RetryPolicy(Backoff(initial, cap), int(attempts), _seconds(env, "TANDEM_RETRY_MAX_SECONDS", 60.0)),
        park_timeout=_seconds(env, "TANDEM_PARK_TIMEOUT_SECONDS", 3600.0),
        park_sweep_interval=_seconds(env, "TANDEM_PARK_SWEEP_SECONDS", 5.0),
    )
