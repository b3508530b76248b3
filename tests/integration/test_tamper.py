"""Tamper evidence over the real broker and Postgres: the outbox chains each stream's events, the relay publishes the
chain, checkpoints are signed, and `verify` finds each kind of tampering, in an outbox and in the log, and where."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from services.sessions.app import SPEC as SESSIONS
from shared import chain, outbox
from shared.db import create_pool
from shared.events import Envelope, EventPayload
from shared.events import pairing as pairing_events
from shared.infra import Infra
from shared.outbox import OutboxRelay
from shared.tamper import (
    check_latest_checkpoint,
    checkpoints,
    export_checkpoints,
    load_signing_key,
    outbox_links,
    verify_service,
    write_checkpoint,
)
from shared.topics import Topics, ensure_topics
from tests.cli import tandem
from tests.conftest import HostFactory
from tests.integration import messaging
from tests.kafka_helpers import eventually, produce, read_topic
from tests.signing import signing_key_file


class History:
    """An outbox with two streams (pair P: four events, pair Q: two), written one transaction at a time, published."""

    def __init__(self, dsn: str, pool: asyncpg.Pool, topics: Topics, pair: str) -> None:
        self.dsn, self.pool, self.topics, self.pair = dsn, pool, topics, pair

    async def positions(self) -> list[int]:
        rows = await self.pool.fetch("SELECT position FROM outbox WHERE key = $1 ORDER BY position", self.pair)
        return [r["position"] for r in rows]

    async def event_at(self, position: int) -> str:
        return str(await self.pool.fetchval("SELECT event_id FROM outbox WHERE position = $1", position))

    async def verify(self, **options: Any) -> list[tuple[str, str]]:
        result = await verify_service("pairing", dsn=self.dsn, bootstrap=None, topics=[], outbox=True, **options)
        return [(f.kind, f.where) for f in result.findings]


async def history(infra: Infra, topics: Topics, new_database: Any, tmp_path: Path) -> History:
    dsn = await new_database("tamper")
    await messaging.prepare(dsn)
    pool = await create_pool(dsn)
    pair, other = f"pair-{uuid.uuid4()}", f"pair-{uuid.uuid4()}"
    for stream in (pair, other, pair, pair, other, pair):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.append(conn, topics, [messaging.pair_created(stream)])
    key = load_signing_key(signing_key_file(tmp_path))
    assert await write_checkpoint(pool, "pairing", key, topics=topics) is not None  # published: a 7th row
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await OutboxRelay(pool, producer, dsn=dsn, name=f"relay-{uuid.uuid4()}").drain()
    finally:
        await producer.stop()
    return History(dsn, pool, topics, pair)


@pytest.fixture
async def written(
    infra: Infra, created_topics: Topics, new_database: Any, tmp_path: Path
) -> Callable[[], Awaitable[History]]:
    made: list[History] = []

    async def make() -> History:
        h = await history(infra, created_topics, new_database, tmp_path)
        made.append(h)
        return h

    yield make  # type: ignore[misc]
    for h in made:
        await h.pool.close()


async def test_each_event_carries_its_predecessors_hash_and_its_own_in_the_outbox_and_on_kafka(
    infra: Infra, written: Callable[[], Awaitable[History]]
) -> None:
    h = await written()
    rows = await h.pool.fetch("SELECT prev_hash, hash FROM outbox WHERE key = $1 ORDER BY position", h.pair)
    assert bytes(rows[0]["prev_hash"]) == chain.GENESIS
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["hash"]
    records = [
        r for r in await read_topic(infra.kafka_bootstrap, h.topics.pairing, expect=6) if r.key == h.pair.encode()
    ]
    on_kafka = [dict(r.headers)[chain.HASH_HEADER].decode() for r in sorted(records, key=lambda r: r.offset)]
    assert on_kafka == [bytes(r["hash"]).hex() for r in rows]


async def test_a_clean_history_verifies_clean_in_the_log_and_the_outbox_a_resent_duplicate_included(
    infra: Infra, written: Callable[[], Awaitable[History]]
) -> None:
    h = await written()
    first = (await h.positions())[0]
    await h.pool.execute("UPDATE outbox SET published_at = NULL WHERE position = $1", first)  # the relay sends it again
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        assert await OutboxRelay(h.pool, producer, dsn=h.dsn, name=f"relay-{uuid.uuid4()}").drain() == 1
    finally:
        await producer.stop()
    result = await verify_service(
        "pairing", dsn=h.dsn, bootstrap=infra.kafka_bootstrap, topics=[h.topics.pairing], outbox=True
    )
    assert result.findings == []
    log_line, log_checkpoint, outbox_line, outbox_checkpoint = result.lines
    assert "log (" in log_line
    assert "clean; 6 chained events in 2 streams" in log_line
    assert "1 duplicates" in log_line
    assert "outbox: clean; 7 chained events in 3 streams" in outbox_line  # the checkpoint's event is chained too
    assert log_checkpoint.endswith("signature and Merkle root verify")
    assert outbox_checkpoint.endswith("signature and Merkle root verify")


async def test_a_payload_changed_in_the_outbox_is_named(written: Callable[[], Awaitable[History]]) -> None:
    h = await written()
    p = await h.positions()
    await h.pool.execute("UPDATE outbox SET payload = replace(payload, 'm-1', 'm-9') WHERE position = $1", p[1])
    assert await h.verify() == [("changed", f"outbox position {p[1]}")]


async def test_a_row_deleted_from_the_outbox_is_named_at_its_successor_and_the_checkpoint_counts_one_more(
    written: Callable[[], Awaitable[History]],
) -> None:
    h = await written()
    p = await h.positions()
    removed_successor = await h.event_at(p[2])
    await h.pool.execute("DELETE FROM outbox WHERE position = $1", p[1])
    result = await verify_service("pairing", dsn=h.dsn, bootstrap=None, topics=[], outbox=True)
    found = [(f.kind, f.where, f.event_id) for f in result.findings]
    assert found[0] == ("removed", f"outbox position {p[2]}", removed_successor)
    assert [f.kind for f in result.findings[1:]] == ["checkpoint"]  # the heads are as signed, the count is not
    assert result.findings[1].detail.startswith("5 chained events up to position")


async def test_a_forged_row_inserted_into_the_outbox_is_named(written: Callable[[], Awaitable[History]]) -> None:
    h = await written()
    p = await h.positions()
    row = await h.pool.fetchrow("SELECT * FROM outbox WHERE position = $1", p[1])
    forged_id, forged_at = str(uuid.uuid4()), p[-1] + 100
    headers = [
        [n, forged_id if n == "ce_id" else str(forged_at) if n == chain.POSITION_HEADER else v]
        for n, v in row["headers"]
        if n not in chain.CHAIN_HEADERS
    ]
    prev = bytes(row["prev_hash"])  # a forger who knows the scheme: it claims the predecessor of the row it copies
    own = chain.chain_hash(prev, chain.canonical([(n, v) for n, v in headers], row["key"], row["payload"]))
    headers += [[chain.PREV_HEADER, prev.hex()], [chain.HASH_HEADER, own.hex()]]
    await h.pool.execute(
        "INSERT INTO outbox (position, event_id, event_type, topic, key, subject, headers, payload, occurred_at, "
        "tenant, prev_hash, hash, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now())",
        forged_at, forged_id, row["event_type"], row["topic"], row["key"], row["subject"], headers, row["payload"],
        row["occurred_at"], row["tenant"], prev, own,
    )  # fmt: skip
    found = await verify_service("pairing", dsn=h.dsn, bootstrap=None, topics=[], outbox=True)
    assert [(f.kind, f.where, f.event_id) for f in found.findings] == [
        ("inserted", f"outbox position {forged_at}", forged_id)
    ]


async def test_two_rows_swapped_in_the_outbox_are_named_as_reordered(written: Callable[[], Awaitable[History]]) -> None:
    h = await written()
    p = await h.positions()
    third = await h.event_at(p[2])
    async with h.pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE outbox SET position = -1 WHERE position = $1", p[1])
        await conn.execute("UPDATE outbox SET position = $1 WHERE position = $2", p[1], p[2])
        await conn.execute("UPDATE outbox SET position = $1 WHERE position = -1", p[2])
    result = await verify_service("pairing", dsn=h.dsn, bootstrap=None, topics=[], outbox=True)
    assert [(f.kind, f.where, f.event_id) for f in result.findings] == [("reordered", f"outbox position {p[1]}", third)]


LogTamper = Callable[[list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]], list[Any]]


def _change(records: list[Any]) -> list[Any]:
    key, value, headers = records[1]
    return [records[0], (key, value.replace(b"m-1", b"m-9"), headers), *records[2:]]


def _drop(records: list[Any]) -> list[Any]:
    return [records[0], *records[2:]]


def _insert(records: list[Any]) -> list[Any]:
    key, value, headers = records[1]
    h = dict(headers)
    forged = [
        (n, str(uuid.uuid4()).encode() if n == "ce_id" else v) for n, v in headers if n not in chain.CHAIN_HEADERS
    ]
    prev = bytes.fromhex(h[chain.PREV_HEADER].decode())
    own = chain.chain_hash(prev, chain.canonical(forged, key, value))
    forged += [(chain.PREV_HEADER, prev.hex().encode()), (chain.HASH_HEADER, own.hex().encode())]
    return [records[0], records[1], (key, value, forged), *records[2:]]


def _swap(records: list[Any]) -> list[Any]:
    return [records[0], records[2], records[1], *records[3:]]


@pytest.mark.parametrize(
    ("tamper", "kind", "offset"),
    [(_change, "changed", 1), (_drop, "removed", 1), (_insert, "inserted", 2), (_swap, "reordered", 1)],
    ids=["changed", "dropped", "inserted", "swapped"],
)
async def test_a_stream_copied_to_a_topic_with_one_tampered_record_is_named_with_topic_partition_and_offset(
    infra: Infra, written: Callable[[], Awaitable[History]], tamper: LogTamper, kind: str, offset: int
) -> None:
    h = await written()
    records = sorted(
        (r for r in await read_topic(infra.kafka_bootstrap, h.topics.pairing, expect=6) if r.key == h.pair.encode()),
        key=lambda r: r.offset,
    )
    assert len(records) == 4
    copy = Topics(namespace=h.topics.namespace, partitions=1)
    scratch = f"{h.topics.namespace}.scratch.{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap, copy, [scratch])
    intact = f"{scratch}.intact"
    await ensure_topics(infra.kafka_bootstrap, copy, [intact])
    as_written = [(r.key, r.value, list(r.headers)) for r in records]
    await produce(infra.kafka_bootstrap, intact, as_written)
    await produce(infra.kafka_bootstrap, scratch, tamper(as_written))

    clean = await verify_service("pairing", dsn=None, bootstrap=infra.kafka_bootstrap, topics=[intact], outbox=False)
    assert clean.findings == []
    found = await verify_service("pairing", dsn=None, bootstrap=infra.kafka_bootstrap, topics=[scratch], outbox=False)
    assert [(f.kind, f.where) for f in found.findings] == [(kind, f"{scratch}/0/{offset}")]


async def test_a_checkpoint_with_a_changed_signature_or_root_is_caught(
    written: Callable[[], Awaitable[History]],
) -> None:
    h = await written()
    assert await h.verify() == []
    await h.pool.execute("UPDATE checkpoints SET signature = overlay(signature placing '\\x00'::bytea from 1)")
    found = await verify_service("pairing", dsn=h.dsn, bootstrap=None, topics=[], outbox=True)
    assert [f.detail for f in found.findings] == ["its signature does not verify with its public key"]

    h = await written()
    await h.pool.execute("UPDATE checkpoints SET root = sha256(root)")
    found = await verify_service("pairing", dsn=h.dsn, bootstrap=None, topics=[], outbox=True)
    assert [f.kind for f in found.findings] == ["checkpoint", "checkpoint"]
    assert found.findings[0].detail == "its signature does not verify with its public key"
    assert "Merkle root" in found.findings[1].detail


async def test_the_export_verifies_with_cryptography_and_the_exported_public_key_alone(
    written: Callable[[], Awaitable[History]],
) -> None:
    h = await written()
    [exported] = await export_checkpoints(h.dsn)
    line = json.loads(json.dumps(exported))  # as a notary reads it
    public = load_pem_public_key(line["public_key"].encode())
    public.verify(bytes.fromhex(line["signature"]), line["signed"].encode())  # type: ignore[union-attr,call-arg]
    signed = json.loads(line["signed"])
    assert (signed["service"], signed["events"], signed["streams"], signed["root"]) == ("pairing", 6, 2, line["root"])
    tampered = line["signed"].replace('"events":6', '"events":5')
    with pytest.raises(InvalidSignature):
        public.verify(bytes.fromhex(line["signature"]), tampered.encode())  # type: ignore[union-attr,call-arg]


async def test_the_command_reports_clean_then_the_finding_with_its_place_and_an_unreachable_broker_in_one_line(
    infra: Infra, written: Callable[[], Awaitable[History]], tmp_path: Path
) -> None:
    h = await written()
    env = {
        **__import__("os").environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "TANDEM_TOPIC_NAMESPACE": h.topics.namespace,
        "PAIRING_DATABASE_URL": h.dsn,
    }
    ok = await tandem("audit", "verify", "--service", "pairing", "--outbox", env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1] == "tamper evidence: clean (pairing)"

    p = await h.positions()
    changed = await h.event_at(p[1])
    await h.pool.execute("UPDATE outbox SET payload = replace(payload, 'm-1', 'm-9') WHERE position = $1", p[1])
    bad = await tandem("audit", "verify", "--service", "pairing", "--outbox", env=env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"pairing: CHANGED: outbox position {p[1]} (event {changed}): its bytes do not match its hash" in bad.stdout
    assert bad.stdout.splitlines()[-1] == "tamper evidence: 1 finding(s) (pairing)"

    exported = await tandem("audit", "checkpoints", "export", "--service", "pairing", env=env)
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["service"] for line in exported.stdout.splitlines()] == ["pairing"]

    away = await tandem(
        "audit", "verify", "--service", "pairing", env={**env, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    )
    assert away.returncode == 2
    assert "Traceback" not in away.stderr
    assert len(away.stderr.strip().splitlines()) == 1, away.stderr

    no_db = {**env, "PAIRING_DATABASE_URL": "postgresql://tandem@127.0.0.1:9/tandem_pairing"}
    away = await tandem("audit", "verify", "--service", "pairing", "--outbox", env=no_db)
    assert away.returncode == 2
    [line] = away.stderr.strip().splitlines()
    assert line.startswith("tandem: pairing: database server 127.0.0.1:9 does not answer (")


async def test_a_service_with_a_signing_key_signs_checkpoints_on_its_interval(
    start_service: HostFactory, tmp_path: Path
) -> None:
    host = await start_service(SESSIONS, signing_key_file=signing_key_file(tmp_path), checkpoint_seconds=0.2)
    assert host.signing_key is not None
    row = await eventually(lambda: host.pool.fetchrow("SELECT * FROM checkpoints ORDER BY id LIMIT 1"))
    assert row["service"] == "sessions"
    assert chain.signature_valid(
        chain.Checkpoint(
            row["service"], row["signed_at"], row["position"], row["events"], row["streams"], bytes(row["root"]),
            bytes(row["signature"]), row["public_key"],
        )
    )  # fmt: skip


async def test_the_published_checkpoint_is_chained_and_verifies_the_log_with_no_database(
    infra: Infra, written: Callable[[], Awaitable[History]]
) -> None:
    h = await written()
    [record] = await read_topic(infra.kafka_bootstrap, h.topics.checkpoints, expect=1)
    assert record.key == b"pairing"
    assert dict(record.headers)["ce_type"] == b"tandem.audit.CheckpointSigned"
    topics = [h.topics.pairing, h.topics.checkpoints]
    result = await verify_service(
        "pairing", dsn=None, bootstrap=infra.kafka_bootstrap, topics=topics, outbox=False,
        checkpoint_topic=h.topics.checkpoints,
    )  # fmt: skip
    assert result.findings == []
    assert "clean; 7 chained events in 3 streams" in result.lines[0]
    assert result.lines[1].endswith("signature and Merkle root verify")

    # a log without the pair's last event: the heads as of the signed position no longer give the signed root
    from shared.tamper import latest_published, log_links

    links, _, _ = await log_links(infra.kafka_bootstrap, topics)
    last = max((link for link in links if link.stream[2] == h.pair), key=lambda link: link.order)
    latest = await latest_published(infra.kafka_bootstrap, h.topics.checkpoints, "pairing")
    assert latest is not None
    assert check_latest_checkpoint(links, latest)[0] == []
    found, line = check_latest_checkpoint([link for link in links if link is not last], latest)
    assert line.endswith("does not verify")
    assert [f.kind for f in found] == ["checkpoint", "checkpoint"]  # the root and the count
    assert "Merkle root" in found[0].detail


async def test_concurrent_writers_of_one_stream_make_one_chain_and_a_concurrent_checkpoint_covers_a_consistent_cut(
    created_topics: Topics, new_database: Any, tmp_path: Path
) -> None:
    dsn = await new_database("tamper_race")
    await messaging.prepare(dsn)
    pool = await create_pool(dsn, max_size=12)
    key = load_signing_key(signing_key_file(tmp_path))
    pair = f"pair-{uuid.uuid4()}"
    try:

        async def writer() -> None:
            for _ in range(10):
                async with pool.acquire() as conn, conn.transaction():
                    await outbox.append(conn, created_topics, [messaging.pair_created(pair), messaging.pair_created()])

        async def checkpointer() -> None:
            for _ in range(5):
                await write_checkpoint(pool, "pairing", key, force=True)

        await asyncio.gather(*(writer() for _ in range(8)), checkpointer())
        await write_checkpoint(pool, "pairing", key, force=True)
        result = await verify_service("pairing", dsn=dsn, bootstrap=None, topics=[], outbox=True)
        assert result.findings == []
        assert "outbox: clean; 160 chained events in 81 streams" in result.lines[0]
        async with pool.acquire() as conn:
            found = await checkpoints(conn)
        assert len(found) == 6
        async with pool.acquire() as conn:
            links, _ = await outbox_links(conn)
        for number, cp in found:
            assert check_latest_checkpoint(links, (number, cp))[0] == [], f"checkpoint {number} does not verify"
    finally:
        await pool.close()


async def test_events_the_relay_has_not_published_yet_are_not_a_finding_in_the_log(
    infra: Infra, written: Callable[[], Awaitable[History]], tmp_path: Path
) -> None:
    h = await written()
    async with h.pool.acquire() as conn, conn.transaction():
        await outbox.append(conn, h.topics, [messaging.pair_created(h.pair)])
    await write_checkpoint(h.pool, "pairing", load_signing_key(signing_key_file(tmp_path)), topics=h.topics)
    # the relay is behind: the newest checkpoint covers an event the log does not have yet
    result = await verify_service(
        "pairing", dsn=h.dsn, bootstrap=infra.kafka_bootstrap, topics=[h.topics.pairing, h.topics.checkpoints],
        outbox=True, checkpoint_topic=h.topics.checkpoints,
    )  # fmt: skip
    assert result.findings == []
    log_checkpoint = result.lines[1]
    assert log_checkpoint.startswith("log: checkpoint 1 ")  # the first, all of whose events are on the log
    assert result.lines[3].startswith("outbox: checkpoint 2 ")


class _KeyRecord(EventPayload):
    """Stands in for a key-distribution record (the crypto-shredding work's `tandem.keys.*`)."""

    TYPE: ClassVar[str] = "tandem.keys.TestKeyIssued"
    SOURCE: ClassVar[str] = pairing_events.SOURCE
    SUBJECT_FIELD: ClassVar[str] = "subject_id"

    subject_id: str


async def test_key_records_are_not_chained_and_may_be_deleted(created_topics: Topics, new_database: Any) -> None:
    dsn = await new_database("tamper_keys")
    await messaging.prepare(dsn)
    pool = await create_pool(dsn)
    subject = f"emp-{uuid.uuid4()}"
    try:
        async with pool.acquire() as conn, conn.transaction():
            await outbox.append(conn, created_topics, [Envelope.new(_KeyRecord(subject_id=subject))])
            await outbox.append(
                conn, created_topics, [messaging.pair_created(), Envelope.new(_KeyRecord(subject_id=subject))]
            )
        rows = await pool.fetch("SELECT event_type, hash, headers FROM outbox ORDER BY position")
        assert [(r["event_type"], r["hash"] is None) for r in rows] == [
            (_KeyRecord.TYPE, True),
            ("tandem.pairing.PairCreated", False),
            (_KeyRecord.TYPE, True),
        ]
        assert all(chain.HASH_HEADER not in dict(r["headers"]) for r in rows if r["hash"] is None)
        result = await verify_service("pairing", dsn=dsn, bootstrap=None, topics=[], outbox=True)
        assert result.findings == []
        assert "2 key records" in result.lines[0]
        await pool.execute("DELETE FROM outbox WHERE event_type = $1", _KeyRecord.TYPE)
        result = await verify_service("pairing", dsn=dsn, bootstrap=None, topics=[], outbox=True)
        assert result.findings == []
    finally:
        await pool.close()


async def test_an_idle_service_signs_no_checkpoints_of_its_own_checkpoints(
    written: Callable[[], Awaitable[History]], tmp_path: Path
) -> None:
    h = await written()  # six events and a checkpoint (with its event) written
    key = load_signing_key(signing_key_file(tmp_path))
    assert await write_checkpoint(h.pool, "pairing", key, topics=h.topics) is None  # only the checkpoint's event since
    async with h.pool.acquire() as conn, conn.transaction():
        await outbox.append(conn, h.topics, [messaging.pair_created(h.pair)])
    second = await write_checkpoint(h.pool, "pairing", key, topics=h.topics)
    assert second is not None
    assert second.events == 8  # the six, the first checkpoint's event, the new one
    assert await write_checkpoint(h.pool, "pairing", key, topics=h.topics) is None
