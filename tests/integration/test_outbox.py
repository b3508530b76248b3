"""The transactional outbox and its relay over the real broker and Postgres."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cloudevents.v1.kafka import KafkaMessage, from_binary

from shared import outbox
from shared.db import SHARED_MIGRATIONS, connect, create_pool
from shared.events import encode
from shared.infra import Infra
from shared.outbox import OutboxRelay
from shared.topics import Topics
from tests.integration import messaging
from tests.kafka_helpers import eventually, read_topic


async def _setup(infra: Infra, new_database: Any) -> tuple[str, Any, AIOKafkaProducer]:
    dsn = await new_database("outbox")
    await messaging.prepare(dsn)
    pool = await create_pool(dsn)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    return dsn, pool, producer


async def test_rows_committing_in_the_opposite_order_of_their_ids_are_both_published(
    infra: Infra, created_topics: Topics, new_database: Any
) -> None:
    dsn, pool, producer = await _setup(infra, new_database)
    relay = OutboxRelay(pool, producer, dsn=dsn, name="t")
    first, second = messaging.pair_created(), messaging.pair_created()
    slow = await pool.acquire()
    fast = await pool.acquire()
    try:
        slow_tx = slow.transaction()
        await slow_tx.start()
        await outbox.append(slow, created_topics, [first])  # takes the lower position ...
        async with fast.transaction():
            await outbox.append(fast, created_topics, [second])  # ... but this one commits first
        positions = await pool.fetch("SELECT position, event_id FROM outbox ORDER BY position")
        assert [r["event_id"] for r in positions] == [second.id]  # first is not visible yet

        assert await relay.publish_pending() == 1  # publishes `second`; a "position > last" relay would
        await slow_tx.commit()  # now skip `first` forever, since its position is lower
        assert await relay.publish_pending() == 1
    finally:
        await pool.release(slow)
        await pool.release(fast)

    records = await read_topic(infra.kafka_bootstrap, created_topics.pairing, expect=2)
    ids = sorted(dict(r.headers)["ce_id"].decode() for r in records)
    assert ids == sorted([first.id, second.id])
    kept = await pool.fetch("SELECT event_id, published_at FROM outbox")
    assert len(kept) == 2
    assert all(r["published_at"] is not None for r in kept)
    await producer.stop()
    await pool.close()


async def test_an_event_read_back_from_kafka_parses_with_the_official_cloudevents_sdk(
    infra: Infra, created_topics: Topics, new_database: Any
) -> None:
    dsn, pool, producer = await _setup(infra, new_database)
    env = messaging.pair_created()
    async with pool.acquire() as conn, conn.transaction():
        await outbox.append(conn, created_topics, [env])
    await OutboxRelay(pool, producer, dsn=dsn, name="t").drain()
    [record] = await read_topic(infra.kafka_bootstrap, created_topics.pairing, expect=1)

    event = from_binary(KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value))
    assert event["type"] == "tandem.pairing.PairCreated"
    assert event["source"] == "/tandem/pairing"
    assert event["id"] == env.id
    assert event["subject"] == env.data.pair_id
    assert event["specversion"] == "1.0"
    assert event["tenant"] == "default"
    assert event["schemaversion"] == "1"
    assert event.get_data()["mentor_id"] == "m-1"
    assert record.key == env.data.pair_id.encode()  # keyed by aggregate id
    await producer.stop()
    await pool.close()


async def test_replicas_share_the_relay_without_double_publishing_and_keep_order_per_pair(
    infra: Infra, created_topics: Topics, new_database: Any
) -> None:
    dsn, pool, producer = await _setup(infra, new_database)
    relays = [OutboxRelay(pool, producer, dsn=dsn, name="replicated", poll_interval=0.1) for _ in range(3)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    pair_ids = [f"pair-{i}" for i in range(5)]
    sent = []
    try:
        await eventually(lambda: _true(sum(r.stats.is_leader for r in relays) == 1))
        for round_ in range(20):  # 100 events, written in 20 transactions while the relay runs
            batch = [messaging.pair_created(p) for p in pair_ids]
            sent.extend(batch)
            async with pool.acquire() as conn, conn.transaction():
                await outbox.append(conn, created_topics, batch)
            if round_ % 5 == 0:
                await asyncio.sleep(0.05)
        await outbox.wait_published(pool, timeout=20)
        assert sum(r.stats.is_leader for r in relays) == 1
    finally:
        for r in relays:
            r.stop()
        await asyncio.gather(*tasks)
    records = await read_topic(infra.kafka_bootstrap, created_topics.pairing, expect=100)
    ids = [dict(r.headers)["ce_id"].decode() for r in records]
    assert Counter(ids) == Counter(e.id for e in sent)  # each exactly once
    for pair_id in pair_ids:  # per-pair order on its partition equals write order
        on_kafka = [
            dict(r.headers)["ce_id"].decode()
            for r in sorted(records, key=lambda r: r.offset)
            if r.key == pair_id.encode()
        ]
        assert on_kafka == [e.id for e in sent if e.data.pair_id == pair_id]
    await producer.stop()
    await pool.close()


async def _true(value: bool) -> bool:
    return value


async def test_each_row_names_its_tenant_and_rows_from_before_the_column_take_it_from_their_header(
    infra: Infra, created_topics: Topics, new_database: Any
) -> None:
    dsn = await new_database("outbox_tenant")
    conn = await connect(dsn)
    try:
        for name in ("0001_messaging.sql", "0002_projection_state.sql"):  # the outbox as it was
            await conn.execute((SHARED_MIGRATIONS / name).read_text())
        old = messaging.pair_created()
        old = old.model_copy(update={"tenant": "acme"})
        rec = encode(old)
        await conn.execute(
            "INSERT INTO outbox (event_id, event_type, topic, key, subject, headers, payload, occurred_at) "
            "VALUES ($1, $2, 't', $3, $4, $5, $6, $7)",
            old.id,
            old.type,
            old.key,
            old.subject,
            [[n, v.decode()] for n, v in rec.headers],
            rec.value.decode(),
            old.time,
        )
        await conn.execute((SHARED_MIGRATIONS / "0003_outbox_tenant.sql").read_text())
        assert await conn.fetchval("SELECT tenant FROM outbox WHERE event_id = $1", old.id) == "acme"
        for later in sorted(SHARED_MIGRATIONS.glob("0*.sql")):  # the outbox as it is now (the hash chain, 0006)
            if later.name[:4] > "0003":
                await conn.execute(later.read_text())

        new = messaging.pair_created().model_copy(update={"tenant": "globex"})
        async with conn.transaction():
            await outbox.append(conn, created_topics, [new])
        assert await conn.fetchval("SELECT tenant FROM outbox WHERE event_id = $1", new.id) == "globex"
        await conn.execute("SET enable_seqscan = off")  # two rows: say whether the index serves, not the cost
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                "EXPLAIN SELECT headers FROM outbox WHERE tenant = 'acme' AND key = 'p' ORDER BY position"
            )
        )
        assert "outbox_tenant_key" in plan
    finally:
        await conn.close()


async def test_a_publish_the_broker_never_acknowledges_fails_in_time_and_the_next_pass_publishes(
    infra: Infra, created_topics: Topics, new_database: Any
) -> None:
    """Fault suite, seed 1018: after a broker restart a relay waited for acknowledgements with no limit of its
    own and published nothing for a minute, saying nothing. A pass now fails after `publish_timeout` (the
    relay's back-off and readiness take it from there) and the rows stay unpublished for the next pass."""
    from tests.faults.proxy import KafkaProxy

    host, port = infra.kafka_bootstrap.rsplit(":", 1)
    proxy = await KafkaProxy("relay", int(port), upstream_host=host).start()
    dsn = await new_database("outbox")
    await messaging.prepare(dsn)
    pool = await create_pool(dsn)
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{proxy.port}", acks="all")
    await producer.start()
    try:
        relay = OutboxRelay(pool, producer, dsn=dsn, name="t", publish_timeout=1.0)
        env = messaging.pair_created()
        async with pool.acquire() as conn, conn.transaction():
            await outbox.append(conn, created_topics, [env])
        proxy.latency = 5.0  # the broker holds every answer
        with pytest.raises(TimeoutError, match="did not acknowledge 1 events within 1 s"):
            await relay.publish_pending()
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1
        proxy.heal()

        async def published() -> int:
            try:
                return await relay.publish_pending()
            except TimeoutError:  # answers already held back still arrive late
                return 0

        await eventually(published, timeout=30)
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
        records = await read_topic(infra.kafka_bootstrap, created_topics.pairing, expect=1)
        assert {dict(r.headers)["ce_id"].decode() for r in records} == {env.id}  # a late copy is a duplicate
    finally:
        await producer.stop()
        await pool.close()
        await proxy.stop()


async def test_a_leader_killed_between_the_brokers_ack_and_its_commit_is_not_published_twice(
    infra: Infra, created_topics: Topics, new_database: Any
) -> None:
    """kill -9 of the active replica after the broker acknowledged a pass and before its commit: its rows are
    still unpublished though the broker has them. The next leader finds them in the partitions' tail and marks
    them, rather than sending them a second time; what the broker does not have it sends."""
    dsn, pool, producer = await _setup(infra, new_database)

    def tail() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False)

    earlier = [messaging.pair_created(f"pair-{i}") for i in range(4)]
    async with pool.acquire() as conn, conn.transaction():
        await outbox.append(conn, created_topics, earlier)
    assert await OutboxRelay(pool, producer, dsn=dsn, name="killed").drain() == 4  # positions are recorded
    in_flight = [messaging.pair_created(f"pair-{i}") for i in range(6)]
    never_sent = messaging.pair_created("pair-1")
    async with pool.acquire() as conn, conn.transaction():
        await outbox.append(conn, created_topics, [*in_flight, never_sent])
    for env in in_flight:  # what the dead leader's last pass had sent, and the broker acknowledged
        rec = encode(env)
        await producer.send_and_wait(created_topics.pairing, key=rec.key, value=rec.value, headers=rec.headers)

    relay = OutboxRelay(pool, producer, dsn=dsn, name="killed", poll_interval=0.1, tail=tail)
    task = asyncio.create_task(relay.run())
    try:
        await outbox.wait_published(pool, timeout=20)
    finally:
        relay.stop()
        await task
    sent = [*earlier, *in_flight, never_sent]
    records = await read_topic(infra.kafka_bootstrap, created_topics.pairing, expect=len(sent))
    assert Counter(dict(r.headers)["ce_id"].decode() for r in records) == Counter(e.id for e in sent)  # each once
    assert relay.stats.reconciled == len(in_flight)
    assert relay.stats.published == len(in_flight) + 1
    positions = {
        r["partition"]: r["last_offset"]
        for r in await pool.fetch("SELECT partition, last_offset FROM producer_positions WHERE topic = $1",
                                  created_topics.pairing)
    }  # fmt: skip
    assert positions == {r.partition: max(o.offset for o in records if o.partition == r.partition) for r in records}
    await producer.stop()
    await pool.close()
