"""The inbox subscriber polls without FastStream's idle sleep (which added up to batch_timeout_ms of
latency after every quiet moment). Pure logic: a stand-in consumer, no broker."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faststream.kafka import KafkaBroker

from shared.consumer import IDLE_POLL_MS, Handlers, InboxConsumer, get_batch_without_idle_sleep


class _Consumer:
    def __init__(self, batches: list[dict[str, list[int]]]) -> None:
        self.batches = batches
        self.calls: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[int]]:
        self.calls.append((timeout_ms, max_records))
        return self.batches.pop(0)


async def test_the_poll_flattens_partitions_and_returns_empty_at_once() -> None:
    subscriber = SimpleNamespace(batch_timeout_ms=IDLE_POLL_MS, max_records=500)
    consumer = _Consumer([{"t-0": [1, 2], "t-1": [3]}, {}])
    assert await get_batch_without_idle_sleep(subscriber, consumer) == (1, 2, 3)
    assert await get_batch_without_idle_sleep(subscriber, consumer) == ()
    assert consumer.calls == [(IDLE_POLL_MS, 500), (IDLE_POLL_MS, 500)]


def test_the_inbox_subscriber_uses_it_in_place_of_faststreams_own() -> None:
    broker = KafkaBroker("127.0.0.1:9")
    inbox = InboxConsumer(
        "t",
        pool=None,
        topics=["a"],
        handlers=Handlers(),
        dead_letter_topic="dlt",  # type: ignore[arg-type]
        producer=None,
        max_records=321,
    )  # type: ignore[arg-type]
    inbox.subscribe(broker)
    [subscriber] = broker.subscribers
    # FastStream still has the hook we replace, and the instance now polls through ours
    assert callable(getattr(type(subscriber), "get_msg", None))
    poll: Any = subscriber.get_msg  # type: ignore[attr-defined]
    assert poll.func is get_batch_without_idle_sleep
    assert subscriber.max_records == 321  # type: ignore[attr-defined]
