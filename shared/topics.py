"""Topic names and settings, in one place.

One topic per producing service plus the HR inbound topic, keyed by aggregate id; unlimited retention
because the log is the audit trail; one dead-letter topic per consumer. A `namespace` prefixes every
name so that several systems (or test runs) can share one cluster without seeing each other.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from shared.events import directory, hr, notifications, pairing, sessions
from shared.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)

UNLIMITED_RETENTION = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


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
        }
        try:
            return by_source[source]
        except KeyError:
            raise ValueError(f"no topic for event source {source!r}") from None

    def event_topics(self) -> list[str]:
        return [self.pairing, self.directory, self.sessions, self.notifications, self.hr_inbound]

    def all_topics(self, consumers: list[str]) -> list[str]:
        return self.event_topics() + [self.dead_letter(c) for c in consumers]


#: Every consumer group of the system; each has a dead-letter topic.
CONSUMERS = ["pairing", "sessions", "notifications"]


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
                    topic_configs=dict(topics.configs),
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
