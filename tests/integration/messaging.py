"""A tiny projection for testing the messaging core: it counts PairCreated events per pair."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.consumer import ConsumerPolicy, Handlers, InboxConsumer
from shared.db import Conn, migrate
from shared.events import Envelope, encode
from shared.events.pairing import PairCreated
from shared.retry import Backoff, RetryPolicy

MIGRATIONS = Path(__file__).parent / "counter_migrations"
#: Retries that suit tests: quick back-off, few attempts, short parking.
FAST = ConsumerPolicy(RetryPolicy(Backoff(0.05, 0.5), max_attempts=3, max_seconds=10), park_timeout=30,
                      park_sweep_interval=0.5)  # fmt: skip


async def prepare(dsn: str) -> None:
    await migrate(dsn, MIGRATIONS, service="counter")


def counting_handlers(calls: list[str] | None = None) -> Handlers:
    handlers = Handlers()

    @handlers.on(PairCreated)
    async def count(conn: Conn, env: Envelope[Any]) -> None:
        if calls is not None:
            calls.append(env.id)
        await conn.execute(
            "INSERT INTO counters (name, n) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET n = counters.n + 1",
            env.data.pair_id,
        )

    return handlers


def pair_created(pair_id: str | None = None) -> Envelope[PairCreated]:
    return Envelope.new(
        PairCreated(pair_id=pair_id or str(uuid.uuid4()), programme_id="prog-1", mentor_id="m-1", mentee_id="e-1")
    )


def as_message(env: Envelope[Any]) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    rec = encode(env)
    return rec.key, rec.value, rec.headers


async def counter(pool_or_conn: asyncpg.Pool | Conn, name: str) -> int:
    value = await pool_or_conn.fetchval("SELECT n FROM counters WHERE name = $1", name)
    return int(value or 0)


def make_consumer(
    name: str, pool: asyncpg.Pool, topic: str, dlq: str, producer: AIOKafkaProducer, handlers: Handlers, **kw: Any
) -> InboxConsumer:
    """A counting consumer; pass the group timings of the test infrastructure (Infra.session_timeout_ms)."""
    return InboxConsumer(
        name,
        pool=pool,
        topics=[topic],
        handlers=handlers,
        dead_letter_topic=dlq,
        producer=producer,
        **{"policy": FAST, **kw},
    )
