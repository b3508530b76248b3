"""Replay benchmark: rebuild the sessions projection from a programme's log, against the raw rates of
reading the same topics with a bare consumer and of COPYing the same number of rows into Postgres.

    python -m bench.replay [--quick] [--events N]
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import command_line, namespace, produce_events, programme_events, sealer
from services.sessions.app import SPEC as SESSIONS
from services.sessions.bulk import COLUMNS
from services.sessions.handler_table import build_handlers
from shared import personal
from shared.db import connect, ensure_database, migrate, service_migrations
from shared.infra import provide
from shared.replay import Rebuild
from shared.topics import ensure_topics


async def bare_consumer_rate(bootstrap: str, topics: list[str], expect: int) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=5000,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or [])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        started, n = time.perf_counter(), 0
        while n < expect:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            n += sum(len(v) for v in batch.values())
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def raw_copy_rate(dsn: str, rows: int) -> float:
    conn = await connect(dsn)
    try:
        await conn.execute("CREATE TEMP TABLE copy_probe (LIKE projection.sessions INCLUDING DEFAULTS)")
        now = datetime.now(UTC)
        records = [
            (
                "default",
                f"s{i}",
                f"p{i % 997}",
                "prog",
                now,
                45,
                "",
                0,
                "held",
                "",
                now,
                45,
                ["ai-agents"],
                ["x"],
                [],
                now,
            )
            for i in range(rows)
        ]
        started = time.perf_counter()
        await conn.copy_records_to_table("copy_probe", records=records, columns=list(COLUMNS["sessions"]))
        return rows / (time.perf_counter() - started)
    finally:
        await conn.close()


async def case(n_events: int) -> dict[str, Any]:
    with provide() as infra:
        topics = namespace("replay")
        await ensure_topics(infra.kafka_bootstrap, topics)
        dsn = await ensure_database(infra.postgres_dsn, f"bench_replay_{topics.namespace[-8:]}")
        await migrate(dsn, SESSIONS.migrations, service="sessions")
        t0 = time.perf_counter()
        produced = await produce_events(infra.kafka_bootstrap, topics, programme_events(n_events))
        produce_s = time.perf_counter() - t0
        consumed = [topics.pairing, topics.sessions]
        consumer_rate = await bare_consumer_rate(infra.kafka_bootstrap, consumed, produced)
        rebuild = Rebuild(
            "sessions",
            dsn=dsn,
            bootstrap=infra.kafka_bootstrap,
            topics=consumed,
            handlers=build_handlers(),
            migrations=service_migrations("sessions", SESSIONS.migrations),
            schema="projection_bench",
        )
        await rebuild.prepare()
        t1 = time.perf_counter()
        await rebuild.run_to_end()
        replay_s = time.perf_counter() - t1
        await rebuild.close()
        copy_rate = await raw_copy_rate(dsn, min(produced, 200_000))
        replay_rate = rebuild.stats.read / replay_s
        return {
            "benchmark": "replay",
            "case": f"{produced:,} events -> sessions projection",
            "infra": infra.source,
            "produce_s": round(produce_s, 1),
            "replay_s": round(replay_s, 2),
            "replay_events_per_s": round(replay_rate),
            "bare_consumer_events_per_s": round(consumer_rate),
            "raw_copy_rows_per_s": round(copy_rate),
            "ratio_replay_over_min_raw": round(replay_rate / min(consumer_rate, copy_rate), 3),
            "applied": rebuild.stats.applied,
        }


async def replay_rate(infra: Any, n_events: int, *, sealed: bool) -> float:
    """Events per second of a sessions rebuild from a programme's log with people's text in it, written as the
    outbox writes it: encrypted (sealed) or in the clear."""
    topics = namespace("crypt")
    await ensure_topics(infra.kafka_bootstrap, topics)
    dsn = await ensure_database(infra.postgres_dsn, f"bench_crypt_{topics.namespace[-8:]}")
    await migrate(dsn, SESSIONS.migrations, service="sessions")
    keys: dict[str, bytes] = {}
    events = programme_events(n_events, texts=True)
    await produce_events(infra.kafka_bootstrap, topics, events, sealer(keys) if sealed else None)
    if keys:  # the service's own table, as its mirror of the key topic would hold them
        box = personal.kms()
        conn = await connect(dsn)
        try:
            await conn.executemany(
                "INSERT INTO data_keys (key_id, tenant, owner, kind, scope_id, kek_id, wrapped) "
                "VALUES ($1, 'default', $2, $3, $4, $5, $6)",
                [
                    (k, k.split("/")[0], k.split("/")[2], k.split("/")[3], box.key_id, box.wrap(v))
                    for k, v in keys.items()
                ],
            )
        finally:
            await conn.close()
    rebuild = Rebuild(
        "sessions",
        dsn=dsn,
        bootstrap=infra.kafka_bootstrap,
        topics=[topics.pairing, topics.sessions],
        handlers=build_handlers(),
        migrations=service_migrations("sessions", SESSIONS.migrations),
        schema="projection_bench",
    )
    await rebuild.prepare()
    started = time.perf_counter()
    await rebuild.run_to_end()
    elapsed = time.perf_counter() - started
    await rebuild.close()
    assert rebuild.stats.undecodable == 0, "the bench's sealed events did not decode"
    return rebuild.stats.read / elapsed


async def decryption_case(n_events: int, rounds: int) -> dict[str, Any]:
    """Replay with decryption against without, the same log in the same run: alternating, best of `rounds` each."""
    with provide() as infra:
        plain: list[float] = []
        sealed: list[float] = []
        for _ in range(rounds):
            plain.append(await replay_rate(infra, n_events, sealed=False))
            sealed.append(await replay_rate(infra, n_events, sealed=True))
        ratio = max(sealed) / max(plain)
        return {
            "benchmark": "replay",
            "case": f"{n_events:,} events with people's text -> sessions projection, decrypting vs in the clear",
            "infra": infra.source,
            "replay_plain_events_per_s": round(max(plain)),
            "replay_decrypting_events_per_s": round(max(sealed)),
            "ratio_decrypting_over_plain": round(ratio, 3),
            "goal_at_least_0_8": ratio >= 0.8,
        }


def run(quick: bool = False, events: int | None = None) -> list[dict[str, Any]]:
    n = events or (20_000 if quick else 1_000_000)
    return [
        asyncio.run(case(n)),
        asyncio.run(decryption_case(min(n, 10_000 if quick else 200_000), 1 if quick else 2)),
    ]


def main() -> None:
    command_line(__doc__, run, events=True)


if __name__ == "__main__":
    main()
