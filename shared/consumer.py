"""Idempotent consumers: the inbox pattern on top of a FastStream Kafka subscriber.

For every batch of records a consumer:
1. decodes each record (CloudEvents binary mode, upcast to the current schema); a record that cannot be
   decoded or validated is a *dead letter*;
2. in ONE Postgres transaction, for each decoded event: records (consumer, event id) in the inbox (a
   duplicate stops here and changes nothing), runs the handler inside a savepoint (a handler that
   rejects the event turns it into a dead letter and changes nothing; one that raises `WaitFor` has the
   event *parked* until what it refers to arrives, see shared.parking), records the tracking position
   (topic, partition, next offset), keeps the dead letters in the `dead_letters` table and publishes them
   to the consumer's dead-letter topic (before the commit, so that none is lost if the commit fails);
3. only after that commit, commits the Kafka offsets (FastStream AckPolicy.MANUAL: never ack-first).

A failed batch is rolled back, the partition is sought back, and the batch comes again after a capped,
jittered back-off (shared.retry). While the database or the broker does not answer, that goes on without
end (and readiness says so). When both answer and the batch still fails after a bounded number of
attempts or time, the consumer takes the batch apart and applies its records one by one; a record that
keeps failing on its own becomes a dead letter of kind `failed`, with the error, and the stream flows on.
A crash between the database commit and the offset commit redelivers the batch; the inbox turns every
redelivered event into a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from opentelemetry.trace import SpanKind

from shared import personal
from shared.db import Conn
from shared.deadletters import DeadLetter, DeadLetters, fingerprint
from shared.events import Envelope, EventPayload, UndecodableEvent, decode
from shared.failures import SYSTEMIC, TRANSIENT, ProjectionSwapped, TransientError
from shared.metrics import CURRENT, Metrics
from shared.parking import Drained, Parking, WaitFor, provided_by
from shared.personal import KeyNotFound, Keyring, KeysNeeded
from shared.retry import Backoff, RetryPolicy, Streak
from shared.telemetry import context_from_headers, log_context, record_headers, tracer

log = logging.getLogger(__name__)

Handler = Callable[[Conn, Envelope[Any]], Awaitable[None]]
P = TypeVar("P", bound=EventPayload)

__all__ = ["TRANSIENT", "DeadLetter", "Handlers", "InboxConsumer", "ProjectionSwapped", "TransientError", "WaitFor"]


#: Consumers take this lock shared for each batch; `tandem replay` takes it exclusively to swap.
PROJECTION_LOCK = "tandem-projection"


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
    parked: int = 0
    unparked: int = 0
    retries: int = 0
    batches: int = 0
    isolated_batches: int = 0
    commit_errors: int = 0
    last_error: str = ""


@dataclass
class BatchResult:
    applied: list[Envelope[Any]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    parked: int = 0
    unparked: int = 0
    duplicates: int = 0
    ignored: int = 0


class _Rejected(Exception):
    """A handler rejected an event (or asked to wait) in the fast pass: redo the batch with a savepoint per
    event."""


@dataclass(frozen=True)
class ConsumerPolicy:
    """How a consumer retries, and how long an event may stay parked."""

    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(Backoff(0.2, 10.0)))
    park_timeout: float = 3600.0
    park_sweep_interval: float = 5.0


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
        policy: ConsumerPolicy = ConsumerPolicy(),
        after_commit: Callable[[Sequence[ConsumerRecord[Any, Any]]], Awaitable[None]] | None = None,
        group_id: str | None = None,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        fetch_max_wait_ms: int = 20,
        serves: Callable[[str], bool] = lambda tenant: True,
        metrics: Metrics | None = None,
    ) -> None:
        self.name = name
        #: The service's metrics, current while handlers run (shared.metrics.timed).
        self.metrics = metrics
        #: The trace headers (ce_traceparent, ce_tracestate) of the events of the batch at hand, by event id.
        self._trace: dict[str, dict[str, str]] = {}
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
        self.dead_letters = DeadLetters(name, dead_letter_topic, producer)
        self.producer = producer
        self.max_records = max_records
        self.policy = policy
        #: The data keys of this service's database, as far as its events have needed them (shared.personal).
        self.keys = Keyring()
        self.parking = Parking(name, timeout=policy.park_timeout, backoff=policy.retry.backoff, keys=self.keys)
        self.after_commit = after_commit
        self.stats = ConsumerStats()
        #: The run of failures of the batch at hand (readiness reports it).
        self.streak = Streak()
        self.generation: int | None = None
        self.subscriber: Any = None
        self._commit_error_logged = 0.0

    # --- one batch --------------------------------------------------------------------------------

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> BatchResult:
        """Apply a batch in one transaction. Raises when it must be retried (nothing is committed then).

        Handlers first run without a savepoint each (rejections are rare); when one rejects an event or asks
        to wait, the whole transaction is rolled back and the batch is applied again with one savepoint per
        event, so that only that event is dead-lettered or parked.
        """
        try:
            result = await self._process(records, careful=False)
        except _Rejected:
            result = await self._process(records, careful=True)
        self.stats.applied += len(result.applied)
        self.stats.ignored += result.ignored
        self.stats.duplicates += result.duplicates
        self.stats.dead_lettered += len(result.dead)
        self.stats.parked += result.parked
        self.stats.unparked += result.unparked
        self.stats.batches += 1
        return result

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A consumer's transaction: under the shared projection lock, on the live projection generation."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext($1))", PROJECTION_LOCK)
            generation = await conn.fetchval("SELECT generation FROM public.projection_state")
            if self.generation is not None and generation != self.generation:
                self.generation = generation
                await self.pool.expire_connections()  # their cached statements name the old tables
                raise ProjectionSwapped(f"projection generation {generation} swapped in; retrying")
            self.generation = generation
            yield conn

    async def apply(self, conn: Conn, env: Envelope[Any]) -> None:
        """Run the event's handlers in a consumer span continuing the trace the event carries (its traceparent),
        with the event's log context (its correlation id, its id as the causation id, its tenant)."""
        headers = self._trace.get(env.id, {})
        with (
            log_context(correlation_id=env.correlationid, causation_id=env.id, tenant=env.tenant),
            tracer().start_as_current_span(
                f"{env.type} process",
                context=context_from_headers(headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.consumer.group.name": self.group_id,
                    "messaging.message.id": env.id,
                    "cloudevents.event_type": env.type,
                    "cloudevents.event_subject": env.subject,
                },
            ),
        ):
            for handler in self.handlers.for_type(env.type):
                await handler(conn, env)
            log.debug("%s applied %s %s", self.name, env.type, env.id)

    async def _process(self, records: Sequence[ConsumerRecord[Any, Any]], *, careful: bool) -> BatchResult:
        result = BatchResult()
        decoded: list[tuple[ConsumerRecord[Any, Any], Envelope[Any]]] = []
        self._trace = {}
        await self._prepare_keys(records)
        for record in records:
            try:
                env = decode(record.headers, record.value, self.keys)
            except UndecodableEvent as exc:
                result.dead.append(DeadLetter(record, "undecodable", str(exc)))
                continue
            traced = record_headers(record.headers)
            if traced:
                self._trace[env.id] = traced
            if not self.serves(env.tenant):
                why = f"tenant {env.tenant!r} is not served by {self.name}"
                result.dead.append(DeadLetter(record, "tenant", why, env.id, env.type))
                continue
            decoded.append((record, env))
        positions = _positions(records)

        async with self.transaction() as conn:
            # One statement records the whole batch in the inbox; what it did not insert was seen before.
            # A dead letter without an event id goes by its fingerprint (place in the log and content), so
            # that a redelivered batch does not dead-letter it twice.
            inbox = [(d.fingerprint, d.event_type or "?", d.record, "dead_lettered") for d in result.dead] + [
                (env.id, env.type, r, "applied" if self.handlers.for_type(env.type) else "ignored")
                for r, env in decoded
            ]
            fresh = await self._record_all(conn, inbox)
            result.dead = [d for d in result.dead if d.fingerprint in fresh]
            any_parked = await self.parking.any(conn)
            heads = (
                await self.parking.heads(conn, {(r.topic, env.key) for r, env in decoded if env.id in fresh})
                if any_parked
                else {}
            )
            blocked = set(heads)
            for record, env in decoded:
                if env.id not in fresh:
                    result.duplicates += 1
                    continue
                fresh.discard(env.id)  # a second copy in the same batch is a duplicate too
                if not self.handlers.for_type(env.type):
                    result.ignored += 1
                    continue
                queue = (record.topic, env.key)
                predecessor = env.subject != env.key and heads.get(queue) == env.subject
                if queue in blocked and not predecessor:  # an earlier event of this key is parked: keep the order
                    if not careful:
                        raise _Rejected
                    await self.parking.park(conn, record, env, env.key, f"behind a parked event of {env.key}")
                    result.parked += 1
                    continue
                if not careful:
                    try:
                        await self.apply(conn, env)
                    except TRANSIENT:
                        raise
                    except Exception as exc:
                        raise _Rejected from exc
                    result.applied.append(env)
                    continue
                try:
                    async with conn.transaction():
                        await self.apply(conn, env)
                except TRANSIENT:
                    raise
                except WaitFor as exc:  # it refers to something not here yet: park it, go on
                    await self.parking.park(conn, record, env, exc.what, str(exc))
                    blocked.add(queue)
                    heads.setdefault(queue, exc.what)  # its predecessor may come later in this very batch
                    result.parked += 1
                    continue
                except Exception as exc:  # the handler rejected this event: dead letter, change nothing
                    log.warning("%s rejected %s %s: %s", self.name, env.type, env.id, exc)
                    result.dead.append(DeadLetter(record, "rejected", f"{type(exc).__name__}: {exc}", env.id, env.type))
                    await conn.execute(
                        "UPDATE inbox SET outcome = 'dead_lettered' WHERE consumer = $1 AND event_id = $2",
                        self.name,
                        env.id,
                    )
                    continue
                result.applied.append(env)
            if any_parked or result.parked:  # what was applied may be what parked events wait for
                woken = await self.parking.wake(conn, provided_by(result.applied), self.apply)
                result.unparked += len(woken.applied)
                result.applied += woken.applied
                result.dead += woken.dead
            await self._advance(conn, positions)
            await self.dead_letters.store(conn, result.dead)
            await self.dead_letters.publish(result.dead)
        return result

    async def _prepare_keys(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Load the data keys the batch's encrypted fields name. A key this service's mirror of the key topic has
        not brought yet (it was issued a moment ago, the two topics are read independently) is waited for a few
        seconds; one still missing then fails the batch (KeyNotFound), which is retried, and in the end a record
        whose key never comes becomes a dead letter that can be redriven."""
        wanted = personal.key_ids_in(r.value for r in records)
        if not wanted:
            return
        async with self.pool.acquire() as conn:
            missing = await self.keys.prepare_ids(conn, wanted)
            if missing and not await self.keys.wait_for(conn, missing):
                raise KeyNotFound(missing)

    async def _advance(self, conn: Conn, positions: dict[tuple[str, int], tuple[int, str | None]]) -> None:
        """Record where each partition stands (the next offset, and the id of the event before it)."""
        await conn.executemany(
            "INSERT INTO consumer_positions (consumer, topic, partition, next_offset, last_event_id) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (consumer, topic, partition) DO UPDATE "
            "SET next_offset = EXCLUDED.next_offset, last_event_id = EXCLUDED.last_event_id, "
            "updated_at = clock_timestamp() WHERE EXCLUDED.next_offset > consumer_positions.next_offset",
            [(self.name, t, p, o, e) for (t, p), (o, e) in positions.items()],
        )

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

    # --- parked events ------------------------------------------------------------------------------

    async def sweep_parked(self) -> Drained:
        """Try the parked queues that are due (back-off passed, or deadline passed) once."""
        async with self.transaction() as conn:
            out = Drained()
            for topic, key in await self.parking.due_queues(conn):
                await self.parking.drain(conn, topic, key, self.apply, out)
            if out.applied:
                more = await self.parking.wake(conn, out.provides(), self.apply)
                out.applied += more.applied
                out.dead += more.dead
            await self.dead_letters.store(conn, out.dead)
            await self.dead_letters.publish(out.dead)
        self.stats.unparked += len(out.applied)
        self.stats.dead_lettered += len(out.dead)
        return out

    async def run_sweeper(self) -> None:
        """Sweep parked events every `park_sweep_interval` seconds until cancelled."""
        failures = 0
        while True:
            try:
                await self.sweep_parked()
                failures = 0
                await asyncio.sleep(self.policy.park_sweep_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("%s: sweeping parked events failed: %s", self.name, exc)
                await asyncio.sleep(self.policy.retry.backoff.delay(failures))

    # --- failures -------------------------------------------------------------------------------------

    async def infrastructure_down(self, failure: BaseException | None = None) -> str | None:
        """Why the database or the broker cannot be used now (or the failure is the environment's, not the
        event's: see SYSTEMIC), or None when both answer."""
        if isinstance(failure, SYSTEMIC):
            return f"the database refuses every event alike: {type(failure).__name__}: {failure}"
        try:
            await asyncio.wait_for(self.pool.fetchval("SELECT 1"), 3)
        except Exception as exc:
            return f"database: {type(exc).__name__}: {exc}"
        try:
            partitions = await asyncio.wait_for(self.producer.partitions_for(self.dead_letter_topic), 5)
        except Exception as exc:
            return f"broker: {type(exc).__name__}: {exc}"
        if not partitions:
            return f"broker: the dead-letter topic {self.dead_letter_topic} does not exist"
        return None

    async def _isolate(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Apply the records of a batch that keeps failing one by one; one that fails on its own while the
        infrastructure answers becomes a dead letter. Raises when the infrastructure goes away meanwhile."""
        self.stats.isolated_batches += 1
        for record in records:
            streak = Streak()
            while True:
                try:
                    await self.process([record])
                    break
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    attempts = streak.fail(_where(record), error)
                    down = await self.infrastructure_down(exc)
                    if down is not None:
                        raise TransientError(down) from exc
                    assert streak.since is not None
                    if self.policy.retry.exhausted(attempts, streak.since):
                        await self._dead_letter_alone(record, f"{error} (failed {attempts} times on its own while "
                                                              "the database and the broker answered)")  # fmt: skip
                        break
                    await asyncio.sleep(self.policy.retry.backoff.delay(attempts))

    async def _dead_letter_alone(self, record: ConsumerRecord[Any, Any], error: str) -> None:
        event_id = event_type = None
        with contextlib.suppress(UndecodableEvent, KeyNotFound, KeysNeeded):
            env = decode(record.headers, record.value, self.keys)
            if len(env.id) <= 200:
                event_id, event_type = env.id, env.type
        dead = DeadLetter(record, "failed", error, event_id, event_type)
        log.error("%s: dead-lettering %s: %s", self.name, _where(record), error)
        async with self.transaction() as conn:
            await conn.execute(
                'INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset", outcome) '
                "VALUES ($1, $2, $3, $4, $5, $6, 'dead_lettered') ON CONFLICT (consumer, event_id) "
                "DO UPDATE SET outcome = 'dead_lettered'",
                self.name, dead.fingerprint, event_type or "?", record.topic, record.partition, record.offset,
            )  # fmt: skip
            await self._advance(conn, _positions([record]))
            await self.dead_letters.store(conn, [dead])
            await self.dead_letters.publish([dead])
        self.stats.dead_lettered += 1

    # --- the FastStream side --------------------------------------------------------------------------

    async def handle_batch(self, msg: Any) -> None:
        """Process, then ack (commit offsets) or nack (seek back) and back off."""
        records: tuple[ConsumerRecord[Any, Any], ...] = msg.raw_message
        if self.metrics is not None:
            CURRENT.set(self.metrics)  # this task's: handlers observe their service's histograms
        try:
            await self.process(records)
        except Exception as exc:  # nothing was committed
            if not await self._after_failure(records, exc):
                await msg.nack()
                await asyncio.sleep(self.policy.retry.backoff.delay(self.streak.attempts))
                return
        self.streak.clear()
        if self.after_commit is not None:
            await self.after_commit(records)
        try:
            await msg.ack()
        except Exception as exc:  # the database has it all; a redelivery is a no-op
            self.stats.commit_errors += 1
            if time.monotonic() - self._commit_error_logged > 30:
                self._commit_error_logged = time.monotonic()
                log.warning("%s: committing offsets failed (%s); the inbox absorbs the redelivery", self.name, exc)

    async def _after_failure(self, records: Sequence[ConsumerRecord[Any, Any]], exc: Exception) -> bool:
        """Deal with a failed batch. True when it was settled after all (taken apart and applied)."""
        error = f"{type(exc).__name__}: {exc}"
        attempts = self.streak.fail(_where(records[0]) if records else "", error)
        self.stats.retries += 1
        self.stats.last_error = error
        if isinstance(exc, ProjectionSwapped):
            return False
        down = await self.infrastructure_down(exc)
        if attempts == 1 or attempts & (attempts - 1) == 0:  # log the 1st, 2nd, 4th, 8th... attempt
            expected = isinstance(exc, TRANSIENT)
            log.log(logging.WARNING if expected else logging.ERROR, "%s: batch failed (attempt %d%s): %s",
                    self.name, attempts, f"; {down}" if down else "", error,
                    exc_info=not expected)  # fmt: skip
        assert self.streak.since is not None
        if down is not None or not self.policy.retry.exhausted(attempts, self.streak.since):
            return False
        log.warning("%s: batch at %s failed %d times with the database and broker up: applying it record by record",
                    self.name, self.streak.subject, attempts)  # fmt: skip
        try:
            await self._isolate(records)
        except Exception as again:
            self.stats.last_error = f"{type(again).__name__}: {again}"
            return False
        return True

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
        self.subscriber = subscriber

    def assignment(self) -> dict[str, list[int]]:
        """The partitions the group gave this member, by topic (empty while it joins or is stopped): with
        several replicas each owns a share, and readiness shows which (operators, and the scale-out test)."""
        consumer = getattr(self.subscriber, "consumer", None)
        if consumer is None:
            return {}
        out: dict[str, list[int]] = {}
        for tp in consumer.assignment():
            out.setdefault(tp.topic, []).append(tp.partition)
        return {topic: sorted(partitions) for topic, partitions in sorted(out.items())}

    async def restart(self) -> None:
        """Leave the consumer group and join it afresh (after the broker lost its log and its groups)."""
        if self.subscriber is not None:
            await self.subscriber.stop()
            await self.subscriber.start()


#: How long one poll waits when the log is idle. aiokafka's getmany returns as soon as records arrive, so
#: this bounds idle wake-ups, not latency.
IDLE_POLL_MS = 200


async def get_batch_without_idle_sleep(subscriber: Any, consumer: Any) -> tuple[ConsumerRecord[Any, Any], ...]:
    """FastStream's batch subscriber, after a poll that found nothing, sleeps for `batch_timeout_ms` more
    before polling again; records that arrive meanwhile wait up to that long (a 20 ms tail on every quiet
    moment). This is its `get_msg` without the sleep: getmany itself already waits, and wakes on arrival."""
    batch = await consumer.getmany(timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records)
    return tuple(chain.from_iterable(batch.values()))


def _positions(records: Sequence[ConsumerRecord[Any, Any]]) -> dict[tuple[str, int], tuple[int, str | None]]:
    """Per partition: the offset after the last record, and that record's event id (its ce_id header)."""
    out: dict[tuple[str, int], tuple[int, str | None]] = {}
    for record in records:
        tp = (record.topic, record.partition)
        if record.offset + 1 > out.get(tp, (0, None))[0]:
            out[tp] = (record.offset + 1, event_id_of(record))
    return out


def event_id_of(record: ConsumerRecord[Any, Any]) -> str | None:
    for name, value in record.headers or ():
        if name == "ce_id":
            try:
                return value.decode()[:200] if value else None
            except UnicodeDecodeError:
                return None
    return None


def _where(record: ConsumerRecord[Any, Any]) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


__all__ += ["fingerprint"]


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
