"""Reading topics back in tests, with a plain aiokafka consumer (no group, from the beginning)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 20.0
) -> list[ConsumerRecord[Any, Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        deadline = time.monotonic() + timeout
        while not partitions:
            await consumer._client.force_metadata_update()  # a new topic's metadata may lag
            partitions = consumer.partitions_for_topic(topic)
            if time.monotonic() > deadline:
                raise TimeoutError(f"topic {topic} not found")
            await asyncio.sleep(0.1)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord[Any, Any]] = []
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
        # a little longer, to catch records beyond what was expected
        extra = await consumer.getmany(timeout_ms=300)
        for recs in extra.values():
            records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def produce(
    bootstrap: str,
    topic: str,
    messages: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]],
    *,
    max_request_size: int = 1048576,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=max_request_size)
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(topic, key=key, value=value, headers=headers)
    finally:
        await producer.stop()


async def eventually(check: Any, *, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Await `check()` until it returns a truthy value; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


async def topic_keys(bootstrap: str, topic: str) -> Any:
    """The data keys on the key topic (shared.personal), to decode records whose personal fields are encrypted."""
    from shared.replay import read_keys

    return await read_keys(bootstrap, topic)
