"""Run a counting consumer that dies (os._exit) right after its database commit, before the offset
commit: the worst moment for an event consumer. Used by test_crash.py as a separate process."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from shared.db import create_pool
from tests.integration import messaging


async def main(bootstrap: str, dsn: str, topic: str, dlq: str, group: str, session: str, heartbeat: str) -> None:
    pool = await create_pool(dsn)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()

    async def crash(records: Sequence[Any]) -> None:
        print(f"committed {len(records)} record(s) to Postgres; crashing before the offset commit", flush=True)
        os._exit(17)

    consumer = messaging.make_consumer(
        group,
        pool,
        topic,
        dlq,
        producer,
        messaging.counting_handlers(),
        after_commit=crash,
        session_timeout_ms=int(session),
        heartbeat_interval_ms=int(heartbeat),
    )
    broker = KafkaBroker(bootstrap)
    consumer.subscribe(broker)
    await broker.start()
    await asyncio.sleep(120)
    os._exit(3)  # should never get here


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:8]))
