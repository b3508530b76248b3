"""Outbox relay throughput against a bare aiokafka producer sending the same messages in the same run.

python -m bench.relay [--quick]
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.common import command_line, namespace, programme_events
from shared import outbox
from shared.config import ServiceSettings
from shared.db import create_pool, ensure_database, migrate
from shared.events import encode
from shared.infra import provide
from shared.outbox import OutboxRelay
from shared.topics import ensure_topics

EMPTY = __import__("pathlib").Path(__file__).parent / "no_migrations"


async def case(n: int) -> dict[str, Any]:
    with provide() as infra:
        topics = namespace("relay")
        await ensure_topics(infra.kafka_bootstrap, topics)
        dsn = await ensure_database(infra.postgres_dsn, f"bench_relay_{topics.namespace[-8:]}")
        EMPTY.mkdir(exist_ok=True)
        await migrate(dsn, EMPTY, service="bench")
        pool = await create_pool(dsn)
        envs = list(programme_events(n))
        async with pool.acquire() as conn, conn.transaction():
            for i in range(0, len(envs), 2000):
                await outbox.append(conn, topics, envs[i : i + 2000])
        producer = AIOKafkaProducer(  # configured as the services' producer
            bootstrap_servers=infra.kafka_bootstrap,
            acks="all",
            linger_ms=ServiceSettings.model_fields["kafka_linger_ms"].default,
        )
        await producer.start()
        try:
            relay = OutboxRelay(pool, producer, dsn=dsn, name="bench", batch_size=1000)
            t0 = time.perf_counter()
            published = await relay.drain()
            relay_s = time.perf_counter() - t0

            records = [(topics.for_source(e.source), encode(e)) for e in envs]
            t1 = time.perf_counter()
            futures = []
            for topic, rec in records:
                futures.append(await producer.send(topic, rec.value, key=rec.key, headers=rec.headers))
            await asyncio.gather(*futures)
            bare_s = time.perf_counter() - t1
        finally:
            await producer.stop()
            await pool.close()
        return {
            "benchmark": "outbox relay",
            "case": f"{published:,} outbox rows -> Kafka",
            "infra": infra.source,
            "relay_events_per_s": round(published / relay_s),
            "bare_producer_events_per_s": round(n / bare_s),
            "ratio_relay_over_bare": round((published / relay_s) / (n / bare_s), 3),
        }


def run(quick: bool = False) -> list[dict[str, Any]]:
    return [asyncio.run(case(3_000 if quick else 50_000))]


def main() -> None:
    command_line(__doc__, run)


if __name__ == "__main__":
    main()
