"""Dead letters: records a consumer could not apply, kept where an operator can find and replay them.

Each one is written twice, in the consumer's transaction: to the service's own `dead_letters` table (so
that it survives a broker that lost its log) and to the consumer's dead-letter topic, with the reason in
headers (`dlq_kind`, `dlq_error`, where it came from, `dlq_fingerprint`: who it is, so that a recovery does not copy it
twice). A record too large to copy to the topic (the
producer's request limit, or the topic's) goes there as a *reference*: a small JSON value naming its
topic, partition, offset, size and headers, flagged `dlq_reference: true`; the table keeps the bytes up to
`KEEP_BYTES`.

Kinds: `undecodable` (not an event: bad JSON, headers missing or not UTF-8, unknown type), `rejected`
(a handler refused it), `tenant` (a tenant this deployment does not serve), `failed` (it kept failing
while the database and broker were fine), `unresolved` (it referred to something that never came).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError

from shared.db import Conn
from shared.kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)

#: The largest record copied whole to a dead-letter topic (the producer's default request limit is 1 MiB,
#: and headers and framing come on top).
MAX_COPY_BYTES = 900_000
#: The largest record value kept whole in the table; a larger one is kept as a reference (size, headers).
KEEP_BYTES = 8 * 1024 * 1024


def fingerprint(record: ConsumerRecord[Any, Any]) -> str:
    """Who this record is, when it carries no event id to go by: its place in the log and its content.

    The place alone is not enough: a broker that lost its log hands out the same offsets again to other
    records, and a dead letter recorded under its offset would silently swallow a newcomer."""
    h = hashlib.sha256()
    for part in (record.topic, str(record.partition), str(record.offset), str(record.timestamp)):
        h.update(part.encode() + b"\0")
    h.update(record.key or b"")
    h.update(b"\0")
    for name, value in record.headers or ():
        h.update(name.encode() + b"\0" + (value or b"") + b"\0")
    h.update(record.value or b"")
    return "record:" + h.hexdigest()[:40]


def size_of(record: ConsumerRecord[Any, Any]) -> int:
    headers = sum(len(name) + len(value or b"") for name, value in record.headers or ())
    return len(record.value or b"") + len(record.key or b"") + headers


@dataclass
class DeadLetter:
    record: ConsumerRecord[Any, Any]
    kind: str
    error: str
    event_id: str | None = None
    event_type: str | None = None
    #: Set when only a reference to the record is kept (its value was too large to keep): its real size.
    kept_size: int | None = None

    @property
    def fingerprint(self) -> str:
        return self.event_id or fingerprint(self.record)

    @property
    def size(self) -> int:
        return self.kept_size if self.kept_size is not None else size_of(self.record)


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


class DeadLetters:
    """One consumer's dead letters: its rows in `dead_letters` and its dead-letter topic."""

    def __init__(
        self, consumer: str, topic: str, producer: AIOKafkaProducer, *, max_copy_bytes: int = MAX_COPY_BYTES
    ) -> None:
        self.consumer = consumer
        self.topic = topic
        self.producer = producer
        self.max_copy_bytes = max_copy_bytes

    async def store(self, conn: Conn, dead: Sequence[DeadLetter]) -> None:
        """Keep them in the service's database (inside the caller's transaction); a record seen before is
        not kept twice, but a redriven one that failed again is dead again."""
        if not dead:
            return
        await conn.executemany(
            "INSERT INTO dead_letters (consumer, fingerprint, event_id, event_type, kind, error, topic, partition, "
            '"offset", record_time, key, headers, value, size) '
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
            # A redriven record that fails again is a dead letter again (its new place in the log, its new
            # error); any other record seen before is not kept twice.
            "ON CONFLICT (consumer, fingerprint) DO UPDATE SET status = 'dead', kind = EXCLUDED.kind, "
            'error = EXCLUDED.error, topic = EXCLUDED.topic, partition = EXCLUDED.partition, "offset" = '
            'EXCLUDED."offset", dead_at = clock_timestamp(), history = dead_letters.history || jsonb_build_array('
            "jsonb_build_object('at', clock_timestamp(), 'what', 'dead again', 'kind', EXCLUDED.kind, "
            "'error', EXCLUDED.error, 'partition', EXCLUDED.partition, 'offset', EXCLUDED.\"offset\")) "
            "WHERE dead_letters.status = 'redriven'",
            [
                (
                    self.consumer,
                    d.fingerprint,
                    d.event_id,
                    d.event_type,
                    d.kind,
                    d.error[:4000],
                    d.record.topic,
                    d.record.partition,
                    d.record.offset,
                    datetime.fromtimestamp(d.record.timestamp / 1000, UTC) if d.record.timestamp else None,
                    d.record.key,
                    [[name, _b64(value)] for name, value in d.record.headers or ()],
                    d.record.value if len(d.record.value or b"") <= KEEP_BYTES else None,
                    size_of(d.record),
                )
                for d in dead
            ],
        )

    async def publish(self, dead: Sequence[DeadLetter]) -> None:
        """Copy them to the dead-letter topic and wait for the broker's acknowledgement."""
        futures = []
        for d in dead:
            r = d.record
            meta = self._meta(d.kind, d.error, r.topic, r.partition, r.offset, d.fingerprint)
            if d.kept_size is not None or d.size + 1024 > self.max_copy_bytes:
                futures.append(await self._send_reference(d, meta))
                continue
            futures.append(await self._send(r.key, r.value, [*(r.headers or ()), *meta], d, meta))
        results = await asyncio.gather(*futures, return_exceptions=True)
        for d, result in zip(dead, results, strict=True):
            if isinstance(result, MessageSizeTooLargeError | RecordTooLargeError):  # the topic's own limit
                await (await self._send_reference(d, self._meta(d.kind, d.error, *_where(d.record), d.fingerprint)))
            elif isinstance(result, BaseException):
                raise result

    async def _send(
        self, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]], d: DeadLetter, meta: Any
    ) -> asyncio.Future[Any]:
        try:
            future: asyncio.Future[Any] = await self.producer.send(self.topic, value=value, key=key, headers=headers)
        except (MessageSizeTooLargeError, RecordTooLargeError):
            return await self._send_reference(d, meta)
        return future

    async def _send_reference(self, d: DeadLetter, meta: list[tuple[str, bytes]]) -> asyncio.Future[Any]:
        r = d.record
        reference = {
            "reference": True,
            "topic": r.topic,
            "partition": r.partition,
            "offset": r.offset,
            "timestamp": r.timestamp,
            "size": d.size,
            "key": _b64(r.key),
            "headers": [[name, _b64(value)] for name, value in r.headers or ()][:100],
            "why": "too large to copy to the dead-letter topic",
        }
        log.warning("%s: dead letter %s/%s/%s (%s bytes) goes to %s as a reference", self.consumer, r.topic,
                    r.partition, r.offset, reference["size"], self.topic)  # fmt: skip
        future: asyncio.Future[Any] = await self.producer.send(
            self.topic, value=json.dumps(reference).encode(), key=r.key[:1000] if r.key else None,
            headers=[*meta, ("dlq_reference", b"true")],
        )  # fmt: skip
        return future

    def _meta(
        self, kind: str, error: str, topic: str, partition: int, offset: int, fingerprint: str
    ) -> list[tuple[str, bytes]]:
        return [
            ("dlq_fingerprint", fingerprint.encode()),
            ("dlq_error", error.encode()[:4000]),
            ("dlq_kind", kind.encode()),
            ("dlq_consumer", self.consumer.encode()),
            ("dlq_topic", topic.encode()),
            ("dlq_partition", str(partition).encode()),
            ("dlq_offset", str(offset).encode()),
            ("dlq_time", datetime.now(UTC).isoformat().encode()),
        ]

    async def republish(
        self, pool: asyncpg.Pool, *, bootstrap: str | None = None, security: KafkaSecurity = PLAINTEXT
    ) -> int:
        """Copy every kept dead letter to the dead-letter topic again (a new, empty broker), but those the topic
        holds already (by `dlq_fingerprint`, when `bootstrap` is given to read it): a consumer or a sweep may have
        dead-lettered into the new broker before its loss was noticed. The table is read before the topic, so a
        dead letter kept meanwhile is either in the topic by then (published before its commit) or not read."""
        rows = await pool.fetch(
            'SELECT kind, error, topic, partition, "offset", record_time, key, headers, value, size, event_id, '
            "event_type FROM dead_letters WHERE consumer = $1 ORDER BY id",
            self.consumer,
        )
        present = await self.fingerprints(bootstrap, security) if bootstrap and rows else set()
        dead = [d for d in map(_from_row, rows) if d.fingerprint not in present]
        for start in range(0, len(dead), 500):
            await self.publish(dead[start : start + 500])
        return len(dead)

    async def fingerprints(self, bootstrap: str, security: KafkaSecurity = PLAINTEXT, idle_ms: int = 500) -> set[str]:
        """The `dlq_fingerprint` of every record in the dead-letter topic (read to its end: until nothing more
        comes, since some brokers report a low end offset)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, request_timeout_ms=10_000,
            max_partition_fetch_bytes=1 << 20, **security.aiokafka(),
        )  # fmt: skip
        await consumer.start()
        out: set[str] = set()
        try:
            parts = [TopicPartition(self.topic, p) for p in sorted(consumer.partitions_for_topic(self.topic) or [])]
            if not parts:
                return out
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            while batch := await consumer.getmany(timeout_ms=idle_ms):
                for records in batch.values():
                    for r in records:
                        out.update(v.decode(errors="replace") for k, v in r.headers or () if k == "dlq_fingerprint")
        finally:
            await consumer.stop()
        return out


def _from_row(row: Any) -> DeadLetter:
    record: ConsumerRecord[Any, Any] = ConsumerRecord(
        topic=row["topic"],
        partition=row["partition"],
        offset=row["offset"],
        timestamp=int(row["record_time"].timestamp() * 1000) if row["record_time"] else 0,
        timestamp_type=0,
        key=row["key"],
        value=row["value"] if row["value"] is not None else b"",
        checksum=None,
        serialized_key_size=-1,
        serialized_value_size=row["size"],
        headers=[(name, base64.b64decode(v) if v is not None else b"") for name, v in row["headers"]],
    )
    kept_size = row["size"] if row["value"] is None else None
    return DeadLetter(record, row["kind"], row["error"], row["event_id"], row["event_type"], kept_size)


def _where(record: ConsumerRecord[Any, Any]) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset
