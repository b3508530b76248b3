"""Idempotent consumers: the inbox pattern on top of a FastStream Kafka subscriber.

For every batch of records a consumer:
1. decodes each record (CloudEvents binary mode, upcast to the current schema); a record that cannot be
   decoded or validated is a *dead letter*;
2. in ONE Postgres transaction, for each decoded event: records (consumer, event id) in the inbox (a
   duplicate stops here and changes nothing), runs the handler inside a savepoint (a handler that
   rejects the event turns it into a dead letter and changes nothing), records the tracking position
   (topic, partition, next offset), and publishes the dead letters to the consumer's dead-letter topic
   (before the commit, so that none is lost if the commit fails);
3. only after that commit, commits the Kafka offsets (FastStream AckPolicy.MANUAL: never ack-first).

Transient failures (database or broker unreachable, serialization conflicts) roll the transaction back
and seek the partition back to the batch, so the same records come again after a back-off: retried, not
dead-lettered. A crash between the database commit and the offset commit redelivers the batch; the inbox
turns every redelivered event into a no-op.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from typing import Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from shared.db import Conn
from shared.events import Envelope, EventPayload, UndecodableEvent, decode

log = logging.getLogger(__name__)

Handler = Callable[[Conn, Envelope[Any]], Awaitable[None]]
P = TypeVar("P", bound=EventPayload)


class TransientError(Exception):
    """Raise from a handler to have the batch retried later instead of dead-lettered."""


class ProjectionSwapped(TransientError):
    """A rebuilt projection was swapped in since the last batch: retry on fresh connections."""


#: Consumers take this lock shared for each batch; `tandem replay` takes it exclusively to swap.
PROJECTION_LOCK = "tandem-projection"


TRANSIENT: tuple[type[BaseException], ...] = (
    TransientError,
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    KafkaError,
)


class Handlers:
    """Handlers of one consumer, by event type: `@handlers.on(PairCreated)`.

    A projection handler writes only the service's projection tables (schema `projection`) and is a
    deterministic function of the event: replay runs it again to rebuild the projection. A handler
    with `side_effects=True` does more (plans notifications, writes to the outbox): the live consumer
    runs it, replay never does. Several handlers may take one type; they run in registration order.
    """

    def __init__(self) -> None:
        self.by_type: dict[str, list[Handler]] = {}
        self.with_side_effects: set[Handler] = set()
        #: Optional bulk replay path: a factory of an object with `handles(type) -> bool`,
        #: `apply(envelope) -> bool` (False: rejected) and `async flush(conn, schema)` that yields exactly
        #: the rows the replayable handlers yield (see shared.replay).
        self.bulk: Callable[[], Any] | None = None

    def on(self, *payloads: type[EventPayload], side_effects: bool = False) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            for payload in payloads:
                self.by_type.setdefault(payload.TYPE, []).append(fn)
            if side_effects:
                self.with_side_effects.add(fn)
            return fn

        return register

    def include(self, other: Handlers) -> None:
        for event_type, fns in other.by_type.items():
            self.by_type.setdefault(event_type, []).extend(fns)
        self.with_side_effects |= other.with_side_effects

    def for_type(self, event_type: str, *, replay: bool = False) -> list[Handler]:
        fns = self.by_type.get(event_type, [])
        return [f for f in fns if f not in self.with_side_effects] if replay else fns


@dataclass
class ConsumerStats:
    applied: int = 0
    ignored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retries: int = 0
    batches: int = 0
    last_error: str = ""


@dataclass
class DeadLetter:
    record: ConsumerRecord[Any, Any]
    kind: str  # "undecodable" | "rejected" | "tenant" (a tenant this deployment does not serve)
    error: str


@dataclass
class BatchResult:
    applied: list[Envelope[Any]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0
    ignored: int = 0


class _Rejected(Exception):
    """A handler rejected an event in the fast pass: redo the batch with a savepoint per event."""


class InboxConsumer:
    def __init__(
        self,
        name: str,
        *,
        pool: asyncpg.Pool,
        topics: Sequence[str],
        handlers: Handlers,
        dead_letter_topic: str,
        producer: AIOKafkaProducer,
        max_records: int = 500,
        retry_backoff: float = 0.5,
        after_commit: Callable[[Sequence[ConsumerRecord[Any, Any]]], Awaitable[None]] | None = None,
        group_id: str | None = None,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        fetch_max_wait_ms: int = 20,
        serves: Callable[[str], bool] = lambda tenant: True,
    ) -> None:
        self.name = name
        #: Which tenants' events this consumer applies; any other tenant's event is a dead letter.
        self.serves = serves
        self.group_id = group_id or name
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.pool = pool
        self.topics = list(topics)
        self.handlers = handlers
        self.dead_letter_topic = dead_letter_topic
        self.producer = producer
        self.max_records = max_records
        self.retry_backoff = retry_backoff
        self.after_commit = after_commit
        self.stats = ConsumerStats()
        self.generation: int | None = None

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> BatchResult:
        """Apply a batch in one transaction. Raises a TRANSIENT error when it must be retried.

        Handlers first run without a savepoint each (rejections are rare); when one rejects an event, the
        whole transaction is rolled back and the batch is applied again with one savepoint per event, so
        that only the rejected event is dead-lettered.
        """
        try:
            result = await self._process(records, careful=False)
        except _Rejected:
            result = await self._process(records, careful=True)
        self.stats.applied += len(result.applied)
        self.stats.ignored += result.ignored
        self.stats.duplicates += result.duplicates
        self.stats.dead_lettered += len(result.dead)
        self.stats.batches += 1
        return result

    async def _process(self, records: Sequence[ConsumerRecord[Any, Any]], *, careful: bool) -> BatchResult:
        result = BatchResult()
        decoded: list[tuple[ConsumerRecord[Any, Any], Envelope[Any]]] = []
        for record in records:
            try:
                env = decode(record.headers, record.value)
            except UndecodableEvent as exc:
                result.dead.append(DeadLetter(record, "undecodable", str(exc)))
                continue
            if not self.serves(env.tenant):
                result.dead.append(DeadLetter(record, "tenant", f"tenant {env.tenant!r} is not served by {self.name}"))
                continue
            decoded.append((record, env))
        positions: dict[tuple[str, int], int] = {}
        for record in records:
            tp = (record.topic, record.partition)
            positions[tp] = max(positions.get(tp, 0), record.offset + 1)

        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext($1))", PROJECTION_LOCK)
            generation = await conn.fetchval("SELECT generation FROM public.projection_state")
            if self.generation is not None and generation != self.generation:
                self.generation = generation
                await self.pool.expire_connections()  # their cached statements name the old tables
                raise ProjectionSwapped(f"projection generation {generation} swapped in; retrying")
            self.generation = generation
            # One statement records the whole batch in the inbox; what it did not insert was seen before.
            # Undecodable records have no event id: their position stands in for it, so that a redelivered
            # batch does not dead-letter them twice.
            inbox = [(_where(d.record), "?", d.record, "dead_lettered") for d in result.dead] + [
                (env.id, env.type, r, "applied" if self.handlers.for_type(env.type) else "ignored")
                for r, env in decoded
            ]
            fresh = await self._record_all(conn, inbox)
            result.dead = [d for d in result.dead if _where(d.record) in fresh]
            for record, env in decoded:
                if env.id not in fresh:
                    result.duplicates += 1
                    continue
                fresh.discard(env.id)  # a second copy in the same batch is a duplicate too
                handlers = self.handlers.for_type(env.type)
                if not handlers:
                    result.ignored += 1
                    continue
                if not careful:
                    try:
                        for handler in handlers:
                            await handler(conn, env)
                    except TRANSIENT:
                        raise
                    except Exception as exc:
                        raise _Rejected from exc
                    result.applied.append(env)
                    continue
                try:
                    async with conn.transaction():
                        for handler in handlers:
                            await handler(conn, env)
                except TRANSIENT:
                    raise
                except Exception as exc:  # the handler rejected this event: dead letter, change nothing
                    log.warning("%s rejected %s %s: %s", self.name, env.type, env.id, exc)
                    result.dead.append(DeadLetter(record, "rejected", f"{type(exc).__name__}: {exc}"))
                    await conn.execute(
                        "UPDATE inbox SET outcome = 'dead_lettered' WHERE consumer = $1 AND event_id = $2",
                        self.name,
                        env.id,
                    )
                    continue
                result.applied.append(env)
            await conn.executemany(
                "INSERT INTO consumer_positions (consumer, topic, partition, next_offset) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (consumer, topic, partition) DO UPDATE "
                "SET next_offset = GREATEST(consumer_positions.next_offset, EXCLUDED.next_offset), "
                "updated_at = clock_timestamp()",
                [(self.name, t, p, o) for (t, p), o in positions.items()],
            )
            await self._publish_dead_letters(result.dead)
        return result

    async def _record_all(self, conn: Conn, rows: list[tuple[str, str, ConsumerRecord[Any, Any], str]]) -> set[str]:
        if not rows:
            return set()
        inserted = await conn.fetch(
            'INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset", outcome) '
            "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::text[]) "
            "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id",
            self.name,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2].topic for r in rows],
            [r[2].partition for r in rows],
            [r[2].offset for r in rows],
            [r[3] for r in rows],
        )
        return {r["event_id"] for r in inserted}

    async def _publish_dead_letters(self, dead: list[DeadLetter]) -> None:
        futures = []
        for d in dead:
            r = d.record
            headers = [
                *(r.headers or ()),
                ("dlq_error", d.error.encode()[:4000]),
                ("dlq_kind", d.kind.encode()),
                ("dlq_consumer", self.name.encode()),
                ("dlq_topic", r.topic.encode()),
                ("dlq_partition", str(r.partition).encode()),
                ("dlq_offset", str(r.offset).encode()),
                ("dlq_time", datetime.now(UTC).isoformat().encode()),
            ]
            futures.append(await self.producer.send(self.dead_letter_topic, value=r.value, key=r.key, headers=headers))
        if futures:
            await asyncio.gather(*futures)

    async def handle_batch(self, msg: Any) -> None:
        """The FastStream side: process, then ack (commit offsets) or nack (seek back) and back off."""
        records: tuple[ConsumerRecord[Any, Any], ...] = msg.raw_message
        try:
            await self.process(records)
        except Exception as exc:  # transient or unexpected: nothing was committed; retry the batch
            self.stats.retries += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            level = logging.WARNING if isinstance(exc, TRANSIENT) else logging.ERROR
            log.log(level, "%s: batch failed, will retry: %s", self.name, exc, exc_info=level == logging.ERROR)
            await msg.nack()
            await asyncio.sleep(self.retry_backoff)
            return
        if self.after_commit is not None:
            await self.after_commit(records)
        await msg.ack()

    def subscribe(self, broker: KafkaBroker | KafkaRouter) -> None:
        async def on_batch(msg: KafkaMessage) -> None:
            await self.handle_batch(msg)

        on_batch.__name__ = f"{self.name}_inbox"
        subscriber = broker.subscriber(
            *self.topics,
            group_id=self.group_id,
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            batch_timeout_ms=IDLE_POLL_MS,
            batch=True,
            max_records=self.max_records,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            parser=tolerant_batch_parser,
            decoder=raw_decoder,
            title=f"{self.name}-inbox",
            description=f"Idempotent consumer '{self.name}' (inbox, manual ack after commit).",
        )
        subscriber(on_batch)
        subscriber.get_msg = functools.partial(get_batch_without_idle_sleep, subscriber)  # type: ignore[method-assign]


#: How long one poll waits when the log is idle. aiokafka's getmany returns as soon as records arrive, so
#: this bounds idle wake-ups, not latency.
IDLE_POLL_MS = 200


async def get_batch_without_idle_sleep(subscriber: Any, consumer: Any) -> tuple[ConsumerRecord[Any, Any], ...]:
    """FastStream's batch subscriber, after a poll that found nothing, sleeps for `batch_timeout_ms` more
    before polling again; records that arrive meanwhile wait up to that long (a 20 ms tail on every quiet
    moment). This is its `get_msg` without the sleep: getmany itself already waits, and wakes on arrival."""
    batch = await consumer.getmany(timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records)
    return tuple(chain.from_iterable(batch.values()))


def _where(record: ConsumerRecord[Any, Any]) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


def _utf8(value: bytes | None) -> bool:
    if value is None:
        return True
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


async def tolerant_batch_parser(
    records: tuple[ConsumerRecord[Any, Any], ...], original: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    """FastStream's own parser decodes every header as UTF-8 and drops the whole batch when one header
    is not. Give it sanitised copies and hand the untouched records to our handler."""
    safe = tuple(
        dataclasses.replace(r, headers=[(k, v if _utf8(v) else b"") for k, v in (r.headers or ())]) for r in records
    )
    message = await original(safe)
    message.raw_message = records
    return message


async def raw_decoder(message: StreamMessage[Any], original: Callable[[Any], Awaitable[Any]]) -> Any:
    """Decoding happens in InboxConsumer.process, per record, so that a bad record is a dead letter."""
    return None
