"""Topic names and settings, in one place.

One topic per producing service plus the HR inbound topic, keyed by aggregate id; unlimited retention
because the log is the audit trail; one dead-letter topic per consumer. A `namespace` prefixes every
name so that several systems (or test runs) can share one cluster without seeing each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import aiokafka.admin.client
import aiokafka.client
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from aiokafka.protocol.metadata import MetadataRequest

from shared.events import audit, directory, hr, notifications, pairing, sessions
from shared.kafka_security import PLAINTEXT, KafkaSecurity
from shared.registry import CONSUMERS

log = logging.getLogger(__name__)


class _NoAutoCreate(MetadataRequest):  # type: ignore[misc]
    """aiokafka asks for metadata with `allow_auto_topic_creation` on, so a broker with auto-creation
    enabled (Kafka's default, and Tansu) creates any topic a producer or consumer merely names, with the
    broker's partitions and retention, not ours: after a broker restart that lost its log, the first send
    recreated our topics with 4 partitions instead of 6. Tandem creates its topics itself, as declared."""

    def __init__(self, topics: list[str] | None = None, allow_auto_topic_creation: bool | None = None) -> None:
        super().__init__(topics, bool(allow_auto_topic_creation))


aiokafka.client.MetadataRequest = _NoAutoCreate
aiokafka.admin.client.MetadataRequest = _NoAutoCreate

UNLIMITED_RETENTION = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
KEY_TOPIC_CONFIGS = {
    "retention.ms": "-1",
    "retention.bytes": "-1",
    "cleanup.policy": "compact",
    "max.compaction.lag.ms": "86400000",
    "delete.retention.ms": "86400000",
}


@dataclass(frozen=True)
class Topics:
    namespace: str = "tandem"
    partitions: int = 6
    replication_factor: int = 1
    configs: dict[str, str] = field(default_factory=lambda: dict(UNLIMITED_RETENTION))

    @property
    def pairing(self) -> str:
        return f"{self.namespace}.pairing.events"

    @property
    def sessions(self) -> str:
        return f"{self.namespace}.sessions.events"

    @property
    def notifications(self) -> str:
        return f"{self.namespace}.notifications.events"

    @property
    def directory(self) -> str:
        """The employee directory's history (written by the pairing service, keyed by employee id)."""
        return f"{self.namespace}.directory.events"

    @property
    def hr_inbound(self) -> str:
        return f"{self.namespace}.hr.inbound"

    @property
    def keys(self) -> str:
        """The wrapped data keys of personal data (shared.personal), compacted: one record per key, the latest of
        which is the key or its destroyed marker. Every service writes its own keys and reads everyone's."""
        return f"{self.namespace}.keys"

    def configs_for(self, name: str) -> dict[str, str]:
        """A topic's settings: the event topics keep everything; the key topic keeps the latest record per key, and
        compaction removes a destroyed key's wrapped copy within a day (`max.compaction.lag.ms`)."""
        if name == self.keys:
            return dict(KEY_TOPIC_CONFIGS)
        return dict(self.configs)

    @property
    def checkpoints(self) -> str:
        """The signed checkpoints of every service's event chains (keyed by service; nobody consumes it)."""
        return f"{self.namespace}.audit.checkpoints"

    def dead_letter(self, consumer: str) -> str:
        return f"{self.namespace}.dlq.{consumer}"

    def for_source(self, source: str) -> str:
        """The topic a producer writes events of this CloudEvents source to."""
        by_source = {
            pairing.SOURCE: self.pairing,
            sessions.SOURCE: self.sessions,
            notifications.SOURCE: self.notifications,
            directory.SOURCE: self.directory,
            hr.SOURCE: self.hr_inbound,
            audit.SOURCE: self.checkpoints,
        }
        try:
            return by_source[source]
        except KeyError:
            raise ValueError(f"no topic for event source {source!r}") from None

    def event_topics(self) -> list[str]:
        return [self.pairing, self.directory, self.sessions, self.notifications, self.hr_inbound]

    def all_topics(self, consumers: list[str]) -> list[str]:
        return [*self.event_topics(), self.keys, self.checkpoints] + [self.dead_letter(c) for c in consumers]


async def ensure_topics(
    bootstrap: str, topics: Topics, names: list[str] | None = None, *, security: KafkaSecurity = PLAINTEXT
) -> list[str]:
    """Create the topics that don't exist yet (idempotent). Returns the names created."""
    names = names if names is not None else topics.all_topics(CONSUMERS)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="tandem-admin", **security.aiokafka())
    for attempt in range(50):
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            new = [
                NewTopic(
                    name=n,
                    num_partitions=topics.partitions,
                    replication_factor=topics.replication_factor,
                    topic_configs=topics.configs_for(n),
                )
                for n in missing
            ]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another replica was faster
            log.info("created topics %s", missing)
        return missing
    finally:
        await admin.close()


async def describe(admin: AIOKafkaAdminClient, topics: Topics, names: list[str]) -> tuple[dict[str, int], list[str]]:
    """The partition count of each named topic (0: missing), and how they differ from the declared ones
    (missing, partition count, settings such as retention)."""
    problems: list[str] = []
    counts: dict[str, int] = {}
    for described in await admin.describe_topics(names):
        name = described["topic"]
        counts[name] = 0 if described["error_code"] == 3 else len(described["partitions"])  # 3: unknown topic
        if not counts[name]:
            problems.append(f"topic {name} is missing")
        elif counts[name] != topics.partitions:
            problems.append(f"topic {name} has {counts[name]} partitions, declared {topics.partitions}")
    present = [n for n in names if counts.get(n)]
    if present and topics.configs:
        resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in present]
        for response in await admin.describe_configs(resources):
            for resource in response.resources:
                error_code, _, _, name, entries = resource[:5]
                if error_code:
                    continue
                actual = {entry[0]: entry[1] for entry in entries}
                for key, want in topics.configs_for(name).items():
                    if actual.get(key) != want:
                        problems.append(f"topic {name} has {key}={actual.get(key)}, declared {want}")
    return counts, problems


async def check_topics(
    bootstrap: str,
    topics: Topics,
    names: list[str] | None = None,
    *,
    security: KafkaSecurity = PLAINTEXT,
    timeout: float = 20.0,
) -> list[str]:
    """How the broker's topics differ from the declared ones (missing, partitions, retention); empty: as
    declared. Changes nothing. Raises when the broker does not answer (KafkaConnectionError, TimeoutError)."""
    names = names if names is not None else topics.all_topics(CONSUMERS)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="tandem-check", request_timeout_ms=int(timeout * 1000),
        **security.aiokafka(),
    )  # fmt: skip
    try:
        await asyncio.wait_for(admin.start(), timeout)
        _, problems = await asyncio.wait_for(describe(admin, topics, names), timeout)
        return problems
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
