"""Delivery under faults, at the consumer, over the real broker and Postgres: a record too large to copy,
a record that keeps failing while the infrastructure is fine, events that arrive before what they refer to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream.kafka import KafkaBroker

from shared.consumer import ConsumerPolicy, Handlers, InboxConsumer, TransientError, WaitFor
from shared.db import Conn, create_pool
from shared.deadletters import DeadLetter
from shared.events import Envelope, encode
from shared.events.pairing import PairCreated, PairEnded, PairPaused
from shared.infra import Infra
from shared.retry import Backoff, RetryPolicy
from shared.topics import Topics
from tests.integration import messaging
from tests.kafka_helpers import eventually, produce, read_topic

Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


@dataclass
class Rig:
    infra: Infra
    topics: Topics
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    dlq: str
    group: str
    brokers: list[KafkaBroker]
    tasks: list[asyncio.Task[None]]

    async def run(self, handlers: Handlers, *, topics: list[str] | None = None, **kw: Any) -> InboxConsumer:
        consumer = InboxConsumer(
            self.group,
            pool=self.pool,
            topics=topics or [self.topics.pairing],
            handlers=handlers,
            dead_letter_topic=self.dlq,
            producer=self.producer,
            session_timeout_ms=self.infra.session_timeout_ms,
            heartbeat_interval_ms=self.infra.heartbeat_interval_ms,
            **{"policy": messaging.FAST, **kw},
        )
        broker = KafkaBroker(self.infra.kafka_bootstrap)
        consumer.subscribe(broker)
        await broker.start()
        self.brokers.append(broker)
        self.tasks.append(asyncio.create_task(consumer.run_sweeper()))
        return consumer

    async def dead(self, expect: int) -> list[Any]:
        records = await read_topic(self.infra.kafka_bootstrap, self.dlq, expect=expect)
        return [r for r in records if dict(r.headers)["dlq_consumer"].decode() == self.group]


@pytest.fixture
async def rig(infra: Infra, created_topics: Topics, new_database: Any) -> AsyncIterator[Rig]:
    dsn = await new_database("delivery")
    await messaging.prepare(dsn)
    await _log_table(dsn)
    pool = await create_pool(dsn)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    rig = Rig(
        infra,
        created_topics,
        pool,
        producer,
        created_topics.dead_letter("counter"),
        f"delivery-{uuid.uuid4().hex[:8]}",
        [],
        [],
    )
    yield rig
    for task in rig.tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for broker in rig.brokers:
        await broker.stop()
    await producer.stop()
    await pool.close()


async def _log_table(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE applied (seq bigserial PRIMARY KEY, pair text, type text)")
    finally:
        await conn.close()


def message(env: Envelope[Any]) -> Message:
    rec = encode(env)
    return rec.key, rec.value, rec.headers


async def applied(pool: asyncpg.Pool, pair: str) -> list[str]:
    rows = await pool.fetch("SELECT type FROM applied WHERE pair = $1 ORDER BY seq", pair)
    return [r["type"].rsplit(".", 1)[-1] for r in rows]


async def test_a_record_too_large_to_copy_is_dead_lettered_as_a_reference_and_the_stream_flows(rig: Rig) -> None:
    key = f"big-{uuid.uuid4().hex[:6]}"
    after = messaging.pair_created(key)
    huge = b'{"not": "an event", "pad": "' + b"x" * 2_000_000 + b'"}'
    await produce(
        rig.infra.kafka_bootstrap,
        rig.topics.pairing,
        [(key.encode(), huge, [("content-type", b"application/json")]), message(after)],
        max_request_size=4_000_000,
    )
    consumer = await rig.run(messaging.counting_handlers())
    await eventually(lambda: messaging.counter(rig.pool, key))  # the event after it was applied
    [dead] = await rig.dead(expect=1)
    headers = dict(dead.headers)
    assert headers["dlq_reference"] == b"true"
    assert headers["dlq_kind"] == b"undecodable"
    reference = json.loads(dead.value)
    assert reference["size"] >= 2_000_000
    assert (reference["topic"], reference["partition"]) == (
        rig.topics.pairing,
        dead.partition or reference["partition"],
    )
    row = await rig.pool.fetchrow(
        "SELECT kind, size, length(value) AS kept FROM dead_letters WHERE consumer = $1", rig.group
    )
    assert row is not None
    assert row["kind"] == "undecodable"
    assert row["kept"] == len(huge)
    assert consumer.stats.dead_lettered == 1
    assert consumer.stats.retries == 0  # no retry loop: it was never treated as transient


async def test_a_broker_recovery_copies_only_the_dead_letters_the_new_broker_lacks(rig: Rig) -> None:
    """A broker that lost its log is noticed a little late: meanwhile a consumer may dead-letter into the new one.
    Republishing the kept dead letters then copies only those the topic lacks (by `dlq_fingerprint`)."""
    key = f"dup-{uuid.uuid4().hex[:6]}"
    await produce(rig.infra.kafka_bootstrap, rig.topics.pairing, [(key.encode(), b"{oops", [])])
    consumer = await rig.run(messaging.counting_handlers())
    await eventually(lambda: rig.pool.fetchval("SELECT count(*) FROM dead_letters WHERE consumer = $1", rig.group))
    [first] = await _mine(rig, key, 1)
    lost = ConsumerRecord(topic=rig.topics.pairing, partition=0, offset=10**9, timestamp=1, timestamp_type=0,
                          key=f"{key}-lost".encode(), value=b"{gone", checksum=None, serialized_key_size=-1,
                          serialized_value_size=5, headers=[])  # fmt: skip
    async with rig.pool.acquire() as conn:  # kept, but its copy went with the lost broker
        await consumer.dead_letters.store(conn, [DeadLetter(lost, "undecodable", "bad JSON")])
    assert await consumer.dead_letters.republish(rig.pool, bootstrap=rig.infra.kafka_bootstrap) == 1
    records = await _mine(rig, key, 2)
    assert sorted(r.key for r in records) == sorted([key.encode(), f"{key}-lost".encode()])
    assert dict(first.headers)["dlq_fingerprint"].startswith(b"record:")
    assert await consumer.dead_letters.republish(rig.pool, bootstrap=rig.infra.kafka_bootstrap) == 0
    assert len(await _mine(rig, key, 2)) == 2


async def _mine(rig: Rig, key: str, expect: int) -> list[Any]:
    """This test's dead letters (the topic is shared: by key), once `expect` of them are there."""
    records: list[Any] = []
    for _ in range(50):
        records = [r for r in await rig.dead(expect=1) if r.key and r.key.startswith(key.encode())]
        if len(records) >= expect:
            break
        await asyncio.sleep(0.2)
    return records


async def test_a_record_that_keeps_failing_while_the_infrastructure_answers_is_dead_lettered(rig: Rig) -> None:
    key = f"k-{uuid.uuid4().hex[:6]}"
    good1, bad, good2 = (messaging.pair_created(f"{key}-{n}") for n in ("a", "bad", "b"))
    handlers = Handlers()

    @handlers.on(PairCreated)
    async def flaky(conn: Conn, env: Envelope[Any]) -> None:
        if env.data.pair_id.endswith("-bad"):
            raise TransientError("the downstream table is locked (it always is, for this one)")
        await conn.execute("INSERT INTO counters (name, n) VALUES ($1, 1)", env.data.pair_id)

    await produce(rig.infra.kafka_bootstrap, rig.topics.pairing, [message(good1), message(bad), message(good2)])
    consumer = await rig.run(handlers)
    [dead] = await rig.dead(expect=1)
    headers = dict(dead.headers)
    assert headers["dlq_kind"] == b"failed"
    assert b"always is" in headers["dlq_error"]
    assert b"database and the broker answered" in headers["dlq_error"]
    assert await messaging.counter(rig.pool, f"{key}-a") == 1
    assert await messaging.counter(rig.pool, f"{key}-b") == 1
    assert consumer.stats.isolated_batches >= 1
    outcome = await rig.pool.fetchval(
        "SELECT outcome FROM inbox WHERE consumer = $1 AND event_id = $2", rig.group, bad.id
    )
    assert outcome == "dead_lettered"


def parking_handlers() -> Handlers:
    """PairCreated makes a pair known; pausing or ending one that is not known yet waits for it."""
    h = Handlers()

    @h.on(PairCreated)
    async def created(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute("INSERT INTO applied (pair, type) VALUES ($1, $2)", env.data.pair_id, env.type)

    @h.on(PairPaused, PairEnded, side_effects=True)
    async def changed(conn: Conn, env: Envelope[Any]) -> None:
        if not await conn.fetchval(
            "SELECT 1 FROM applied WHERE pair = $1 AND type LIKE '%PairCreated'", env.data.pair_id
        ):
            raise WaitFor(env.data.pair_id, f"pair {env.data.pair_id} not known yet")
        await conn.execute("INSERT INTO applied (pair, type) VALUES ($1, $2)", env.data.pair_id, env.type)

    return h


async def test_an_event_ahead_of_its_predecessor_is_parked_without_blocking_and_applied_in_order(rig: Rig) -> None:
    pair, other = f"p-{uuid.uuid4().hex[:6]}", f"o-{uuid.uuid4().hex[:6]}"
    paused = Envelope.new(PairPaused(pair_id=pair, programme_id="prog"))
    ended = Envelope.new(PairEnded(pair_id=pair, programme_id="prog", reason="completed"))
    # pairing topic: the pause and the end of a pair not known yet, then another pair
    await produce(
        rig.infra.kafka_bootstrap,
        rig.topics.pairing,
        [message(paused), message(ended), message(messaging.pair_created(other))],
    )
    consumer = await rig.run(parking_handlers(), topics=[rig.topics.pairing, rig.topics.sessions])
    await eventually(lambda: applied(rig.pool, other))  # the partition was not blocked
    await eventually(lambda: _parked(rig.pool, rig.group, 2))
    assert await applied(rig.pool, pair) == []
    # the other topic brings what they were waiting for
    await produce(rig.infra.kafka_bootstrap, rig.topics.sessions, [message(messaging.pair_created(pair))])
    await eventually(lambda: _equals(applied(rig.pool, pair), ["PairCreated", "PairPaused", "PairEnded"]))
    assert await _parked(rig.pool, rig.group, 0)
    assert consumer.stats.parked == 2
    assert consumer.stats.unparked == 2
    assert consumer.stats.dead_lettered == 0
    outcomes = await rig.pool.fetch(
        "SELECT outcome FROM inbox WHERE consumer = $1 AND event_id = ANY($2::text[])", rig.group, [paused.id, ended.id]
    )
    assert {r["outcome"] for r in outcomes} == {"applied"}


async def test_an_event_whose_predecessor_never_comes_is_dead_lettered_after_its_deadline(rig: Rig) -> None:
    ghost = f"ghost-{uuid.uuid4().hex[:6]}"
    paused = Envelope.new(PairPaused(pair_id=ghost, programme_id="prog"))
    ended = Envelope.new(PairEnded(pair_id=ghost, programme_id="prog", reason="completed"))
    await produce(rig.infra.kafka_bootstrap, rig.topics.pairing, [message(paused), message(ended)])
    quick = ConsumerPolicy(RetryPolicy(Backoff(0.05, 0.2), 3, 5), park_timeout=1.0, park_sweep_interval=0.2)
    consumer = await rig.run(parking_handlers(), policy=quick)
    dead = await rig.dead(expect=2)
    assert [dict(d.headers)["dlq_kind"] for d in dead] == [b"unresolved", b"unresolved"]
    assert all(b"not known yet" in dict(d.headers)["dlq_error"] for d in dead)
    assert {dict(d.headers)["ce_id"] for d in dead} == {paused.id.encode(), ended.id.encode()}
    assert await _parked(rig.pool, rig.group, 0)
    assert consumer.stats.dead_lettered == 2


async def _parked(pool: asyncpg.Pool, consumer: str, n: int) -> bool:
    return int(await pool.fetchval("SELECT count(*) FROM parked WHERE consumer = $1", consumer)) == n


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_a_failure_of_the_environment_is_retried_until_it_is_fixed_and_dead_letters_nothing(rig: Rig) -> None:
    """A missing table (a deployment gone wrong) fails every event alike: no event is to blame."""
    key = f"env-{uuid.uuid4().hex[:6]}"
    env = messaging.pair_created(key)
    handlers = Handlers()

    @handlers.on(PairCreated)
    async def needs_a_table(conn: Conn, e: Envelope[Any]) -> None:
        await conn.execute("INSERT INTO arrives_later (pair) VALUES ($1)", e.data.pair_id)

    await produce(rig.infra.kafka_bootstrap, rig.topics.pairing, [message(env)])
    consumer = await rig.run(handlers)
    await eventually(lambda: _true(consumer.stats.retries > messaging.FAST.retry.max_attempts + 1), timeout=30)
    assert consumer.stats.dead_lettered == 0
    assert "UndefinedTableError" in consumer.streak.error
    await rig.pool.execute("CREATE TABLE arrives_later (pair text)")  # the fix is deployed
    await eventually(lambda: rig.pool.fetchval("SELECT count(*) FROM arrives_later WHERE pair = $1", key))
    assert consumer.stats.dead_lettered == 0
    assert await rig.pool.fetchval("SELECT count(*) FROM dead_letters WHERE consumer = $1", rig.group) == 0


async def _true(value: bool) -> bool:
    return value


async def test_a_parked_event_continues_its_trace_when_it_is_applied_later(rig: Rig) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from shared import telemetry

    spans = InMemorySpanExporter()
    telemetry.provider().add_span_processor(SimpleSpanProcessor(spans))
    try:
        pair = f"p-{uuid.uuid4().hex[:6]}"
        trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        paused = Envelope.new(PairPaused(pair_id=pair, programme_id="prog"))
        key, value, headers = message(paused)
        traced = [*headers, ("ce_traceparent", f"00-{trace_id}-{span_id}-01".encode())]
        await produce(rig.infra.kafka_bootstrap, rig.topics.pairing, [(key, value, traced)])
        await rig.run(parking_handlers(), topics=[rig.topics.pairing, rig.topics.sessions])
        await eventually(lambda: _parked(rig.pool, rig.group, 1))
        await produce(rig.infra.kafka_bootstrap, rig.topics.sessions, [message(messaging.pair_created(pair))])
        await eventually(lambda: _equals(applied(rig.pool, pair), ["PairCreated", "PairPaused"]))

        # it was tried (and parked), then applied once its pair came: every try is a span of the trace it came with
        tries = [
            s
            for s in spans.get_finished_spans()
            if s.kind == SpanKind.CONSUMER and s.attributes and s.attributes["messaging.message.id"] == paused.id
        ]
        assert {format(s.context.trace_id, "032x") for s in tries} == {trace_id}
        assert {format(s.parent.span_id, "016x") for s in tries if s.parent} == {span_id}
        assert len(tries) >= 2
    finally:
        spans.shutdown()
