"""Transactional outbox: events are written in the same transaction as the state change; a relay
publishes them to Kafka.

Why the relay never tracks "id > last published": ids come from a sequence, and sequences are handed
out at insert time but rows become visible at commit time, in another order. A relay that remembers the
highest id it has seen skips a row whose transaction commits late. Here every row carries its own
`published_at`, and the relay selects the unpublished ones, so a late commit is simply picked up on the
next pass. Published rows are kept: they are the service's durable event history.

Several replicas may run the relay: one holds a Postgres advisory lock and publishes, the others wait
as hot standbys. That keeps per-aggregate order (one publisher, rows in commit-safe position order).
Should a relay die between the broker's acknowledgement and its commit (kill -9 of the active replica),
its rows are still unpublished though the broker has them. The next leader first reads the tail of each
partition it writes (after the last offset recorded in `producer_positions`, at most one pass long: the
dead leader was the only writer) and marks those it finds there published, instead of sending them
again (`reconcile`). Where that cannot be done (the broker does not answer in time), the rows are sent
again; consumers are idempotent by event id, so a duplicate on Kafka is still harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opentelemetry.trace import SpanKind

from shared import chain, personal
from shared.brokerguard import BrokerGuard, BrokerMismatch
from shared.db import Conn, connect
from shared.events import Envelope, encode
from shared.registry import owner_of
from shared.retry import Backoff, Streak
from shared.telemetry import current_trace_headers, log_context, tracer
from shared.topics import Topics

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "tandem_outbox"


#: The lock every append takes shared and a checkpoint takes exclusively (shared.tamper): a checkpoint's
#: position then covers only committed rows, none below it can commit later.
CHECKPOINT_LOCK = "tandem.chain.checkpoint"


async def append(conn: Conn, topics: Topics, events: Iterable[Envelope[Any]]) -> None:
    """Write events to the outbox inside the caller's transaction (each row names its envelope's tenant).

    Each row keeps the trace context current now (the span of the unit of work that writes it) as the
    CloudEvents distributed-tracing extension (`ce_traceparent`, `ce_tracestate`): the relay publishes it and
    the consumer continues the trace from it.

    Each event is chained to its stream's previous one (shared.chain): under a transaction-scoped advisory lock per
    stream (tenant, topic, key), the stream's last hash is read and the row gets `prev_hash` and `hash`, also kept in
    its headers (`ce_tandemprevhash`, `ce_tandemhash`, hex) so the relay publishes them as they are, with the row's
    position (`ce_tandemposition`). Two statements per append, whatever its size: the locks with the heads of all its
    streams and the rows' positions (one function, `outbox_chain_prepare`), then the rows. Key-distribution records
    (`tandem.keys.*`) are not chained."""
    trace_headers = [(name, value.encode()) for name, value in current_trace_headers()]
    encoded = []
    for env in events:
        topic = topics.for_source(env.source)
        rec = encode(env)
        cls = type(env.data)
        if cls.PERSONAL_FIELDS:  # personal fields go out encrypted under their subject's data key (shared.personal)
            data = env.data.model_dump(mode="json")  # before the chain: the hash is over what is written
            if await personal.seal(conn, topics, owner_of(env.source), env.tenant, env.id, cls, data):
                rec = replace(rec, value=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
        encoded.append((env, topic, rec))
    if not encoded:
        return
    streams = sorted({(env.tenant, topic, env.key) for env, topic, _ in encoded if chain.chained(env.type)})
    heads: dict[chain.Stream, bytes] = {}
    #: Chained rows take their positions here, after the locks, so that a stream's positions follow its chain and
    #: each chained event can say its position (`ce_tandemposition`, hashed): a checkpoint's coverage is then
    #: known from the log alone.
    positions: list[int] = []
    if streams:
        found = await conn.fetchrow(  # locks, then heads and positions under them (migration 0006)
            "SELECT positions, heads FROM outbox_chain_prepare($1::text[], $2::text[], $3::text[], $4::text[], $5)",
            [CHECKPOINT_LOCK, *(chain.stream_lock_key(s) for s in streams)],
            [s[0] for s in streams],
            [s[1] for s in streams],
            [s[2] for s in streams],
            len(encoded),
        )
        assert found is not None
        positions = sorted(found["positions"])
        heads = {s: bytes(h) if h is not None else chain.GENESIS for s, h in zip(streams, found["heads"], strict=True)}
    records = []
    for n, (env, topic, rec) in enumerate(encoded):
        position = positions[n] if positions else None
        rec_headers = [*rec.headers, *trace_headers]
        prev_hash: bytes | None = None
        own_hash: bytes | None = None
        if chain.chained(env.type) and position is not None:
            stream = (env.tenant, topic, env.key)
            prev_hash = heads[stream]
            own = [*rec.headers, (chain.POSITION_HEADER, str(position).encode())]
            own_hash = chain.chain_hash(prev_hash, chain.canonical(own, rec.key, rec.value))
            rec_headers.append(own[-1])
            heads[stream] = own_hash
            rec_headers += [(chain.PREV_HEADER, prev_hash.hex().encode()), (chain.HASH_HEADER, own_hash.hex().encode())]
        records.append(
            (
                env.id,
                env.type,
                topic,
                env.key,
                env.subject,
                [[name, value.decode()] for name, value in rec_headers],
                rec.value.decode(),
                env.time,
                env.tenant,
                prev_hash,
                own_hash,
                position,
            )
        )
    await conn.executemany(
        "INSERT INTO outbox (event_id, event_type, topic, key, subject, headers, payload, occurred_at, tenant, "
        "prev_hash, hash, position) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, COALESCE($12, nextval('outbox_position_seq')))",
        records,
    )


@dataclass
class RelayStats:
    published: int = 0
    batches: int = 0
    errors: int = 0
    is_leader: bool = False
    last_error: str = ""
    reconnects: int = 0
    #: Rows a dead leader had sent (the broker has them) but not marked, marked on takeover, not sent again.
    reconciled: int = 0


class OutboxRelay:
    """Publishes unpublished outbox rows, oldest first, and marks them published.

    It survives what the world does to it: a database restart (its lock and LISTEN connections are opened
    again, leadership is taken again), a broker that does not answer (capped, jittered back-off; readiness
    reports how long it has failed), and a broker that is not the one it wrote to (the guard, when given,
    is asked before each publish; see shared.brokerguard)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        dsn: str,
        name: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        backoff: Backoff | None = None,
        guard: BrokerGuard | None = None,
        publish_timeout: float = 30.0,
        tail: Callable[[], AIOKafkaConsumer] | None = None,
        service: str | None = None,
    ) -> None:
        self.pool = pool
        #: Makes a consumer (no group) to read the partitions' tail on takeover; None: no reconciliation.
        self.tail = tail
        #: The service it publishes for (log lines and spans say so).
        self.service = service
        #: How long one pass may wait for the broker's acknowledgements before it counts as failed.
        self.publish_timeout = publish_timeout
        self.producer = producer
        self.dsn = dsn
        self.name = name
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.backoff = backoff or Backoff(0.2, 10.0)
        self.guard = guard
        self.stats = RelayStats()
        #: The run of failed passes (readiness: "the relay cannot publish").
        self.streak = Streak()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    async def publish_pending(self) -> int:
        """One pass: publish up to `batch_size` unpublished rows. Returns how many were published."""
        if self.guard is not None:
            await self.guard.ensure_publishable()
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT position, event_id, topic, key, headers, payload FROM outbox "
                "WHERE published_at IS NULL ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch_size,
            )
            if not rows:
                return 0

            async def send_all() -> list[Any]:
                futures = []
                for row in rows:  # each row's headers carry the trace it was written in (ce_traceparent)
                    headers = [(name, value.encode()) for name, value in _headers(row["headers"])]
                    futures.append(
                        await self.producer.send(
                            row["topic"], value=row["payload"].encode(), key=row["key"].encode(), headers=headers
                        )
                    )
                return list(await asyncio.gather(*futures))

            # One span per pass, not per row: a span per event would cost the relay a good part of its throughput;
            # each event's own trace goes on in its consumer, from the traceparent its row kept.
            with tracer().start_as_current_span(
                "outbox publish",
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.batch.message_count": len(rows),
                    "tandem.service": self.service or "",
                },
            ):
                try:  # a send the broker never answers is a failure like any other (readiness says so), not a hang
                    acks = await asyncio.wait_for(send_all(), timeout=self.publish_timeout)
                except TimeoutError:
                    raise TimeoutError(
                        f"the broker did not acknowledge {len(rows)} events within {self.publish_timeout:.0f} s"
                    ) from None
            written: dict[tuple[str, int], tuple[int, str]] = {}
            for row, meta in zip(rows, acks, strict=True):
                tp = (meta.topic, meta.partition)
                if meta.offset > written.get(tp, (-1, ""))[0]:
                    written[tp] = (meta.offset, row["event_id"])
            await conn.execute(
                "UPDATE outbox SET published_at = clock_timestamp() WHERE position = ANY($1::bigint[])",
                [row["position"] for row in rows],
            )
            await _record_positions(conn, written)
        self.stats.published += len(rows)
        self.stats.batches += 1
        return len(rows)

    async def drain(self) -> int:
        total = 0
        while n := await self.publish_pending():
            total += n
        return total

    def wake(self) -> None:
        self._wake.set()

    def _connection_lost(self, *_: object) -> None:
        self.stats.is_leader = False  # the advisory lock went with the connection
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Until stopped: take leadership, then publish on NOTIFY and on a poll interval. A lost database
        connection (a restart) ends the term; the relay then connects again and takes leadership again."""
        if self.service is None:
            await self._run()
            return
        with log_context(service=self.service):  # its log lines name the service
            await self._run()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._lead()
                failures = 0
            except Exception as exc:  # the lock or LISTEN connection went away: connect again
                failures += 1
                self.stats.reconnects += 1
                self.streak.fail("connection", f"{type(exc).__name__}: {exc}")
                if failures == 1 or failures & (failures - 1) == 0:
                    log.warning("outbox relay %s lost its database connection (%s); reconnecting", self.name, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.backoff.delay(failures))

    async def _lead(self) -> None:
        lock_conn = await connect(self.dsn)
        listen_conn: asyncpg.Connection | None = None
        try:
            while not self._stopping.is_set():
                if await lock_conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", self.name):
                    break
                self.streak.clear()  # a standby has nothing to publish
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=2.0)
            if self._stopping.is_set():
                return
            self.stats.is_leader = True
            log.info("outbox relay %s is the active publisher", self.name)
            await self._reconcile_on_takeover()
            listen_conn = await connect(self.dsn)
            await listen_conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
            for held in (lock_conn, listen_conn):  # a lost connection ends the term at once, not at the next poll
                held.add_termination_listener(self._connection_lost)
            self._wake.set()  # rows may have come while we were away
            while not self._stopping.is_set():
                if lock_conn.is_closed() or listen_conn.is_closed():
                    raise ConnectionError("the lock or LISTEN connection was closed")
                self._wake.clear()
                try:
                    await self.drain()
                    self.streak.clear()
                except Exception as exc:
                    self.stats.errors += 1
                    attempts = self.streak.fail("publish", f"{type(exc).__name__}: {exc}")
                    self.stats.last_error = self.streak.error
                    if self.guard is not None and not isinstance(exc, BrokerMismatch):
                        self.guard.suspect()
                    if attempts == 1 or attempts & (attempts - 1) == 0:
                        log.warning("outbox relay %s: %s (attempt %d); retrying", self.name, exc, attempts)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), timeout=self.backoff.delay(attempts))
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
        finally:
            self.stats.is_leader = False
            for conn in (listen_conn, lock_conn):
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)

    async def _reconcile_on_takeover(self) -> None:
        if self.tail is None:
            return
        try:
            found = await asyncio.wait_for(self.reconcile(), timeout=self.publish_timeout)
        except Exception as exc:  # the rows are sent again instead: a duplicate, which consumers absorb
            log.warning("outbox relay %s could not read the log's tail on takeover (%s: %s); unpublished rows "
                        "are sent again", self.name, type(exc).__name__, exc)  # fmt: skip
            return
        if found:
            log.warning("outbox relay %s: %d events the previous leader had sent but not marked are in the log; "
                        "marked published, not sent again", self.name, found)  # fmt: skip

    async def reconcile(self) -> int:
        """Mark published the unpublished rows the broker already has: a leader that died between the broker's
        acknowledgement and its commit left them so. Only the tail of each partition can hold them (after the
        last offset recorded, and within the last `batch_size` records: the dead leader was its only writer and
        sent at most one pass). Returns how many were marked."""
        if self.tail is None:
            return 0
        # the dead leader's last pass was the oldest `batch_size` unpublished rows, as `publish_once` takes them
        pending = await self.pool.fetch(
            "SELECT event_id, topic FROM outbox WHERE published_at IS NULL ORDER BY position LIMIT $1", self.batch_size
        )
        if not pending:
            return 0
        wanted: dict[str, set[str]] = {}
        for row in pending:
            wanted.setdefault(row["topic"], set()).add(row["event_id"])
        known = {
            (r["topic"], r["partition"]): int(r["last_offset"])
            for r in await self.pool.fetch(
                "SELECT topic, partition, last_offset FROM producer_positions WHERE topic = ANY($1::text[])",
                list(wanted),
            )
        }
        tps = [TopicPartition(t, n) for t in sorted(wanted) for n in sorted(await self.producer.partitions_for(t))]
        log.info("outbox relay %s takes over %d unpublished events; reading the tail of %d partitions for those a "
                 "previous leader sent", self.name, len(pending), len(tps))  # fmt: skip
        consumer = self.tail()
        await consumer.start()
        found: dict[str, tuple[str, int, int]] = {}
        try:
            # Where the tail can begin: after the last offset recorded, and no more than one pass back from the end.
            # The end offsets only bound it from below: Tansu's can lag behind its log, so the read goes on until
            # the end offsets are reached and a poll finds nothing more (nobody writes meanwhile: we lead now).
            ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
            consumer.assign(tps)
            for tp in tps:
                known_next = known.get((tp.topic, tp.partition), -1) + 1
                consumer.seek(tp, max(known_next, ends[tp] - self.batch_size, 0))
            while True:
                batch = await consumer.getmany(timeout_ms=300)
                for tp, records in batch.items():
                    for record in records:
                        event_id = next((v.decode(errors="replace") for k, v in record.headers if k == "ce_id"), None)
                        if event_id in wanted[tp.topic]:
                            found[event_id] = (tp.topic, tp.partition, record.offset)
                if not batch and all([await consumer.position(tp) >= ends[tp] for tp in tps]):
                    break
        finally:
            await consumer.stop()
        if not found:
            return 0
        written: dict[tuple[str, int], tuple[int, str]] = {}
        for event_id, (topic, partition, offset) in found.items():
            if offset > written.get((topic, partition), (-1, ""))[0]:
                written[(topic, partition)] = (offset, event_id)
        async with self.pool.acquire() as conn, conn.transaction():
            marked = await conn.fetch(
                "UPDATE outbox SET published_at = clock_timestamp() "
                "WHERE event_id = ANY($1::text[]) AND published_at IS NULL RETURNING event_id",
                list(found),
            )
            await _record_positions(conn, written)
        self.stats.reconciled += len(marked)
        self.stats.published += len(marked)
        return len(marked)


async def _record_positions(conn: Conn, written: dict[tuple[str, int], tuple[int, str]]) -> None:
    """Keep, per partition, the offset and event id of the last record the relay wrote there (never moving back):
    what the broker guard checks a broker's log against, and where a new leader's reconciliation starts."""
    await conn.executemany(
        "INSERT INTO producer_positions (topic, partition, last_offset, event_id) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (topic, partition) DO UPDATE SET last_offset = EXCLUDED.last_offset, "
        "event_id = EXCLUDED.event_id, updated_at = clock_timestamp() "
        "WHERE EXCLUDED.last_offset > producer_positions.last_offset",
        [(t, p, o, e) for (t, p), (o, e) in written.items()],
    )


def _headers(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, str):
        value = json.loads(value)
    return [(str(name), str(v)) for name, v in value]


async def wait_published(pool: asyncpg.Pool, timeout: float = 10.0) -> None:
    """Test and tooling helper: wait until the outbox has no unpublished rows."""
    deadline = time.monotonic() + timeout
    while True:
        pending = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{pending} outbox rows still unpublished after {timeout}s")
        await asyncio.sleep(0.05)
