"""Idempotent consumers over the real broker and Postgres: duplicates, dead letters, transient errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from shared.consumer import Handlers, InboxConsumer
from shared.db import Conn, create_pool
from shared.events import Envelope
from shared.events.pairing import PairCreated
from shared.infra import Infra
from shared.topics import Topics
from tests.integration import messaging
from tests.kafka_helpers import eventually, produce, read_topic


@dataclass
class Rig:
    infra: Infra
    topics: Topics
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    topic: str
    dlq: str
    group: str

    async def run(self, handlers: Handlers) -> tuple[InboxConsumer, KafkaBroker]:
        consumer = messaging.make_consumer(
            self.group,
            self.pool,
            self.topic,
            self.dlq,
            self.producer,
            handlers,
            session_timeout_ms=self.infra.session_timeout_ms,
            heartbeat_interval_ms=self.infra.heartbeat_interval_ms,
        )
        broker = KafkaBroker(self.infra.kafka_bootstrap)
        consumer.subscribe(broker)
        await broker.start()
        return consumer, broker


@pytest.fixture
async def rig(infra: Infra, created_topics: Topics, new_database: Any) -> AsyncIterator[Rig]:
    dsn = await new_database("inbox")
    await messaging.prepare(dsn)
    pool = await create_pool(dsn)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    yield Rig(
        infra,
        created_topics,
        pool,
        producer,
        created_topics.pairing,
        created_topics.dead_letter("counter"),
        f"counter-{uuid.uuid4().hex[:8]}",
    )
    await producer.stop()
    await pool.close()


async def test_the_same_event_delivered_twice_changes_the_projection_once(rig: Rig) -> None:
    env = messaging.pair_created()
    other = messaging.pair_created()
    await produce(rig.infra.kafka_bootstrap, rig.topic, [messaging.as_message(e) for e in (env, env, other, env)])
    consumer, broker = await rig.run(messaging.counting_handlers())
    try:
        await eventually(lambda: _applied(rig.pool, 2))
        await eventually(lambda: _fetch(lambda: consumer.stats.duplicates == 2))
        assert await messaging.counter(rig.pool, env.data.pair_id) == 1
        assert await messaging.counter(rig.pool, other.data.pair_id) == 1
        rows = await rig.pool.fetch("SELECT event_id, outcome FROM inbox WHERE consumer = $1", rig.group)
        assert sorted(r["event_id"] for r in rows) == sorted([env.id, other.id])
    finally:
        await broker.stop()


async def test_malformed_and_invalid_messages_go_to_the_dead_letter_topic_and_the_partition_flows(rig: Rig) -> None:
    key = b"pair-same-partition"
    good1 = messaging.pair_created("pair-same-partition")
    good2 = messaging.pair_created("pair-same-partition")
    _, value, headers = messaging.as_message(good1)
    invalid_value = json.dumps({**json.loads(value), "mentor_id": ""}).encode()  # fails validation
    not_json = b"{this is not json"
    not_cloudevent: list[tuple[str, bytes]] = [("content-type", b"application/json")]
    bad_header = [*headers_with_id(headers, str(uuid.uuid4())), ("x-binary", b"\xff\xfe")]
    messages: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = [
        messaging.as_message(good1),
        (key, not_json, headers_with_id(headers, str(uuid.uuid4()))),
        (key, invalid_value, headers_with_id(headers, str(uuid.uuid4()))),
        (key, value, not_cloudevent),
        (key, b"\x00\x01", bad_header),
        messaging.as_message(good2),
    ]
    await produce(rig.infra.kafka_bootstrap, rig.topic, messages)
    consumer, broker = await rig.run(messaging.counting_handlers())
    try:
        await eventually(lambda: _applied(rig.pool, 2))
        assert await messaging.counter(rig.pool, "pair-same-partition") == 2  # good1 and good2 both applied
        dead = await read_topic(rig.infra.kafka_bootstrap, rig.dlq, expect=4)
        assert len(dead) == 4
        errors = [dict(d.headers)["dlq_error"].decode() for d in dead]
        assert any("not valid JSON" in e for e in errors), errors
        assert any("failed validation" in e and "mentor_id" in e for e in errors), errors
        assert any("missing header(s) ce_id" in e for e in errors), errors
        assert all(dict(d.headers)["dlq_topic"].decode() == rig.topic for d in dead)
        assert {d.value for d in dead} >= {not_json, invalid_value, b"\x00\x01"}
        assert consumer.stats.dead_lettered == 4
    finally:
        await broker.stop()


async def test_an_event_the_handler_rejects_is_dead_lettered_and_changes_nothing(rig: Rig) -> None:
    poison = messaging.pair_created("poison")
    fine = messaging.pair_created("fine")
    handlers = Handlers()

    @handlers.on(PairCreated)
    async def picky(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute(
            "INSERT INTO counters (name, n) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET n = counters.n + 1",
            env.data.pair_id,
        )
        if env.data.pair_id == "poison":
            raise ValueError("pair poison belongs to an unknown programme")

    await produce(rig.infra.kafka_bootstrap, rig.topic, [messaging.as_message(e) for e in (poison, fine)])
    _consumer, broker = await rig.run(handlers)
    try:
        await eventually(lambda: _applied(rig.pool, 1))
        dead = await read_topic(rig.infra.kafka_bootstrap, rig.dlq, expect=1)
        assert [dict(d.headers)["dlq_kind"] for d in dead] == [b"rejected"]
        assert b"unknown programme" in dict(dead[0].headers)["dlq_error"]
        assert await messaging.counter(rig.pool, "poison") == 0  # the savepoint undid its write
        assert await messaging.counter(rig.pool, "fine") == 1
        outcome = await rig.pool.fetchval("SELECT outcome FROM inbox WHERE event_id = $1", poison.id)
        assert outcome == "dead_lettered"
    finally:
        await broker.stop()


async def test_a_lost_database_connection_is_retried_not_dead_lettered(rig: Rig) -> None:
    env = messaging.pair_created()
    attempts: list[str] = []
    handlers = Handlers()

    @handlers.on(PairCreated)
    async def flaky(conn: Conn, e: Envelope[Any]) -> None:
        attempts.append(e.id)
        if len(attempts) == 1:  # the server drops our connection mid-transaction: a real outage
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        await conn.execute("INSERT INTO counters (name, n) VALUES ($1, 1)", e.data.pair_id)

    await produce(rig.infra.kafka_bootstrap, rig.topic, [messaging.as_message(env)])
    consumer, broker = await rig.run(handlers)
    try:
        await eventually(lambda: _applied(rig.pool, 1))
        assert len(attempts) == 2
        assert consumer.stats.retries == 1
        assert consumer.stats.dead_lettered == 0
        assert await messaging.counter(rig.pool, env.data.pair_id) == 1
    finally:
        await broker.stop()


def headers_with_id(headers: list[tuple[str, bytes]], event_id: str) -> list[tuple[str, bytes]]:
    return [(k, event_id.encode() if k == "ce_id" else v) for k, v in headers]


async def _applied(pool: asyncpg.Pool, n: int) -> bool:
    total = await pool.fetchval("SELECT coalesce(sum(n), 0) FROM counters")
    return int(total) >= n


async def _fetch(check: Any) -> bool:
    return bool(check())
