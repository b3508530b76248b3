"""Readiness tells the truth, with reasons: topics that differ from the declared ones, a dead-letter topic
that is gone (the relay stops publishing and says so), a consumer whose batch keeps failing; and it
comes back when fixed."""

from __future__ import annotations

import uuid

import httpx
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.sessions.app import SPEC as SESSIONS
from shared.infra import Infra
from shared.topics import CONSUMERS, Topics, ensure_topics
from tests.conftest import ServeFactory
from tests.health import not_ready_because, ready
from tests.integration import messaging
from tests.kafka_helpers import eventually, produce


async def admin(infra: Infra) -> AIOKafkaAdminClient:
    client = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await client.start()
    return client


async def test_topics_that_differ_from_the_declared_ones_are_named(serve: ServeFactory, infra: Infra) -> None:
    topics = Topics(namespace=f"r_{uuid.uuid4().hex[:10]}", partitions=3)
    client = await admin(infra)
    try:  # someone created two of them by hand, wrongly: too few partitions, a week's retention
        await client.create_topics(
            [
                NewTopic(topics.sessions, num_partitions=2, replication_factor=1, topic_configs=dict(topics.configs)),
                NewTopic(
                    topics.pairing,
                    num_partitions=3,
                    replication_factor=1,
                    topic_configs={**topics.configs, "retention.ms": "604800000"},
                ),
            ]
        )
    finally:
        await client.close()
    rest = [t for t in topics.all_topics(CONSUMERS) if t not in (topics.sessions, topics.pairing)]
    await ensure_topics(infra.kafka_bootstrap, topics, rest)
    # Creating missing topics (the local stack's way), the service starts and its readiness names the differences;
    # with TANDEM_CREATE_TOPICS off it would not start at all (tests/integration/ops/test_production_mode.py).
    svc = await serve(SESSIONS, topics=topics, ready_stall_seconds=2.0, create_topics=True)
    said = await eventually(lambda: not_ready_because(svc.url, "partitions", "retention.ms"))
    assert f"topic {topics.sessions} has 2 partitions, declared 3" in said
    assert f"topic {topics.pairing} has retention.ms=604800000, declared -1" in said


async def test_a_missing_dead_letter_topic_is_named_and_readiness_returns_when_it_is_back(
    serve: ServeFactory, infra: Infra, created_topics: Topics
) -> None:
    topics = created_topics
    svc = await serve(SESSIONS, ready_stall_seconds=2.0, ready_relay_grace_seconds=2.0)
    await eventually(lambda: ready(svc.url))
    dlq = topics.dead_letter("sessions")
    client = await admin(infra)
    try:
        await client.delete_topics([dlq])  # an operator's mistake: the dead-letter topic is gone
    finally:
        await client.close()
    poison = (b"p", b"{not json", [("content-type", b"application/json")])
    await produce(infra.kafka_bootstrap, topics.pairing, [poison])
    said = await eventually(lambda: not_ready_because(svc.url, f"topic {dlq} is missing", "relay: cannot publish"))
    assert all("partitions" not in r for r in said)  # only what is wrong is named
    async with svc.host.pool.acquire() as conn:  # the dead letter is kept whatever the broker does with it
        kept = await eventually(
            lambda: conn.fetchval(
                "SELECT count(*) FROM dead_letters WHERE consumer = $1 AND value = $2",
                svc.host.consumer.name,
                b"{not json",
            )
        )
    assert kept == 1
    await ensure_topics(infra.kafka_bootstrap, topics, [dlq])  # fixed
    await eventually(lambda: ready(svc.url), timeout=60)


async def test_a_consumer_whose_batch_keeps_failing_is_not_ready_and_says_why_until_it_is_fixed(
    serve: ServeFactory, infra: Infra, created_topics: Topics
) -> None:
    topics = created_topics
    svc = await serve(SESSIONS, ready_stall_seconds=2.0)
    await eventually(lambda: ready(svc.url))
    await svc.host.pool.execute("ALTER TABLE inbox RENAME TO inbox_elsewhere")  # a migration gone wrong
    env = messaging.pair_created(f"ready-{uuid.uuid4().hex[:6]}")
    await produce(infra.kafka_bootstrap, topics.pairing, [messaging.as_message(env)])
    said = await eventually(lambda: not_ready_because(svc.url, "consumer:", "UndefinedTableError"), timeout=40)
    assert any("events waiting and no progress" in r or "has failed for" in r for r in said)
    assert svc.host.consumer is not None
    assert svc.host.consumer.stats.dead_lettered == 0  # no event to blame
    await svc.host.pool.execute("ALTER TABLE inbox_elsewhere RENAME TO inbox")  # fixed
    await eventually(lambda: ready(svc.url), timeout=60)
    assert await svc.host.pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", env.id) == 1


async def test_readiness_shows_the_partitions_the_consumer_group_gave_this_replica(
    serve: ServeFactory, created_topics: Topics
) -> None:
    """Alone in its group, a replica owns every partition of the topics it consumes (with several, each its
    share: tests/e2e/test_scale_out.py)."""
    topics = created_topics
    svc = await serve(SESSIONS)

    async def assigned() -> dict[str, list[int]]:
        async with httpx.AsyncClient(timeout=10) as client:
            found: dict[str, list[int]] = (await client.get(f"{svc.url}/health/ready")).json()["checks"]["consumer"][
                "assigned"
            ]
        return found

    every = list(range(topics.partitions))
    got = await eventually(assigned)
    assert got == {topics.pairing: every, topics.sessions: every}
