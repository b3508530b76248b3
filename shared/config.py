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
their predecessor), TANDEM_READY_STALL_SECONDS, TANDEM_READY_RELAY_GRACE_SECONDS (readiness),
TANDEM_PUBLISH_TIMEOUT_SECONDS (how long a relay pass waits for the broker's acknowledgements), TANDEM_BROKER_LOSS
(alert | recover: what to do about a broker that lost its log), TANDEM_CREATE_TOPICS (create missing declared
topics at start; off outside the local stack, where topics are declared to the cluster).
Production mode: TANDEM_CREATE_DATABASE (default false: a missing database stops the service; the local stack and
tests turn it on, production creates databases with the cluster, e.g. a CloudNativePG Database resource),
TANDEM_MIGRATE_AT_START (default true: apply migrations at start; production turns it off and runs `tandem migrate`
as a Job before the Deployments roll, with DDL rights the services do not need, and a service whose schema lacks
one of the code's migrations stops). With TANDEM_CREATE_TOPICS off, a service whose declared topics are missing
or differ stops (a broker that does not answer is waited for). Each stop is one line naming what is missing.
Observability: TANDEM_LOG_FORMAT (json, the default: one JSON object a line with time, level, logger, message,
service, correlation_id, causation_id, tenant, trace_id, span_id and exception; or text, for people: `tandem up`
sets it), TANDEM_LOG_LEVEL (DEBUG, INFO (default), WARNING, ERROR or CRITICAL), TANDEM_OTLP_ENDPOINT (an OTLP/HTTP
collector, e.g. http://otel-collector:4318, to which traces are sent at /v1/traces; unset: spans are still made and
propagated, in the events' traceparent, but not exported), TANDEM_TRACE_SAMPLE_RATIO (the share of new traces
sampled, 0 to 1, default 1; a trace begun elsewhere follows its parent's decision).
Personal data: TANDEM_KEK_FILE (the key-encryption key that wraps every data key: 32 random bytes, base64; required
in production mode; unset elsewhere: a built-in development key, said at start), TANDEM_KEK_PREVIOUS_FILES
(comma-separated files of rotated KEKs that still unwrap what they wrapped; `tandem keys rewrap`).
Tamper evidence: TANDEM_SIGNING_KEY_FILE (a PEM Ed25519 private key; required in production mode, where the three
creation settings are off; unset elsewhere: no checkpoints), TANDEM_CHECKPOINT_SECONDS (default 300: how often each
service signs a checkpoint of its outbox; also at stop).
PAIRING_URL, SESSIONS_URL, NOTIFICATIONS_URL (where people and tools reach each service; unset:
http://127.0.0.1:<its port>), TANDEM_WEB_ORIGINS (comma-separated origins, besides the services' own, whose browser
pages may call the APIs with a token: CORS).
Per service (prefix PAIRING_, SESSIONS_, NOTIFICATIONS_): DATABASE_URL, HTTP_HOST, HTTP_PORT, METRICS_PORT (unset:
GET /metrics on the API's port; set, as in a cluster: only on this port, so that an ingress to the API cannot expose
it).
A bare DATABASE_URL names a server; each service then uses its own database `tandem_<service>` on it.
Personal data (the pairing service runs the job): TANDEM_ERASE_AFTER_DAYS (unset: never; else employees whose
directory status has been `left` for more than this many days are erased, reason `retention_after_leaving`),
TANDEM_RETENTION_INTERVAL_SECONDS (how often the retention job runs, default 3600: expired free text of closed
programmes, and the erasure after leaving).

The variables are read with pydantic-settings (shared/environment.py): a bad value is refused with its
variable's name. Database URLs and passwords are SecretStr: printing settings shows no password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, InstanceOf, SecretStr, field_validator, model_validator

from shared import registry
from shared.auth import AuthSettings, OidcEnvironment, serves
from shared.brokerguard import BROKER_LOSS_MODES
from shared.consumer import ConsumerPolicy
from shared.db import with_database
from shared.environment import ConfigError, Environment, Variables
from shared.kafka_security import PLAINTEXT, KafkaEnvironment, KafkaSecurity
from shared.registry import database_of, default_port
from shared.retry import Backoff, RetryPolicy
from shared.topics import Topics

__all__ = ["ConfigError", "ServiceSettings"]

LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{value!r} is not a boolean (use true or false)")


def _flag(value: Any) -> Any:
    """A variable's boolean, spelled as `_bool` takes it."""
    if not isinstance(value, str):
        return value
    try:
        return _bool(value)
    except ConfigError:
        raise ValueError("is not a boolean (use true or false)") from None


def _one_of(value: str, choices: Sequence[str]) -> str:
    """`value`, when it is one of `choices`; else the error that lists them (with the variable's name added)."""
    if value not in choices:
        raise ValueError(f"is not one of {', '.join(choices)}")
    return value


def _base_url(variable: str, value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{variable}: {value!r} is not an http(s) URL such as https://sessions.example.com")
    return value.strip().rstrip("/")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class CommonEnvironment(Environment):
    """The variables every service reads (besides TANDEM_OIDC_* and Kafka security's)."""

    KAFKA_BOOTSTRAP_SERVERS: str = "127.0.0.1:9092"
    KAFKA_ENABLE_IDEMPOTENCE: bool = False
    TANDEM_TOPIC_NAMESPACE: str = "tandem"
    TANDEM_TOPIC_PARTITIONS: int = 6
    TANDEM_TOPIC_REPLICATION_FACTOR: int = 1
    TANDEM_TENANT: str = "default"
    #: Comma-separated; unset: TANDEM_TENANT alone.
    TANDEM_TENANTS: str | None = None
    KAFKA_SESSION_TIMEOUT_MS: int = 10_000
    KAFKA_HEARTBEAT_INTERVAL_MS: int = 3_000
    KAFKA_FETCH_MAX_WAIT_MS: int = 20
    KAFKA_LINGER_MS: int = 0
    TANDEM_RETRY_INITIAL_SECONDS: float = 0.2
    TANDEM_RETRY_MAX_DELAY_SECONDS: float = 10.0
    TANDEM_RETRY_MAX_ATTEMPTS: int = 5
    TANDEM_RETRY_MAX_SECONDS: float = 60.0
    TANDEM_PARK_TIMEOUT_SECONDS: float = 3600.0
    TANDEM_PARK_SWEEP_SECONDS: float = 5.0
    TANDEM_READY_STALL_SECONDS: float = 30.0
    TANDEM_READY_RELAY_GRACE_SECONDS: float = 10.0
    TANDEM_PUBLISH_TIMEOUT_SECONDS: float = 30.0
    TANDEM_BROKER_LOSS: str = "alert"
    TANDEM_CREATE_TOPICS: bool = False
    TANDEM_CREATE_DATABASE: bool = False
    TANDEM_MIGRATE_AT_START: bool = True
    TANDEM_LOG_FORMAT: str = "json"
    TANDEM_LOG_LEVEL: str = "INFO"
    #: Unset or empty: traces are not exported.
    TANDEM_OTLP_ENDPOINT: str | None = None
    TANDEM_TRACE_SAMPLE_RATIO: float = 1.0
    #: Tamper evidence: how often each service signs a checkpoint of its outbox, and the Ed25519 key it signs with.
    TANDEM_CHECKPOINT_SECONDS: float = 300.0
    TANDEM_SIGNING_KEY_FILE: str | None = None
    #: Personal data (shared.personal): the key-encryption key's file, and rotated ones that still unwrap (commas).
    TANDEM_KEK_FILE: str | None = None
    TANDEM_KEK_PREVIOUS_FILES: str | None = None
    #: A server for all services (each uses its own database `tandem_<service>` on it).
    DATABASE_URL: SecretStr | None = None
    #: Where people and tools reach each service (its public base URL; unset: http://127.0.0.1:<its port>). The
    #: browser pages call all three APIs there, mails link there, `tandem status` asks there.
    PAIRING_URL: str | None = None
    SESSIONS_URL: str | None = None
    NOTIFICATIONS_URL: str | None = None
    #: Comma-separated origins, besides the three services' own, whose pages may call the APIs (CORS).
    TANDEM_WEB_ORIGINS: str | None = None
    #: Erase employees this many days after they left (unset or empty: never).
    TANDEM_ERASE_AFTER_DAYS: int | None = None
    #: How often the pairing service's retention job runs.
    TANDEM_RETENTION_INTERVAL_SECONDS: float = 3600.0

    _flags = field_validator(
        "KAFKA_ENABLE_IDEMPOTENCE",
        "TANDEM_CREATE_TOPICS",
        "TANDEM_CREATE_DATABASE",
        "TANDEM_MIGRATE_AT_START",
        mode="before",
    )(_flag)

    @field_validator(
        "TANDEM_RETRY_INITIAL_SECONDS",
        "TANDEM_RETRY_MAX_DELAY_SECONDS",
        "TANDEM_RETRY_MAX_SECONDS",
        "TANDEM_PARK_TIMEOUT_SECONDS",
        "TANDEM_PARK_SWEEP_SECONDS",
        "TANDEM_READY_STALL_SECONDS",
        "TANDEM_READY_RELAY_GRACE_SECONDS",
        "TANDEM_PUBLISH_TIMEOUT_SECONDS",
        "TANDEM_RETENTION_INTERVAL_SECONDS",
        "TANDEM_CHECKPOINT_SECONDS",
        mode="before",
    )
    @classmethod
    def _seconds(cls, value: Any, info: Any) -> Any:
        if value == "":
            return cls.model_fields[info.field_name].default
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            raise ValueError("is not a number of seconds") from None
        if seconds <= 0:
            raise ValueError("must be more than 0 seconds")
        return seconds

    @field_validator("TANDEM_RETRY_MAX_ATTEMPTS", mode="before")
    @classmethod
    def _attempts(cls, value: Any) -> Any:
        if not str(value).isdigit() or int(value) < 1:
            raise ValueError("must be a whole number of at least 1")
        return int(value)

    @field_validator("TANDEM_ERASE_AFTER_DAYS", mode="before")
    @classmethod
    def _erase_after_days(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if not str(value).isdigit() or int(value) < 1:
            raise ValueError("must be a whole number of days of at least 1 (unset: never erase after leaving)")
        return int(value)

    @field_validator("TANDEM_BROKER_LOSS")
    @classmethod
    def _broker_loss(cls, value: str) -> str:
        return _one_of(value, BROKER_LOSS_MODES)

    @field_validator("TANDEM_LOG_FORMAT")
    @classmethod
    def _log_format(cls, value: str) -> str:
        return _one_of(value, LOG_FORMATS)

    @field_validator("TANDEM_LOG_LEVEL")
    @classmethod
    def _log_level(cls, value: str) -> str:
        return _one_of(value.upper(), LOG_LEVELS)

    @field_validator("TANDEM_OTLP_ENDPOINT")
    @classmethod
    def _otlp_endpoint(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")) or len(value) < 10:
            raise ValueError("is not an http:// or https:// URL of an OTLP/HTTP collector")
        return value

    @field_validator("TANDEM_TRACE_SAMPLE_RATIO", mode="before")
    @classmethod
    def _ratio(cls, value: Any) -> Any:
        if value == "":
            return 1.0
        try:
            ratio = float(value)
        except (TypeError, ValueError):
            raise ValueError("is not a number between 0 and 1") from None
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("must be between 0 and 1")
        return ratio

    @model_validator(mode="after")
    def _backoff(self) -> CommonEnvironment:
        initial, cap = self.TANDEM_RETRY_INITIAL_SECONDS, self.TANDEM_RETRY_MAX_DELAY_SECONDS
        if cap < initial:
            raise ValueError(
                f"TANDEM_RETRY_MAX_DELAY_SECONDS ({cap}) is below TANDEM_RETRY_INITIAL_SECONDS ({initial})"
            )
        return self

    def tenants(self) -> frozenset[str]:
        listed = self.TANDEM_TENANT if self.TANDEM_TENANTS is None else self.TANDEM_TENANTS
        return frozenset(t.strip() for t in listed.split(",") if t.strip())

    def public_urls(self) -> dict[str, str]:
        """Each service's public base URL (see PAIRING_URL etc.), checked: http(s), a host, no query."""
        urls = {}
        for name in registry.NAMES:
            variable = f"{name.upper()}_URL"
            given = getattr(self, variable, None)
            urls[name] = _base_url(variable, given) if given else f"http://127.0.0.1:{registry.default_port(name)}"
        return urls

    def web_origins(self) -> tuple[str, ...]:
        """The origins whose pages may call the APIs: the services' own, then TANDEM_WEB_ORIGINS."""
        own = [_origin(url) for url in self.public_urls().values()]
        listed = [o.strip() for o in (self.TANDEM_WEB_ORIGINS or "").split(",") if o.strip()]
        extra = [_origin(_base_url("TANDEM_WEB_ORIGINS", o)) for o in listed]
        return tuple(dict.fromkeys(o for o in (*own, *extra) if o))

    def topics(self) -> Topics:
        return Topics(
            namespace=self.TANDEM_TOPIC_NAMESPACE,
            partitions=self.TANDEM_TOPIC_PARTITIONS,
            replication_factor=self.TANDEM_TOPIC_REPLICATION_FACTOR,
        )

    def consumer_policy(self) -> ConsumerPolicy:
        backoff = Backoff(self.TANDEM_RETRY_INITIAL_SECONDS, self.TANDEM_RETRY_MAX_DELAY_SECONDS)
        return ConsumerPolicy(
            retry=RetryPolicy(backoff, self.TANDEM_RETRY_MAX_ATTEMPTS, self.TANDEM_RETRY_MAX_SECONDS),
            park_timeout=self.TANDEM_PARK_TIMEOUT_SECONDS,
            park_sweep_interval=self.TANDEM_PARK_SWEEP_SECONDS,
        )


class OwnEnvironment(Environment):
    """A service's own variables, read with its prefix (PAIRING_, SESSIONS_, NOTIFICATIONS_)."""

    DATABASE_URL: SecretStr | None = None
    HTTP_HOST: str = "127.0.0.1"
    #: Unset: the service's default port.
    HTTP_PORT: int | None = None
    #: Unset: /metrics on the API's port. Set: /metrics only on this port (not reachable through the API's ingress).
    METRICS_PORT: int | None = None


class ServiceSettings(BaseModel):
    """What a service runs with. Built from the environment by `from_env`, or directly (tests, tools)."""

    model_config = ConfigDict(frozen=True)

    service: str
    #: The service's database; a SecretStr, as it may hold a password (`.get_secret_value()` to connect).
    database_url: SecretStr
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_enable_idempotence: bool = False
    topics: InstanceOf[Topics] = Field(default_factory=Topics)
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    #: Serve /metrics on this port only (None: on the API's port, beside the API).
    metrics_port: int | None = None
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
    auth: InstanceOf[AuthSettings] | None = None
    #: How the service authenticates to Kafka (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_*).
    kafka_security: InstanceOf[KafkaSecurity] = PLAINTEXT
    #: How consumers retry, when a failing record becomes a dead letter, how long an event may stay parked.
    consumer_policy: InstanceOf[ConsumerPolicy] = Field(default_factory=ConsumerPolicy)
    #: Readiness: not ready when the consumer made no progress for this long while events wait ...
    ready_stall_seconds: float = 30.0
    #: ... or when the relay has failed to publish for this long.
    ready_relay_grace_seconds: float = 10.0
    #: How long a relay pass waits for the broker's acknowledgements before it counts as failed.
    publish_timeout_seconds: float = 30.0
    #: A broker that lost its log: "alert" (not ready, publish nothing; production) or "recover" (local stack).
    broker_loss: str = "alert"
    #: Create missing declared topics at start (the local stack and tests); production declares them to the
    #: cluster (Strimzi KafkaTopic) and the services only check them.
    create_topics: bool = False
    #: Create the service's database at start when missing (the local stack and tests); production creates it
    #: with the cluster, and a service whose database is missing stops with a message saying so.
    create_database: bool = False
    #: Apply migrations at start; off in production, where a `tandem migrate` Job runs before the rollout and a
    #: service whose schema lacks one of its code's migrations stops (a newer release's extra ones are logged).
    migrate_at_start: bool = True
    #: Log lines: "json" (one object a line) or "text" (for people; the local stack).
    log_format: str = "json"
    log_level: str = "INFO"
    #: An OTLP/HTTP collector for traces (None: spans are made and propagated, not exported).
    otlp_endpoint: str | None = None
    #: The share of new traces sampled (0..1).
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    #: Where people and tools reach each service (service name -> public base URL, no trailing slash).
    public_urls: dict[str, str] = Field(
        default_factory=lambda: {n: f"http://127.0.0.1:{registry.default_port(n)}" for n in registry.NAMES}
    )
    #: Origins whose browser pages may call this API with a token (CORS).
    web_origins: tuple[str, ...] = Field(
        default_factory=lambda: tuple(f"http://127.0.0.1:{registry.default_port(n)}" for n in registry.NAMES)
    )
    #: Erase employees this many days after they left (None: never); the pairing service's retention job does it.
    erase_after_days: int | None = Field(default=None, ge=1)
    #: How often the pairing service's retention job runs (expired free text, erasure after leaving).
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    #: How often the service signs a checkpoint of its outbox (shared.tamper), and at stop.
    checkpoint_seconds: float = Field(default=300.0, gt=0)
    #: The PEM file of its Ed25519 signing key; None: no checkpoints (refused in production mode).
    signing_key_file: str | None = None
    #: The key-encryption key of personal data (shared.personal); None: the development KEK (refused in production
    #: mode). Rotated KEKs that still unwrap what they wrapped.
    kek_file: str | None = None
    kek_previous_files: tuple[str, ...] = ()
    #: The service's own variables, prefix removed (their repr masks secret-looking ones).
    extra: InstanceOf[Variables] = Field(default_factory=Variables)

    @field_validator("extra", mode="before")
    @classmethod
    def _variables(cls, value: Any) -> Any:
        return value if isinstance(value, Variables) else Variables(value)

    @property
    def dsn(self) -> str:
        """The database URL, password included, to connect with; never to be logged."""
        return self.database_url.get_secret_value()

    def serves(self, tenant: str) -> bool:
        return serves(self.tenants, tenant)

    def replace(self, **changes: Any) -> ServiceSettings:
        """A copy with `changes`, validated as a new instance is."""
        return type(self).model_validate({**{name: getattr(self, name) for name in type(self).model_fields}, **changes})

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None, **overrides: Any) -> ServiceSettings:
        env = os.environ if env is None else env
        prefix = service.upper() + "_"
        try:
            own: OwnEnvironment = OwnEnvironment.read(env, prefix)
            common: CommonEnvironment = CommonEnvironment.read(env)
        except ValueError as exc:
            raise ConfigError(f"bad configuration for {service}: {exc}") from None
        database_url = own.DATABASE_URL.get_secret_value() if own.DATABASE_URL else ""
        if not database_url and common.DATABASE_URL and common.DATABASE_URL.get_secret_value():
            database_url = with_database(common.DATABASE_URL.get_secret_value(), database_of(service))
        if not database_url and "database_url" not in overrides:
            raise ConfigError(f"set {prefix}DATABASE_URL (or DATABASE_URL, a server for all services)")
        try:
            oidc: OidcEnvironment = OidcEnvironment.read(env)
            kafka: KafkaEnvironment = KafkaEnvironment.read(env)
            tenants = common.tenants()
            settings = cls(
                service=service,
                database_url=database_url,
                kafka_bootstrap_servers=common.KAFKA_BOOTSTRAP_SERVERS,
                kafka_enable_idempotence=common.KAFKA_ENABLE_IDEMPOTENCE,
                topics=common.topics(),
                http_host=own.HTTP_HOST,
                http_port=own.HTTP_PORT if own.HTTP_PORT is not None else default_port(service),
                metrics_port=own.METRICS_PORT,
                tenant=common.TANDEM_TENANT,
                kafka_session_timeout_ms=common.KAFKA_SESSION_TIMEOUT_MS,
                kafka_heartbeat_interval_ms=common.KAFKA_HEARTBEAT_INTERVAL_MS,
                kafka_fetch_max_wait_ms=common.KAFKA_FETCH_MAX_WAIT_MS,
                kafka_linger_ms=common.KAFKA_LINGER_MS,
                tenants=tenants,
                auth=oidc.settings(tenants),
                kafka_security=kafka.security(),
                consumer_policy=common.consumer_policy(),
                ready_stall_seconds=common.TANDEM_READY_STALL_SECONDS,
                ready_relay_grace_seconds=common.TANDEM_READY_RELAY_GRACE_SECONDS,
                publish_timeout_seconds=common.TANDEM_PUBLISH_TIMEOUT_SECONDS,
                broker_loss=common.TANDEM_BROKER_LOSS,
                create_topics=common.TANDEM_CREATE_TOPICS,
                create_database=common.TANDEM_CREATE_DATABASE,
                migrate_at_start=common.TANDEM_MIGRATE_AT_START,
                log_format=common.TANDEM_LOG_FORMAT,
                log_level=common.TANDEM_LOG_LEVEL,
                otlp_endpoint=common.TANDEM_OTLP_ENDPOINT,
                trace_sample_ratio=common.TANDEM_TRACE_SAMPLE_RATIO,
                checkpoint_seconds=common.TANDEM_CHECKPOINT_SECONDS,
                signing_key_file=common.TANDEM_SIGNING_KEY_FILE or None,
                kek_file=common.TANDEM_KEK_FILE or None,
                kek_previous_files=tuple(
                    p.strip() for p in (common.TANDEM_KEK_PREVIOUS_FILES or "").split(",") if p.strip()
                ),
                public_urls=common.public_urls(),
                web_origins=common.web_origins(),
                erase_after_days=common.TANDEM_ERASE_AFTER_DAYS,
                retention_interval_seconds=common.TANDEM_RETENTION_INTERVAL_SECONDS,
                extra={k[len(prefix) :]: v for k, v in env.items() if k.startswith(prefix)},
            )
        except ValueError as exc:
            raise ConfigError(f"bad configuration for {service}: {exc}") from None
        return settings.replace(**overrides) if overrides else settings
