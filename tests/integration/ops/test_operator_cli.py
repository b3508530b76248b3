"""The operator's commands as an operator runs them (`tandem ...` in a subprocess) against the real embedded
Postgres and broker: dead letters listed, shown and redriven after a fix (applied once, however often they are
redriven), the topic check, and the system's status with one service up and the others down."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from services.sessions.app import SPEC as SESSIONS
from shared.consumer import Handlers, InboxConsumer
from shared.db import Conn, create_pool
from shared.events import Envelope
from shared.events.pairing import PairCreated
from shared.infra import Infra
from shared.localstack import free_port
from shared.registry import CONSUMERS
from shared.topics import Topics, ensure_topics
from tests.cli import tandem
from tests.conftest import ServeFactory, unique
from tests.integration import messaging
from tests.kafka_helpers import eventually, produce


@dataclass
class Rig:
    """A real idempotent consumer whose handler refuses a pair it does not know (the cause an operator fixes
    by making it known), on its own database, which the CLI reads as the sessions service's."""

    infra: Infra
    topics: Topics
    dsn: str
    pool: asyncpg.Pool
    consumer: InboxConsumer

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.kafka_bootstrap,
            "TANDEM_TOPIC_NAMESPACE": self.topics.namespace,
            "SESSIONS_DATABASE_URL": self.dsn,
            **extra,
        }

    async def dead(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM dead_letters ORDER BY id")


def known_pairs_only() -> Handlers:
    handlers = Handlers()

    @handlers.on(PairCreated)
    async def count_known(conn: Conn, env: Envelope[Any]) -> None:
        pair = env.data.pair_id
        if not await conn.fetchval("SELECT 1 FROM known WHERE pair = $1", pair):
            raise LookupError(f"pair {pair} is unknown here")
        await conn.execute(
            "INSERT INTO counters (name, n) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET n = counters.n + 1", pair
        )

    return handlers


@pytest.fixture
async def rig(
    infra: Infra, created_topics: Topics, new_database: Callable[[str], Awaitable[str]]
) -> AsyncIterator[Rig]:
    dsn = await new_database("dlq_cli")
    await messaging.prepare(dsn)
    pool = await create_pool(dsn)
    await pool.execute("CREATE TABLE known (pair text PRIMARY KEY)")
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    consumer = InboxConsumer(
        f"dlq-cli-{uuid.uuid4().hex[:8]}",
        pool=pool,
        topics=[created_topics.pairing],
        handlers=known_pairs_only(),
        dead_letter_topic=created_topics.dead_letter("counter"),
        producer=producer,
        policy=messaging.FAST,
        session_timeout_ms=infra.session_timeout_ms,
        heartbeat_interval_ms=infra.heartbeat_interval_ms,
    )
    broker = KafkaBroker(infra.kafka_bootstrap)
    consumer.subscribe(broker)
    await broker.start()
    try:
        yield Rig(infra, created_topics, dsn, pool, consumer)
    finally:
        await broker.stop()
        await producer.stop()
        await pool.close()


async def test_a_dead_letter_is_listed_shown_and_redriven_after_the_fix_and_applied_once(rig: Rig) -> None:
    pair = f"pair-{uuid.uuid4().hex[:8]}"
    event = messaging.pair_created(pair)
    await produce(rig.infra.kafka_bootstrap, rig.topics.pairing, [messaging.as_message(event)])
    [row] = await eventually(rig.dead)
    assert (row["kind"], row["status"], row["event_id"]) == ("rejected", "dead", event.id)
    ident = f"sessions/{row['id']}"
    env = rig.env()

    listed = await tandem("dlq", "list", "--service", "sessions", env=env)
    assert listed.returncode == 0, listed.stderr
    [line] = [x for x in listed.stdout.splitlines() if x.startswith(ident + " ")]
    assert f"{rig.topics.pairing}/{row['partition']}/{row['offset']}" in line
    assert "tandem.pairing.PairCreated" in line
    assert " dead " in line
    assert f"rejected: LookupError: pair {pair} is unknown here" in line
    redriven_only = await tandem("dlq", "list", "--service", "sessions", "--status", "redriven", env=env)
    assert ident not in redriven_only.stdout

    shown = await tandem("dlq", "show", ident, env=env)
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["headers"]["ce_id"] == event.id
    assert record["payload"]["pair_id"] == pair
    assert "is unknown here" in record["error"]
    assert record["history"] == []

    # Redriven before the cause is fixed: it fails again and is a dead letter again (one row, its history).
    early = await tandem("dlq", "redrive", ident, "--by", "tester", env=env)
    assert early.returncode == 0, early.stderr
    again = await eventually(
        lambda: rig.pool.fetchrow("SELECT * FROM dead_letters WHERE id = $1 AND status = 'dead'", row["id"])
    )
    assert [h["what"] for h in again["history"]] == ["redriven", "dead again"]
    assert len(await rig.dead()) == 1

    # Fixed: the pair is known now. Redriven, it is applied once.
    await rig.pool.execute("INSERT INTO known (pair) VALUES ($1)", pair)
    fixed = await tandem("dlq", "redrive", row["id"].__str__(), "--service", "sessions", "--by", "tester", env=env)
    assert fixed.returncode == 0, fixed.stderr
    assert f"{ident}: redriven to {rig.topics.pairing}/" in fixed.stdout
    assert await eventually(lambda: messaging.counter(rig.pool, pair)) == 1
    marked = await rig.pool.fetchrow("SELECT * FROM dead_letters WHERE id = $1", row["id"])
    assert (marked["status"], marked["redriven_by"], marked["redrives"]) == ("redriven", "tester", 2)
    outcome = await rig.pool.fetchval("SELECT outcome FROM inbox WHERE event_id = $1", event.id)
    assert outcome == "applied"

    # Redriven again: the consumer meets the copy and takes it as the duplicate it is.
    duplicates = rig.consumer.stats.duplicates
    twice = await tandem("dlq", "redrive", ident, "--by", "tester", env=env)
    assert twice.returncode == 0, twice.stderr
    assert "redriven again" in twice.stdout
    await eventually(lambda: _async(rig.consumer.stats.duplicates > duplicates))
    assert await messaging.counter(rig.pool, pair) == 1
    assert (await rig.pool.fetchrow("SELECT status FROM dead_letters WHERE id = $1", row["id"]))["status"] == "redriven"


async def _async(value: bool) -> bool:
    return value


async def test_redrive_refuses_an_unknown_id_and_a_record_kept_only_as_a_reference(rig: Rig) -> None:
    env = rig.env()
    unknown = await tandem("dlq", "redrive", "sessions/987654", env=env)
    assert unknown.returncode != 0
    assert "no dead letter sessions/987654 in sessions's database" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    ref_id = await rig.pool.fetchval(
        'INSERT INTO dead_letters (consumer, fingerprint, kind, error, topic, partition, "offset", headers, value, '
        "size) VALUES ($1, 'record:big', 'undecodable', 'bad JSON', $2, 1, 42, '[]', NULL, 9000000) RETURNING id",
        rig.consumer.name,
        rig.topics.pairing,
    )
    refused = await tandem("dlq", "redrive", f"sessions/{ref_id}", env=env)
    assert refused.returncode != 0
    assert f"dead letter sessions/{ref_id} cannot be redriven: only a reference is kept" in refused.stderr
    assert f"topic {rig.topics.pairing} partition 1 offset 42" in refused.stderr
    shown = json.loads((await tandem("dlq", "show", f"sessions/{ref_id}", env=env)).stdout)
    assert shown["payload"] is None
    assert "offset 42" in shown["fetch"]
    nothing = await rig.pool.fetchval("SELECT status FROM dead_letters WHERE id = $1", ref_id)
    assert nothing == "dead"

    poison = await rig.pool.fetchval(
        'INSERT INTO dead_letters (consumer, fingerprint, kind, error, topic, partition, "offset", headers, value, '
        "size) VALUES ($1, 'record:poison', 'undecodable', 'not a CloudEvent', $2, 2, 7, '[]', '{', 1) RETURNING id",
        rig.consumer.name,
        rig.topics.pairing,
    )
    not_an_event = await tandem("dlq", "redrive", f"sessions/{poison}", env=env)
    assert not_an_event.returncode != 0
    assert f"dead letter sessions/{poison} cannot be redriven: it is not an event (undecodable" in not_an_event.stderr
    every = await tandem("dlq", "redrive", "--all", "--service", "sessions", env=env)
    assert every.returncode == 0, every.stderr
    assert "0 dead letter(s) redriven" in every.stdout
    assert "2 left dead, as no redrive can apply them" in every.stdout
    assert f"sessions/{ref_id}, sessions/{poison}" in every.stdout
    still = await rig.pool.fetch("SELECT status FROM dead_letters WHERE id = ANY($1)", [ref_id, poison])
    assert [r["status"] for r in still] == ["dead", "dead"]

    bad = await tandem("dlq", "show", "twelve", env=env)
    assert bad.returncode != 0
    assert "'twelve' is not a dead letter id" in bad.stderr
    unset = await tandem("dlq", "list", env={k: v for k, v in env.items() if not k.endswith("DATABASE_URL")})
    assert unset.returncode != 0
    assert "set DATABASE_URL" in unset.stderr


async def test_redrive_all_takes_every_waiting_dead_letter_of_the_service(rig: Rig) -> None:
    pairs = [f"all-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    await produce(
        rig.infra.kafka_bootstrap, rig.topics.pairing, [messaging.as_message(messaging.pair_created(p)) for p in pairs]
    )
    await eventually(lambda: _count(rig, 2))
    await rig.pool.executemany("INSERT INTO known (pair) VALUES ($1)", [(p,) for p in pairs])
    done = await tandem("dlq", "redrive", "--all", "--service", "sessions", env=rig.env())
    assert done.returncode == 0, done.stderr
    assert "2 dead letter(s) redriven" in done.stdout
    for p in pairs:
        assert await eventually(lambda p=p: messaging.counter(rig.pool, p)) == 1
    neither = await tandem("dlq", "redrive", env=rig.env())
    assert neither.returncode != 0
    assert "give dead letter ids, or --all" in neither.stderr


async def _count(rig: Rig, n: int) -> bool:
    return len(await rig.dead()) >= n


async def test_topics_check_passes_when_declared_and_lists_each_difference_otherwise(infra: Infra) -> None:
    topics = Topics(namespace=unique("t"), partitions=3)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "TANDEM_TOPIC_NAMESPACE": topics.namespace,
        "TANDEM_TOPIC_PARTITIONS": "3",
    }
    missing = [topics.sessions, topics.dead_letter("notifications")]
    await ensure_topics(infra.kafka_bootstrap, topics, [n for n in topics.all_topics(CONSUMERS) if n not in missing])
    checked = await tandem("topics", "check", env=env)
    assert checked.returncode == 1
    assert sorted(checked.stdout.splitlines()) == sorted(f"topic {n} is missing" for n in missing)

    other = await tandem("topics", "check", env={**env, "TANDEM_TOPIC_PARTITIONS": "4"})
    assert other.returncode == 1
    assert f"topic {topics.pairing} has 3 partitions, declared 4" in other.stdout

    created = await tandem("topics", "create", env=env)
    assert created.returncode == 0, created.stderr
    assert sorted(created.stdout.removeprefix("created: ").strip().split(", ")) == sorted(missing)
    good = await tandem("topics", "check", env=env)
    assert good.returncode == 0, good.stdout
    assert "declared topics as declared" in good.stdout
    bare = await tandem("topics", env=env)  # as before: create
    assert bare.returncode == 0
    assert "nothing, all exist" in bare.stdout


async def test_status_shows_the_ready_service_and_the_silent_ones_and_fails_while_one_is_down(
    infra: Infra, serve: ServeFactory
) -> None:
    sessions = await serve(SESSIONS)
    await eventually(lambda: _ready(sessions.url))
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "TANDEM_TOPIC_NAMESPACE": sessions.host.topics.namespace,
        "TANDEM_TOPIC_PARTITIONS": str(sessions.host.topics.partitions),
        "SESSIONS_URL": sessions.url,
        "SESSIONS_DATABASE_URL": sessions.host.settings.dsn,
        "PAIRING_URL": f"http://127.0.0.1:{free_port()}",
        "NOTIFICATIONS_URL": f"http://127.0.0.1:{free_port()}",
    }
    env.pop("DATABASE_URL", None)
    one = await tandem("status", "--service", "sessions", env=env)
    assert one.returncode == 0, one.stdout + one.stderr
    assert one.stdout.splitlines()[1].split()[:2] == ["sessions", "yes"]

    everyone = await tandem("status", env=env)
    assert everyone.returncode == 1
    rows = {line.split()[0]: line for line in everyone.stdout.splitlines()[1:] if not line.startswith(" ")}
    assert rows["sessions"].split()[1] == "yes"
    assert rows["pairing"].split()[1] == "NO"
    assert rows["notifications"].split()[1] == "NO"
    assert f"not ready: does not answer at {env['NOTIFICATIONS_URL']}" in everyone.stdout
    assert "database not configured: set PAIRING_DATABASE_URL or DATABASE_URL" in everyone.stdout
    assert "Traceback" not in everyone.stderr

    as_json = await tandem("status", "--json", env=env)
    assert as_json.returncode == 1
    found = {s["service"]: s for s in json.loads(as_json.stdout)}
    assert found["sessions"]["ready"] is True
    assert found["sessions"]["outbox"]["backlog"] == 0
    assert found["sessions"]["dead_letters"] == {"dead": 0, "redriven": 0}
    assert set(found["sessions"]["consumer_lag"]), found["sessions"]["problems"]
    assert set(found["sessions"]["consumer_lag"]) == {sessions.host.topics.pairing, sessions.host.topics.sessions}
    assert found["notifications"]["ready"] is False


async def _ready(url: str) -> bool:
    import httpx

    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient(trust_env=False) as http:
            return (await http.get(url + "/health/ready")).status_code == 200
    return False


async def test_consumer_lag_counts_what_the_group_has_not_committed(infra: Infra, created_topics: Topics) -> None:
    from aiokafka import AIOKafkaConsumer

    from shared.operator import consumer_lag

    topic, group = created_topics.hr_inbound, f"{created_topics.namespace}.lagging"
    await produce(infra.kafka_bootstrap, topic, [(f"k{i}".encode(), b"{}", []) for i in range(5)])
    assert await consumer_lag(infra.kafka_bootstrap, group, [topic]) == {topic: 5}
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=infra.kafka_bootstrap, group_id=group, auto_offset_reset="earliest",
        enable_auto_commit=False, session_timeout_ms=infra.session_timeout_ms,
        heartbeat_interval_ms=infra.heartbeat_interval_ms,
    )  # fmt: skip
    await reader.start()
    try:
        seen = 0
        while seen < 5:
            seen += sum(len(v) for v in (await reader.getmany(timeout_ms=1000)).values())
        await reader.commit()
    finally:
        await reader.stop()
    assert await consumer_lag(infra.kafka_bootstrap, group, [topic]) == {topic: 0}
