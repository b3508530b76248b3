"""End-to-end latency at a steady offered load: an HTTP command accepted by pairing -> its event through
the outbox and Kafka -> visible in the sessions projection. Beside it, the same percentiles of a bare
produce -> consume round trip on the same broker at the same rate, measured in the same run.

The services run as their own processes (`python -m services.pairing`, `... sessions`), as in production.
The load is open-loop (commands are sent on a fixed schedule, whatever the answers), pausing and resuming
a set of pairs in turn; a watcher polls the sessions projection every 5 ms and notes when each
pair's new state appears.

    python -m bench.latency [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.common import namespace, summary_ms
from shared.db import ensure_database
from shared.infra import Infra, provide
from shared.localstack import free_port
from shared.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[1]
PAIRS = 60


async def _start_services(infra: Infra, ns: str) -> tuple[list[subprocess.Popen[bytes]], str, str]:
    procs, urls = [], {}
    for service in ("pairing", "sessions"):
        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "DATABASE_URL": infra.postgres_dsn,
            "TANDEM_TOPIC_NAMESPACE": ns,
            f"{service.upper()}_HTTP_PORT": str(port),
            f"{service.upper()}_DATABASE_URL": f"{infra.postgres_dsn.rsplit('/', 1)[0]}/{ns}_{service}",
            "KAFKA_SESSION_TIMEOUT_MS": str(infra.session_timeout_ms),
            "KAFKA_HEARTBEAT_INTERVAL_MS": str(infra.heartbeat_interval_ms),
        }
        await ensure_database(infra.postgres_dsn, f"{ns}_{service}")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", f"services.{service}"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        urls[service] = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for url in urls.values():
            for _ in range(600):
                try:
                    if (await client.get(f"{url}/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
    return procs, urls["pairing"], urls["sessions"]


async def _setup_pairs(pairing: str) -> tuple[str, list[str]]:
    from tests import builders

    async with httpx.AsyncClient(base_url=pairing, timeout=60) as client:
        programme = (await client.post("/programmes", json=builders.programme())).json()["programme_id"]
        people = [builders.mentor() for _ in range(PAIRS)] + [builders.mentee() for _ in range(PAIRS)]
        await client.post(f"/programmes/{programme}/participants/bulk", json=people)
        pairs = []
        for m, e in zip(people[:PAIRS], people[PAIRS:], strict=True):
            r = await client.post(
                "/pairs",
                json={"programme_id": programme, "mentor_id": m["participant_id"], "mentee_id": e["participant_id"]},
            )
            pairs.append(r.json()["pair_id"])
    return programme, pairs


async def _e2e(infra: Infra, rate: int, seconds: float) -> dict[str, Any]:
    topics = namespace("lat")
    await ensure_topics(infra.kafka_bootstrap, topics)
    procs, pairing, _ = await _start_services(infra, topics.namespace)
    try:
        programme, pairs = await _setup_pairs(pairing)
        watch = await asyncpg.connect(f"{infra.postgres_dsn.rsplit('/', 1)[0]}/{topics.namespace}_sessions")
        query = "SELECT pair_id, state FROM projection.pairs WHERE programme_id = $1"
        while len(await watch.fetch(query, programme)) < PAIRS:
            await asyncio.sleep(0.05)
        state = {p: "active" for p in pairs}
        sent: dict[str, list[float]] = {p: [] for p in pairs}
        seen: dict[str, list[float]] = {p: [] for p in pairs}
        stop = asyncio.Event()

        async def watcher() -> None:
            # every pairing event on a pair adds one row to pair_changes: the k-th row of a pair is the
            # k-th command sent for it (one pair's events keep their order)
            cursor = await watch.fetchval(
                "SELECT coalesce(max(at), '1970-01-01T00:00:00Z'::timestamptz) FROM projection.pair_changes"
            )
            while not stop.is_set():
                rows = await watch.fetch(
                    "SELECT pair_id, at FROM projection.pair_changes WHERE at > $1 ORDER BY at, event_id", cursor
                )
                now = time.perf_counter()
                for r in rows:
                    if r["pair_id"] in seen:
                        seen[r["pair_id"]].append(now)
                    cursor = max(cursor, r["at"])
                await asyncio.sleep(0.005)  # 5 ms of resolution; polling faster takes the CPU it measures

        async with httpx.AsyncClient(base_url=pairing, timeout=30, limits=httpx.Limits(max_connections=200)) as client:
            watching = asyncio.create_task(watcher())
            tasks = []
            start = time.perf_counter()
            total = int(rate * seconds)
            for i in range(total):
                due = start + i / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                pair = pairs[i % PAIRS]
                target = "paused" if state[pair] == "active" else "active"
                state[pair] = target
                sent[pair].append(time.perf_counter())
                path = "pause" if target == "paused" else "resume"
                tasks.append(
                    asyncio.create_task(client.post(f"/pairs/{pair}/{path}", json={} if path == "pause" else None))
                )
            answers = await asyncio.gather(*tasks, return_exceptions=True)
            deadline = time.perf_counter() + 15
            while sum(map(len, seen.values())) < total and time.perf_counter() < deadline:
                await asyncio.sleep(0.01)
            stop.set()
            await watching
            await watch.close()
        failed = sum(1 for a in answers if isinstance(a, BaseException) or a.status_code != 200)
        latencies = [s - t for p in pairs for t, s in zip(sent[p], seen[p], strict=False)]
        return {
            "offered_per_s": rate,
            "commands": total,
            "observed": len(latencies),
            "failed": failed,
            **summary_ms(latencies),
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(15)


async def _bare(infra: Infra, rate: int, seconds: float) -> dict[str, Any]:
    topics = namespace("bare")
    await ensure_topics(infra.kafka_bootstrap, topics)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
    await producer.start()
    await consumer.start()
    tps = [TopicPartition(topics.pairing, p) for p in sorted(consumer.partitions_for_topic(topics.pairing) or [])]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    sent: dict[int, float] = {}
    got: dict[int, float] = {}
    total = int(rate * seconds)

    async def receive() -> None:
        while len(got) < total:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    got.setdefault(int(r.value), now)

    receiving = asyncio.create_task(receive())
    start = time.perf_counter()
    futures = []
    for i in range(total):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        sent[i] = time.perf_counter()
        futures.append(await producer.send(topics.pairing, str(i).encode(), key=f"k{i % PAIRS}".encode()))
    await asyncio.gather(*futures)
    try:
        await asyncio.wait_for(receiving, timeout=20)
    finally:
        await producer.stop()
        await consumer.stop()
    return {"offered_per_s": rate, "messages": total, **summary_ms([got[i] - sent[i] for i in got])}


async def case(rates: list[int], seconds: float) -> list[dict[str, Any]]:
    rows = []
    with provide() as infra:
        for rate in rates:
            e2e = await _e2e(infra, rate, seconds)
            bare = await _bare(infra, rate, seconds)
            rows.append(
                {
                    "benchmark": "end-to-end latency",
                    "case": f"{rate} commands/s for {seconds:g} s",
                    "infra": infra.source,
                    "e2e_p50_ms": e2e["p50_ms"],
                    "e2e_p99_ms": e2e["p99_ms"],
                    "e2e_p999_ms": e2e["p999_ms"],
                    "bare_p50_ms": bare["p50_ms"],
                    "bare_p99_ms": bare["p99_ms"],
                    "bare_p999_ms": bare["p999_ms"],
                    "observed": f"{e2e['observed']}/{e2e['commands']}",
                    "http_errors": e2e["failed"],
                    "ratio_p99_e2e_over_bare": round(e2e["p99_ms"] / bare["p99_ms"], 2) if bare["p99_ms"] else None,
                }
            )
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(case([50], 2.0) if quick else case([100, 150, 200, 500], 30.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    for row in run(parser.parse_args().quick):
        print(row)


if __name__ == "__main__":
    main()
