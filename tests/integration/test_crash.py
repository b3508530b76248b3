"""A consumer that crashes after its database commit but before its offset commit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from shared.db import create_pool
from shared.infra import Infra
from shared.topics import Topics
from tests.integration import messaging
from tests.kafka_helpers import eventually, produce

ROOT = Path(__file__).resolve().parents[2]


async def test_crash_between_database_commit_and_offset_commit_reprocesses_without_double_effect(
    infra: Infra, created_topics: Topics, new_database: Any
) -> None:
    dsn = await new_database("crash")
    await messaging.prepare(dsn)
    topic, dlq, group = created_topics.pairing, created_topics.dead_letter("counter"), f"crash-{uuid.uuid4().hex[:6]}"
    env = messaging.pair_created()
    await produce(infra.kafka_bootstrap, topic, [messaging.as_message(env)])

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.crashing_consumer",
        infra.kafka_bootstrap,
        dsn,
        topic,
        dlq,
        group,
        str(infra.session_timeout_ms),
        str(infra.heartbeat_interval_ms),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 17, out.decode()

    pool = await create_pool(dsn)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    calls: list[str] = []
    consumer = messaging.make_consumer(
        group,
        pool,
        topic,
        dlq,
        producer,
        messaging.counting_handlers(calls),
        session_timeout_ms=infra.session_timeout_ms,
        heartbeat_interval_ms=infra.heartbeat_interval_ms,
    )
    broker = KafkaBroker(infra.kafka_bootstrap)
    consumer.subscribe(broker)
    await broker.start()
    try:
        # The offset was never committed, so the restarted consumer receives the event again ...
        await eventually(lambda: _true(consumer.stats.duplicates == 1), timeout=30)
        # ... and the inbox turns it into a no-op: the effect happened exactly once.
        assert await messaging.counter(pool, env.data.pair_id) == 1
        assert calls == []
        inbox = await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", group)
        assert inbox == 1
    finally:
        await broker.stop()
        await producer.stop()
        await pool.close()


async def _true(value: bool) -> bool:
    return value
