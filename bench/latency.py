"""End-to-end latency at a steady offered load: an HTTP command accepted by pairing -> its event through
the outbox and Kafka -> visible in the sessions projection. Beside it, the same percentiles of a bare
produce -> consume round trip on the same broker at the same rate, measured in the same run.

The services run as their own processes (`python -m services.pairing`, `... sessions`), as in production.
The load is open-loop (commands are sent on a fixed schedule, whatever the answers), pausing and resuming
a set of pairs in turn, each pair once a second, from a lean keep-alive HTTP client (`bench.http`). The
moment an event becomes visible is taken from a NOTIFY that a row trigger, added to the sessions
projection for the benchmark only, sends on commit: exact, and no polling to compete for the CPU.
Beside the end-to-end figures: the HTTP answer time, and the outbox -> Kafka and Kafka -> inbox stages
from the timestamps the two databases record.

    python -m bench.latency [--quick]
"""

from __future__ import annotations

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

from bench.common import command_line, namespace, summary_ms, wait_ready
from bench.http import Client, HttpError
from shared.db import ensure_database
from shared.identity_provider import LocalIdentityProvider
from shared.infra import Infra, provide
from shared.localstack import free_port
from shared.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[1]
PAIRS = 60


async def start_services(infra: Infra, ns: str, issuer: str) -> tuple[list[subprocess.Popen[bytes]], str, str]:
    procs, urls = [], {}
    for service in ("pairing", "sessions"):
        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "DATABASE_URL": infra.postgres_dsn,
            "TANDEM_OIDC_ISSUER": issuer,
            "TANDEM_TOPIC_NAMESPACE": ns,
            f"{service.upper()}_HTTP_PORT": str(port),
            f"{service.upper()}_DATABASE_URL": f"{infra.postgres_dsn.rsplit('/', 1)[0]}/{ns}_{service}",
            "KAFKA_SESSION_TIMEOUT_MS": str(infra.session_timeout_ms),
            "KAFKA_HEARTBEAT_INTERVAL_MS": str(infra.heartbeat_interval_ms),
            "KAFKA_FETCH_MAX_WAIT_MS": str(infra.fetch_max_wait_ms),
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
    await wait_ready(*urls.values())
    return procs, urls["pairing"], urls["sessions"]


async def setup_pairs(pairing: str, pairing_dsn: str, n: int, hr: dict[str, str]) -> tuple[str, list[str]]:
    from services.pairing.api.integration import issue_token
    from tests import builders
    from tests.directory import employee, enrolment

    conn = await asyncpg.connect(pairing_dsn)
    try:
        token = await issue_token(conn, "default", "bench")
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=pairing, timeout=60, headers=hr) as client:
        programme = (await client.post("/programmes", json=builders.programme())).json()["programme_id"]
        people = [builders.mentor() for _ in range(n)] + [builders.mentee() for _ in range(n)]
        (
            await client.post(
                "/directory/imports",
                json=[employee(p) for p in people],
                headers={"authorization": f"Bearer {token}"},
            )
        ).raise_for_status()
        enrolments = [enrolment(p) for p in people]
        (await client.post(f"/programmes/{programme}/participants/bulk", json=enrolments)).raise_for_status()
        pairs = []
        for m, e in zip(people[:n], people[n:], strict=True):
            r = await client.post(
                "/pairs",
                json={"programme_id": programme, "mentor_id": m["participant_id"], "mentee_id": e["participant_id"]},
            )
            pairs.append(r.raise_for_status().json()["pair_id"])
    return programme, pairs


async def _e2e(infra: Infra, rate: int, seconds: float) -> dict[str, Any]:
    topics = namespace("lat")
    await ensure_topics(infra.kafka_bootstrap, topics)
    idp = LocalIdentityProvider().start()  # the services verify real tokens, as in production
    hr = {"authorization": f"Bearer {idp.user_token('hr')}"}
    procs, pairing, _ = await start_services(infra, topics.namespace, idp.issuer)
    base = infra.postgres_dsn.rsplit("/", 1)[0]
    n_pairs = max(60, rate)  # each pair gets one command a second: its commands never overtake each other
    try:
        programme, pairs = await setup_pairs(pairing, f"{base}/{topics.namespace}_pairing", n_pairs, hr)
        watch = await asyncpg.connect(f"{base}/{topics.namespace}_sessions")
        query = "SELECT count(*) FROM projection.pairs WHERE programme_id = $1"
        while await watch.fetchval(query, programme) < n_pairs:
            await asyncio.sleep(0.05)
        # Every pairing event on a pair adds one row to pair_changes, so the k-th row of a pair belongs to
        # the k-th accepted command for it (one pair's events keep their order). A NOTIFY sent from a row
        # trigger is delivered when the consumer's transaction commits: when the row becomes visible.
        await watch.execute(_VISIBLE_TRIGGER)
        seen: dict[str, list[float]] = {p: [] for p in pairs}
        await watch.add_listener("bench_visible", lambda *a: seen[a[3].split(" ", 1)[0]].append(time.time()))
        commands: dict[str, list[tuple[float, float, int]]] = {p: [] for p in pairs}  # (sent, answered, status)
        client = Client(pairing, headers=hr)

        async def command(pair: str, path: str, sent: float) -> None:
            try:
                status, _ = await client.post(f"/pairs/{pair}/{path}", {} if path == "pause" else None)
            except (OSError, HttpError):
                status = 0
            commands[pair].append((sent, time.time(), status))

        tasks = []
        start = time.perf_counter()
        wall = time.time() - start  # latency counts from when a command was due, not from when it left
        total = int(rate * seconds)
        for i in range(total):
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            path = "pause" if (i // n_pairs) % 2 == 0 else "resume"
            tasks.append(asyncio.create_task(command(pairs[i % n_pairs], path, wall + due)))
        await asyncio.gather(*tasks)
        await client.close()
        accepted = {p: [(s, a) for s, a, status in commands[p] if status == 200] for p in pairs}
        expected = sum(map(len, accepted.values()))
        deadline = time.perf_counter() + 15
        while sum(map(len, seen.values())) < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        await watch.close()
        stages = await _stages(f"{base}/{topics.namespace}_pairing", f"{base}/{topics.namespace}_sessions")
        latencies = [v - s for p in pairs for (s, _), v in zip(accepted[p], seen[p], strict=False)]
        return {
            "offered_per_s": rate,
            "commands": total,
            "observed": len(latencies),
            "failed": total - expected,
            **summary_ms(latencies),
            "http": summary_ms([a - s for p in pairs for s, a in accepted[p]]),
            **stages,
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(15)
        idp.stop()


_VISIBLE_TRIGGER = """
CREATE FUNCTION public.bench_visible() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('bench_visible', NEW.pair_id || ' ' || NEW.event_id); RETURN NULL; END $$;
CREATE TRIGGER bench_visible AFTER INSERT ON projection.pair_changes
    FOR EACH ROW EXECUTE FUNCTION public.bench_visible();
"""


async def _stages(pairing_dsn: str, sessions_dsn: str) -> dict[str, Any]:
    """Where the time went, from the timestamps both databases recorded (one Postgres server, one clock):
    the pairing transaction's outbox insert -> the relay's publish -> the sessions inbox insert."""
    p, s = await asyncpg.connect(pairing_dsn), await asyncpg.connect(sessions_dsn)
    try:
        out = await p.fetch(
            "SELECT event_id, created_at, published_at FROM outbox WHERE event_type = ANY($1::text[])",
            ["tandem.pairing.PairPaused", "tandem.pairing.PairResumed"],
        )
        inbox = {r["event_id"]: r["processed_at"] for r in await s.fetch("SELECT event_id, processed_at FROM inbox")}
    finally:
        await p.close()
        await s.close()
    relay = [(r["published_at"] - r["created_at"]).total_seconds() for r in out if r["published_at"]]
    consume = [(inbox[r["event_id"]] - r["published_at"]).total_seconds() for r in out if r["event_id"] in inbox]
    return {"outbox_to_kafka": summary_ms(relay), "kafka_to_inbox": summary_ms(consume)}


async def _bare(infra: Infra, rate: int, seconds: float) -> dict[str, Any]:
    topics = namespace("bare")
    await ensure_topics(infra.kafka_bootstrap, topics)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False, fetch_max_wait_ms=infra.fetch_max_wait_ms
    )
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
        sent[i] = start + i / rate  # when it was due, as in the end-to-end case
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
                    "http_p50_ms": e2e["http"]["p50_ms"],
                    "http_p99_ms": e2e["http"]["p99_ms"],
                    "outbox_to_kafka_p99_ms": e2e["outbox_to_kafka"]["p99_ms"],
                    "kafka_to_inbox_p99_ms": e2e["kafka_to_inbox"]["p99_ms"],
                    "observed": f"{e2e['observed']}/{e2e['commands']}",
                    "http_errors": e2e["failed"],
                    "ratio_p99_e2e_over_bare": round(e2e["p99_ms"] / bare["p99_ms"], 2) if bare["p99_ms"] else None,
                }
            )
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(case([50], 2.0) if quick else case([100, 200, 500], 30.0))


def main() -> None:
    command_line(__doc__, run)


if __name__ == "__main__":
    main()
