"""Live consumer throughput (events applied with the idempotency record, the sessions projection's real
handlers) against a bare aiokafka consumer reading the same topic in the same run.

    python -m bench.consumer [--quick]
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker

from bench.common import command_line, namespace, produce_events, programme_events
from services.sessions.app import SPEC as SESSIONS
from services.sessions.handler_table import build_handlers
from shared.consumer import InboxConsumer
from shared.db import create_pool, ensure_database, migrate
from shared.infra import provide
from shared.topics import ensure_topics


async def case(n: int) -> dict[str, Any]:
    with provide() as infra:
        topics = namespace("consumer")
        await ensure_topics(infra.kafka_bootstrap, topics)
        dsn = await ensure_database(infra.postgres_dsn, f"bench_consumer_{topics.namespace[-8:]}")
        await migrate(dsn, SESSIONS.migrations, service="sessions")
        produced = await produce_events(infra.kafka_bootstrap, topics, programme_events(n))
        consumed = [topics.pairing, topics.sessions]

        bare = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False, max_poll_records=500)
        await bare.start()
        tps = [TopicPartition(t, p) for t in consumed for p in sorted(bare.partitions_for_topic(t) or [])]
        bare.assign(tps)
        await bare.seek_to_beginning(*tps)
        t0, seen = time.perf_counter(), 0
        while seen < produced:
            batch = await bare.getmany(timeout_ms=500, max_records=500)
            seen += sum(len(v) for v in batch.values())
        bare_s = time.perf_counter() - t0
        await bare.stop()

        pool = await create_pool(dsn)
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        consumer = InboxConsumer(
            "sessions",
            pool=pool,
            topics=consumed,
            handlers=build_handlers(),
            dead_letter_topic=topics.dead_letter("sessions"),
            producer=producer,
            group_id=f"{topics.namespace}.sessions",
            session_timeout_ms=infra.session_timeout_ms,
            heartbeat_interval_ms=infra.heartbeat_interval_ms,
            fetch_max_wait_ms=infra.fetch_max_wait_ms,
        )
        broker = KafkaBroker(infra.kafka_bootstrap, log_level=logging.DEBUG)
        consumer.subscribe(broker)
        await broker.start()
        first = time.perf_counter()
        while consumer.stats.batches == 0:  # measured from the first batch: group join is not throughput
            await asyncio.sleep(0.01)
            first = time.perf_counter()
        done = consumer.stats.applied + consumer.stats.ignored
        t1, start_done = first, done
        while consumer.stats.applied + consumer.stats.ignored + consumer.stats.dead_lettered < produced:
            await asyncio.sleep(0.01)
        live_s = time.perf_counter() - t1
        live_n = produced - start_done
        await broker.stop()
        await producer.stop()
        await pool.close()
        live_rate, bare_rate = live_n / live_s, produced / bare_s
        return {
            "benchmark": "live consumer",
            "case": f"{produced:,} events, inbox + sessions projection",
            "infra": infra.source,
            "live_events_per_s": round(live_rate),
            "bare_consumer_events_per_s": round(bare_rate),
            "ratio_live_over_bare": round(live_rate / bare_rate, 3),
        }


def run(quick: bool = False) -> list[dict[str, Any]]:
    return [asyncio.run(case(3_000 if quick else 50_000))]


def main() -> None:
    command_line(__doc__, run)


if __name__ == "__main__":
    main()
