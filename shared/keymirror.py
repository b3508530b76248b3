"""Each service's mirror of the key topic (shared.personal): every service's wrapped data keys and destroyed
markers, read into the service's own `data_keys` table, so that it decrypts any event (live or in a replay) with
its own database and the KEK alone.

It reads every partition by assignment (no consumer group) and records how far it has read in
`consumer_positions` (consumer `<service>.keys`) in the same transaction as the keys it wrote, so it resumes
exactly where it stopped. A record that is not a key record is logged and skipped. While the broker or the
database does not answer, it retries with a capped back-off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import personal
from shared.kafka_security import PLAINTEXT, KafkaSecurity
from shared.retry import Backoff

log = logging.getLogger(__name__)


class KeyMirror:
    def __init__(
        self,
        service: str,
        *,
        pool: asyncpg.Pool,
        bootstrap: str,
        topic: str,
        security: KafkaSecurity = PLAINTEXT,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = f"{service}.keys"
        self.pool = pool
        self.bootstrap = bootstrap
        self.topic = topic
        self.security = security
        self.backoff = backoff or Backoff(0.2, 10.0)
        self.mirrored = 0
        self.skipped = 0

    async def _positions(self) -> dict[int, int]:
        rows = await self.pool.fetch(
            "SELECT partition, next_offset FROM consumer_positions WHERE consumer = $1 AND topic = $2",
            self.name, self.topic,
        )  # fmt: skip
        return {r["partition"]: r["next_offset"] for r in rows}

    async def apply(self, records: list[Any]) -> int:
        """Write one fetch's records and the positions after them, in one transaction."""
        parsed: list[dict[str, Any]] = []
        positions: dict[int, int] = {}
        for r in records:
            positions[r.partition] = max(positions.get(r.partition, 0), r.offset + 1)
            record = personal.parse_key_record(r.value)
            if record is None:
                self.skipped += 1
                log.warning("%s: %s:%s@%s is not a key record; skipped", self.name, r.topic, r.partition, r.offset)
                continue
            parsed.append(record)
        async with self.pool.acquire() as conn, conn.transaction():
            changed = await personal.mirror(conn, parsed)
            await conn.executemany(
                "INSERT INTO consumer_positions (consumer, topic, partition, next_offset) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, "
                "updated_at = clock_timestamp()",
                [(self.name, self.topic, p, o) for p, o in positions.items()],
            )
        self.mirrored += changed
        return changed

    async def run(self) -> None:
        attempts = 0
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                client_id=f"tandem-{self.name}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **self.security.aiokafka(),
            )
            try:
                await consumer.start()
                partitions = sorted(await _partitions(consumer, self.topic))
                tps = [TopicPartition(self.topic, p) for p in partitions]
                consumer.assign(tps)
                known = await self._positions()
                for tp in tps:
                    if tp.partition in known:
                        consumer.seek(tp, known[tp.partition])
                    else:
                        await consumer.seek_to_beginning(tp)
                attempts = 0
                while True:
                    fetched = await consumer.getmany(timeout_ms=500, max_records=2000)
                    records = [r for batch in fetched.values() for r in batch]
                    if records:
                        await self.apply(records)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempts += 1
                if attempts == 1 or attempts & (attempts - 1) == 0:
                    log.warning("%s: mirroring the key topic failed (attempt %d): %s", self.name, attempts, exc)
                await asyncio.sleep(self.backoff.delay(attempts))
            finally:
                try:
                    await consumer.stop()
                except Exception:
                    pass


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(100):
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await consumer.topics()  # refreshes metadata
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} has no partitions (is it created? `tandem topics create`)")
