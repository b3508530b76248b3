"""Replay: the rebuilt projection equals the live one, as of a time too, and a swap loses nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from shared.consumer import Handlers, InboxConsumer
from shared.db import Conn, connect, create_pool, migrate, service_migrations
from shared.events import Envelope
from shared.events.pairing import PairCreated, PairEnded, PairPaused, ParticipantEnrolled
from shared.infra import Infra
from shared.replay import Rebuild, diff
from shared.topics import Topics
from tests.integration import messaging
from tests.kafka_helpers import eventually, produce

MIGRATIONS = Path(__file__).parent / "replay_migrations"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "participant_enrolled.v1.json"
SERVICE = "replaytest"


def projection() -> Handlers:
    h = Handlers()

    @h.on(PairCreated)
    async def created(conn: Conn, env: Envelope[Any]) -> None:
        await conn.execute(
            "INSERT INTO pairs VALUES ($1, $2, 'active', 1, $3)", env.data.pair_id, env.data.programme_id, env.time
        )

    @h.on(PairPaused, PairEnded)
    async def changed(conn: Conn, env: Envelope[Any]) -> None:
        state = "paused" if env.type == PairPaused.TYPE else "ended"
        done = await conn.execute(
            "UPDATE pairs SET state = $2, events = events + 1, updated_at = $3 WHERE pair_id = $1",
            env.data.pair_id,
            state,
            env.time,
        )
        if done == "UPDATE 0":
            raise LookupError(f"unknown pair {env.data.pair_id}")  # dead-lettered live, skipped in replay

    @h.on(ParticipantEnrolled)
    async def enrolled(conn: Conn, env: Envelope[Any]) -> None:
        d = env.data
        await conn.execute(
            "INSERT INTO participants VALUES ($1, $2, $3)", d.participant_id, d.display_name, d.languages
        )

    @h.on(PairEnded, side_effects=True)
    async def notify(conn: Conn, env: Envelope[Any]) -> None:  # e.g. plans a survey: never run by replay
        await conn.execute("CREATE TEMP TABLE IF NOT EXISTS side_effects (id text)")
        await conn.execute("INSERT INTO side_effects VALUES ($1)", env.id)

    return h


def msg(payload: Any, **kw: Any) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    from shared.events import encode

    rec = encode(Envelope.new(payload, **kw))
    return rec.key, rec.value, rec.headers


def pair(pid: str) -> PairCreated:
    return PairCreated(pair_id=pid, programme_id="prog", mentor_id=f"m-{pid}", mentee_id=f"e-{pid}")


async def _live(infra: Infra, topics: Topics, dsn: str) -> tuple[InboxConsumer, KafkaBroker, AIOKafkaProducer]:
    pool = await create_pool(dsn)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    consumer = InboxConsumer(
        SERVICE,
        pool=pool,
        topics=[topics.pairing],
        handlers=projection(),
        dead_letter_topic=topics.dead_letter(SERVICE),
        producer=producer,
        group_id=f"{topics.namespace}.{SERVICE}",
        session_timeout_ms=infra.session_timeout_ms,
        heartbeat_interval_ms=infra.heartbeat_interval_ms,
        policy=messaging.FAST,
    )
    broker = KafkaBroker(infra.kafka_bootstrap)
    consumer.subscribe(broker)
    await broker.start()
    return consumer, broker, producer


def _processed(consumer: InboxConsumer, records: int) -> Callable[[], Awaitable[bool]]:
    """The live consumer has committed `records` records (each counted once, after its transaction).
    Counting records rather than comparing with the broker's end offsets: Tansu's can lag behind."""

    async def check() -> bool:
        s = consumer.stats
        return s.applied + s.ignored + s.duplicates + s.dead_lettered >= records

    return check


def _rebuild(infra: Infra, dsn: str, topics: Topics, **kw: Any) -> Rebuild:
    return Rebuild(
        SERVICE,
        dsn=dsn,
        bootstrap=infra.kafka_bootstrap,
        topics=[topics.pairing],
        handlers=projection(),
        migrations=service_migrations(SERVICE, MIGRATIONS),
        batch_size=50,
        **kw,
    )


async def test_replay_reproduces_the_live_projection_and_as_of_a_time(
    infra: Infra, created_topics: Topics, new_database: Any
) -> None:
    topics = created_topics
    dsn = await new_database("replay")
    await migrate(dsn, MIGRATIONS, service=SERVICE)
    first = [pair(f"p{i}") for i in range(40)]
    stored = json.loads(FIXTURE.read_text())  # a v1 ParticipantEnrolled, upcast on read
    messages = [msg(p) for p in first]
    messages.append(messages[3])  # a duplicate delivery
    messages.append(msg(PairPaused(pair_id="p1", programme_id="prog")))
    messages.append(msg(PairPaused(pair_id="ghost", programme_id="prog")))  # dead-lettered live
    messages.append((b"x", b"\xff not an event", [("content-type", b"application/json")]))  # undecodable
    messages.append(
        (
            stored["key"].encode(),
            json.dumps(stored["value"]).encode(),
            [(k, v.encode()) for k, v in stored["headers"].items()],
        )
    )
    await produce(infra.kafka_bootstrap, topics.pairing, messages)
    consumer, broker, producer = await _live(infra, topics, dsn)
    try:
        await eventually(_processed(consumer, len(messages)), timeout=30)
        assert consumer.stats.duplicates == 1
        assert consumer.stats.dead_lettered == 2

        # the projection as it stands at T, and T itself
        conn = await connect(dsn)
        await conn.execute("CREATE SCHEMA snapshot_t")
        for table in ("pairs", "participants"):
            await conn.execute(f"CREATE TABLE snapshot_t.{table} AS SELECT * FROM projection.{table}")
        await conn.close()
        t = datetime.now(UTC)
        await asyncio.sleep(0.05)
        later = [msg(PairEnded(pair_id=f"p{i}", programme_id="prog", reason="completed")) for i in range(5)]
        await produce(infra.kafka_bootstrap, topics.pairing, later)
        await eventually(_processed(consumer, len(messages) + len(later)), timeout=30)

        full = _rebuild(infra, dsn, topics, schema="rebuild_full")
        await full.prepare()
        await full.run_to_end()
        await full.close()
        assert await diff(dsn, "rebuild_full") == []
        assert full.stats.duplicates == 1
        assert full.stats.rejected == 1
        assert full.stats.undecodable == 1
        check = await connect(dsn)
        assert await check.fetchval("SELECT display_name FROM rebuild_full.participants") == "Dr. Ingrid Hoffmann"
        assert await check.fetchval("SELECT count(*) FROM rebuild_full.pairs WHERE state = 'ended'") == 5
        await check.close()

        as_of = _rebuild(infra, dsn, topics, schema="rebuild_t", until=t)
        await as_of.prepare()
        await as_of.run_to_end()
        await as_of.close()
        assert await diff(dsn, "rebuild_t", live_schema="snapshot_t") == []
        assert as_of.stats.after_until == 5
    finally:
        await broker.stop()
        await producer.stop()


async def test_a_replay_started_while_events_keep_arriving_swaps_in_with_none_lost(
    infra: Infra, created_topics: Topics, new_database: Any
) -> None:
    topics = created_topics
    dsn = await new_database("swap")
    await migrate(dsn, MIGRATIONS, service=SERVICE)
    await produce(infra.kafka_bootstrap, topics.pairing, [msg(pair(f"a{i}")) for i in range(300)])
    consumer, broker, producer = await _live(infra, topics, dsn)
    try:
        await eventually(_processed(consumer, 300), timeout=30)

        async def keep_writing() -> None:
            for k in range(20):
                await produce(infra.kafka_bootstrap, topics.pairing, [msg(pair(f"b{k}-{i}")) for i in range(10)])
                await asyncio.sleep(0.02)

        writer = asyncio.create_task(keep_writing())
        rebuild = _rebuild(infra, dsn, topics, schema=f"rebuild_{uuid.uuid4().hex[:6]}")
        await rebuild.prepare()
        old = await rebuild.rebuild_and_swap()
        await rebuild.close()
        await writer
        await eventually(_processed(consumer, 500), timeout=30)

        conn = await connect(dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM projection.pairs") == 500  # none lost, none twice
            assert await conn.fetchval("SELECT generation FROM projection_state") == 1
            assert await conn.fetchval(f'SELECT count(*) FROM "{old}".pairs') >= 300  # the old one is kept
        finally:
            await conn.close()
        again = _rebuild(infra, dsn, topics, schema="rebuild_check")
        await again.prepare()
        await again.run_to_end()
        await again.close()
        assert await diff(dsn, "rebuild_check") == []  # the swapped-in projection = f(log)
        assert consumer.generation == 1  # the live consumer saw the swap and went on with fresh connections
    finally:
        await broker.stop()
        await producer.stop()


async def test_an_audit_that_fails_half_way_leaves_no_rebuild_behind(
    infra: Infra, created_topics: Topics, new_database: Any, monkeypatch: Any
) -> None:
    """`tandem projection verify` dies after holding the live consumer (here: its comparison fails, as when the
    database goes away): the live consumer is let go and the rebuilt schema is dropped all the same."""
    topics = created_topics
    dsn = await new_database("verify")
    await migrate(dsn, MIGRATIONS, service=SERVICE)
    await produce(infra.kafka_bootstrap, topics.pairing, [msg(pair(f"v{i}")) for i in range(20)])
    consumer, broker, producer = await _live(infra, topics, dsn)
    try:
        await eventually(_processed(consumer, 20), timeout=30)
        rebuild = _rebuild(infra, dsn, topics, schema=f"rebuild_{uuid.uuid4().hex[:6]}")
        await rebuild.prepare()
        await rebuild.run_to_end()

        async def compare_fails(*_: Any, **__: Any) -> Any:
            raise ConnectionResetError("the database went away")

        monkeypatch.setattr("shared.replay.diff", compare_fails)
        try:
            with pytest.raises(ConnectionResetError):
                await rebuild.rebuild_and_verify()
        finally:
            await rebuild.close()
        conn = await connect(dsn)
        try:
            left = await conn.fetchval(
                "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", rebuild.schema
            )
            assert left == 0, "the audit left its rebuild behind"
        finally:
            await conn.close()
        await produce(infra.kafka_bootstrap, topics.pairing, [msg(pair("after"))])
        await eventually(_processed(consumer, 21), timeout=30)  # the live consumer was let go
    finally:
        await broker.stop()
        await producer.stop()
