"""Rebuild a service's projection from the Kafka log into a fresh schema, then swap it in.

How the live projection keeps serving and the swap loses nothing and applies nothing twice:

1. The rebuild creates `projection_rebuild_<stamp>` with the service's projection migrations and
   reads the topics the service consumes from the beginning with a plain consumer (no group, big
   fetches), applying the replayable handlers in large transactions, deduplicating by event id like
   the live inbox does, skipping what the live consumer would dead-letter.
2. It catches up to the live consumer's tracking positions (recorded by the live consumer in the
   same transaction as each projection update), never beyond them, while the live consumer goes on.
3. To swap, it takes the projection lock exclusively (every live batch holds it shared), so no live
   batch is in flight and the positions stand still; reads the few events still between its
   position and the live one; checks the positions are equal; renames the schemas and bumps the
   projection generation, in one transaction. Live consumers see the new generation in their next
   batch, drop their connections (whose cached statements name the old tables) and go on from their
   own committed offsets: no gap, no double application.

`until` rebuilds the projection as it stood at a time, from the log alone (no swap).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared import personal
from shared.consumer import PROJECTION_LOCK, TRANSIENT, Handlers
from shared.db import PROJECTION_SCHEMA, Migration, apply_projection_migrations, connect
from shared.events import Envelope, UndecodableEvent, decode
from shared.failures import DATABASE_UNAVAILABLE
from shared.kafka_security import PLAINTEXT, KafkaSecurity
from shared.personal import KeyNotFound, Keyring

log = logging.getLogger(__name__)

Positions = dict[tuple[str, int], int]


@dataclass
class ReplayStats:
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    undecodable: int = 0
    ignored: int = 0
    after_until: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.read / elapsed if elapsed > 0 else 0.0


class PositionsDiverged(RuntimeError):
    pass


class BulkFold(Protocol):
    """A projection's bulk replay path (`Handlers.bulk` makes one): it folds events in memory by the service's
    own domain and writes exactly the rows its replayable handlers write for the same events."""

    def handles(self, event_type: str) -> bool: ...

    def apply(self, env: Envelope[Any]) -> bool:
        """Fold one event; False where the per-event handler would have been rejected."""
        ...

    async def flush(self, conn: asyncpg.Connection, schema: str) -> None:
        """Write everything folded so far into `schema` (replacing what an earlier flush wrote)."""
        ...


class LogReader:
    """Reads partitions from given offsets up to target offsets, in big batches."""

    def __init__(self, bootstrap: str, *, max_records: int = 5000, security: KafkaSecurity = PLAINTEXT) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            **security.aiokafka(),
            enable_auto_commit=False,
            # assign() starts an offset reset that can race our seek(): should it win, "earliest" re-reads
            # (duplicates are dropped by event id) where the default "latest" would skip a whole partition
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=16 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            max_poll_records=max_records,
        )
        self.max_records = max_records

    async def __aenter__(self) -> LogReader:
        try:
            await self.consumer.start()
        except BaseException:  # a broker that does not answer: close the client rather than leave it to the GC
            await self.consumer.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def partitions(self, topics: list[str]) -> list[tuple[str, int]]:
        """Every partition of `topics`, from a fresh metadata request (a new client's cache may lack some)."""
        metadata = await self.consumer._client.fetch_all_metadata()
        out: list[tuple[str, int]] = []
        for topic in topics:
            parts = metadata.partitions_for_topic(topic)
            if not parts:
                raise LookupError(f"topic {topic} does not exist")
            out.extend((topic, p) for p in sorted(parts))
        return out

    async def end_offsets(self, tps: list[tuple[str, int]]) -> Positions:
        ends = await self.consumer.end_offsets([TopicPartition(t, p) for t, p in tps])
        return {(tp.topic, tp.partition): off for tp, off in ends.items()}

    async def read(self, start: Positions, target: Positions) -> AsyncIterator[list[ConsumerRecord[Any, Any]]]:
        """Batches of records from `start` (inclusive) to `target` (exclusive) per partition."""
        todo = {tp: off for tp, off in target.items() if off > start.get(tp, 0)}
        if not todo:
            return
        tps = [TopicPartition(t, p) for t, p in todo]
        self.consumer.assign(tps)
        for tp in tps:
            self.consumer.seek(tp, start.get((tp.topic, tp.partition), 0))
        while todo:
            batch = await self.consumer.getmany(
                *[TopicPartition(t, p) for t, p in todo], timeout_ms=500, max_records=self.max_records
            )
            out: list[ConsumerRecord[Any, Any]] = []
            for tp, records in batch.items():
                key = (tp.topic, tp.partition)
                limit = todo.get(key)
                if limit is None:
                    continue
                out.extend(r for r in records if r.offset < limit)
                if records and records[-1].offset + 1 >= limit:
                    todo.pop(key, None)
            if out:
                yield out

    async def read_to_end(
        self, tps: list[tuple[str, int]], *, idle_ms: int = 300
    ) -> AsyncIterator[list[ConsumerRecord[Any, Any]]]:
        """Everything on the partitions up to their end. The end offsets the broker reports are only a lower
        bound (Tansu's ListOffsets can lag behind records it already serves): read until past them and until
        two polls in a row bring nothing."""
        parts = [TopicPartition(t, p) for t, p in tps]
        if not parts:
            return
        self.consumer.assign(parts)
        await self.consumer.seek_to_beginning(*parts)
        idle = 0
        while True:
            batch = await self.consumer.getmany(*parts, timeout_ms=idle_ms, max_records=self.max_records)
            records = [r for rs in batch.values() for r in rs]
            if records:
                idle = 0
                yield records
                continue
            idle += 1
            if idle < 2:
                continue
            ends = await self.consumer.end_offsets(parts)
            positions = {tp: await self.consumer.position(tp) for tp in ends}
            if all(positions[tp] >= off for tp, off in ends.items()):
                return


async def read_keys(bootstrap: str, topic: str, *, security: KafkaSecurity = PLAINTEXT) -> personal.StaticKeys:
    """The key topic read to its end, as keys in memory: what a tool decodes the log with, needing no database."""
    records: list[dict[str, Any]] = []
    async with LogReader(bootstrap, security=security) as reader:
        tps = await reader.partitions([topic])
        async for batch in reader.read_to_end(tps):
            for r in batch:
                record = personal.parse_key_record(r.value)
                if record is None:
                    log.warning("key topic %s:%s@%s is not a key record; left out", r.topic, r.partition, r.offset)
                    continue
                records.append(record)
    return personal.keys_from_records(records)


class Rebuild:
    def __init__(
        self,
        service: str,
        *,
        dsn: str,
        bootstrap: str,
        topics: list[str],
        handlers: Handlers,
        migrations: list[Migration],
        schema: str | None = None,
        until: datetime | None = None,
        batch_size: int = 5000,
        progress: Callable[[ReplayStats, int], None] | None = None,
        bulk: bool = True,
        security: KafkaSecurity = PLAINTEXT,
    ) -> None:
        self.service = service
        self.dsn = dsn
        self.bootstrap = bootstrap
        self.security = security
        self.topics = topics
        self.handlers = handlers
        self.migrations = [m for m in migrations if m.schema == PROJECTION_SCHEMA]
        self.schema = schema or f"projection_rebuild_{datetime.now(UTC):%Y%m%d%H%M%S}"
        self.until = until
        self.batch_size = batch_size
        self.progress = progress
        self.positions: Positions = {}
        self.seen: set[str] = set()
        self.stats = ReplayStats()
        #: The service's own data keys (its mirror of the key topic): a replay needs no other service.
        self.keys = Keyring()
        self._conn: asyncpg.Connection | None = None
        #: the projection's bulk path (in-memory fold + COPY) when it has one; else the handlers, per event
        self.bulk: BulkFold | None = handlers.bulk() if bulk and handlers.bulk is not None else None

    @property
    def conn(self) -> asyncpg.Connection:
        assert self._conn is not None, "call prepare() first"
        return self._conn

    async def prepare(self) -> None:
        self._conn = await connect(self.dsn, search_path=f'"{self.schema}", public')
        async with self.conn.transaction():
            await self.conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            await apply_projection_migrations(self.conn, self.migrations, self.schema)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def live_positions(self, conn: asyncpg.Connection | None = None) -> Positions:
        rows = await (conn or self.conn).fetch(
            "SELECT topic, partition, next_offset FROM public.consumer_positions WHERE consumer = $1", self.service
        )
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows if r["topic"] in self.topics}

    async def catch_up(self, reader: LogReader, target: Positions, total: int | None = None) -> None:
        """Apply what lies between our positions and `target` (the live consumer's, when swapping)."""
        await self._consume(reader.read(self.positions, target), total or 0)
        for key, off in target.items():  # empty tails (e.g. compacted or all filtered) still count as read
            self.positions[key] = max(self.positions.get(key, 0), off)

    async def _consume(self, batches: AsyncIterator[list[ConsumerRecord[Any, Any]]], total: int) -> None:
        """Apply batches, advance positions, report progress; the bulk path writes its tables at the end.

        A bulk fold keeps every row alive until it is written: the cyclic collector would walk them all
        again and again for nothing (events and rows form no cycles), so it is paused meanwhile."""
        paused = self.bulk is not None and gc.isenabled()
        if paused:
            gc.disable()
        try:
            async for records in batches:
                await self._apply(records)
                for r in records:
                    key = (r.topic, r.partition)
                    self.positions[key] = max(self.positions.get(key, 0), r.offset + 1)
                if self.progress is not None:
                    self.progress(self.stats, max(total, self.stats.read))
            if self.bulk is not None:
                await self.bulk.flush(self.conn, self.schema)
        finally:
            if paused:
                gc.enable()

    async def _apply(self, records: list[ConsumerRecord[Any, Any]]) -> None:
        self.stats.read += len(records)
        batch: list[Envelope[Any]] = []
        missing = await self.keys.prepare_ids(self.conn, personal.key_ids_in(r.value for r in records))
        if missing and not await self.keys.wait_for(self.conn, missing, timeout=10.0):
            raise KeyNotFound(missing)  # the service's mirror of the key topic is behind: a replay later finds them
        for record in records:
            try:
                env = decode(record.headers, record.value, self.keys)
            except UndecodableEvent:
                self.stats.undecodable += 1
                continue
            if env.id in self.seen:
                self.stats.duplicates += 1
                continue
            self.seen.add(env.id)
            if self.until is not None and env.time > self.until:
                self.stats.after_until += 1
                continue
            batch.append(env)
        if self.bulk is not None:
            for env in batch:
                if not self.bulk.handles(env.type):
                    self.stats.ignored += 1
                elif self.bulk.apply(env):
                    self.stats.applied += 1
                else:
                    self.stats.rejected += 1
            return
        for start in range(0, len(batch), self.batch_size):
            chunk = batch[start : start + self.batch_size]
            applied = rejected = 0
            try:
                async with self.conn.transaction():
                    for env in chunk:
                        applied += await self._run(env)
            except TRANSIENT:
                raise
            except Exception:  # a handler rejected an event: redo the chunk, one savepoint per event
                applied = 0
                async with self.conn.transaction():
                    for env in chunk:
                        try:
                            async with self.conn.transaction():
                                applied += await self._run(env)
                        except TRANSIENT:
                            raise
                        except Exception as exc:  # the live consumer dead-lettered this one too
                            log.info("replay skips %s %s: %s", env.type, env.id, exc)
                            rejected += 1
            self.stats.applied += applied
            self.stats.rejected += rejected
            self.stats.ignored += len(chunk) - applied - rejected

    async def _run(self, env: Envelope[Any]) -> int:
        handlers = self.handlers.for_type(env.type, replay=True)
        for handler in handlers:
            await handler(self.conn, env)
        return 1 if handlers else 0

    async def run_to_end(self) -> None:
        """Rebuild from the whole log as it is now (or up to `until`): no swap."""
        async with LogReader(self.bootstrap, security=self.security) as reader:
            tps = await reader.partitions(self.topics)
            total = sum((await reader.end_offsets(tps)).values())
            await self._consume(reader.read_to_end(tps), total)

    async def rebuild_and_swap(self, *, keep_old: bool = True) -> str:
        """Catch up with the live consumer while it runs, then swap atomically. Returns the old schema."""
        async with self._level_with_live() as lock:
            old = f"projection_old_{datetime.now(UTC):%Y%m%d%H%M%S%f}"
            await lock.execute(f'ALTER SCHEMA "{PROJECTION_SCHEMA}" RENAME TO "{old}"')
            await lock.execute(f'ALTER SCHEMA "{self.schema}" RENAME TO "{PROJECTION_SCHEMA}"')
            generation = await lock.fetchval(
                "UPDATE public.projection_state SET generation = generation + 1, swapped_at = now(), "
                "history = history || jsonb_build_array(jsonb_build_object('at', now(), 'old', $1::text, "
                "'events', $2::bigint)) RETURNING generation",
                old,
                self.stats.applied,
            )
            await lock.execute("SELECT pg_notify('tandem_projection', $1)", str(generation))
            if not keep_old:
                await lock.execute(f'DROP SCHEMA "{old}" CASCADE')
        self.schema = PROJECTION_SCHEMA
        return old

    @contextlib.asynccontextmanager
    async def _level_with_live(self) -> AsyncIterator[asyncpg.Connection]:
        """Chase the live consumer while it runs; then, in a transaction on the connection yielded, hold it (it
        takes the projection lock shared for each batch) and apply the rest, so that the rebuild stands exactly
        where the live projection stands while the caller's block runs."""
        async with LogReader(self.bootstrap, security=self.security) as reader:
            for _ in range(100):  # chase the live consumer until the remaining gap is small
                target = await self.live_positions()
                gap = sum(max(0, off - self.positions.get(tp, 0)) for tp, off in target.items())
                if gap <= self.batch_size:
                    break
                await self.catch_up(reader, target, sum(target.values()))
            lock = await connect(self.dsn)
            try:
                async with lock.transaction():
                    await lock.execute("SELECT pg_advisory_xact_lock(hashtext($1))", PROJECTION_LOCK)
                    target = await self.live_positions(lock)
                    await self.catch_up(reader, target, sum(target.values()))
                    mismatch = {
                        tp: (self.positions.get(tp, 0), off)
                        for tp, off in target.items()
                        if self.positions.get(tp, 0) != off
                    }
                    if mismatch:
                        raise PositionsDiverged(f"rebuild and live positions differ: {mismatch}")
                    yield lock
            finally:
                await lock.close()

    async def rebuild_and_verify(self) -> list[TableDiff]:
        """An audit of the live projection: rebuild it from the log while the live one runs, hold the live
        consumer at the point both have reached, compare them row by row, then drop the rebuild. No differences:
        the live projection is exactly what the log says."""
        try:
            async with self._level_with_live():
                return await diff(self.dsn, self.schema)
        finally:  # also when it failed (the database or broker went away): an audit leaves nothing behind
            with contextlib.suppress(*DATABASE_UNAVAILABLE):
                drop = await connect(self.dsn)
                try:
                    await drop.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
                finally:
                    await drop.close()


@dataclass(frozen=True)
class TableDiff:
    table: str
    only_live: int
    only_other: int
    examples: list[str]


async def diff(dsn: str, other_schema: str, live_schema: str = PROJECTION_SCHEMA, limit: int = 5) -> list[TableDiff]:
    """Compare every table of two projection schemas row by row (as multisets)."""
    conn = await connect(dsn)
    try:
        tables = [
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
                live_schema,
            )
        ]
        other = {
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", other_schema
            )
        }
        out = []
        for table in tables:
            if table not in other:
                out.append(TableDiff(table, -1, -1, [f"table missing in {other_schema}"]))
                continue
            a, b = f'"{live_schema}"."{table}"', f'"{other_schema}"."{table}"'
            only_live = await conn.fetch(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}")
            only_other = await conn.fetch(f"SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}")
            if only_live or only_other:
                examples = [f"only in {live_schema}: {dict(r)}" for r in only_live[:limit]]
                examples += [f"only in {other_schema}: {dict(r)}" for r in only_other[:limit]]
                out.append(TableDiff(table, len(only_live), len(only_other), examples))
        for table in sorted(other - set(tables)):
            out.append(TableDiff(table, -1, -1, [f"table missing in {live_schema}"]))
        return out
    finally:
        with contextlib.suppress(Exception):
            await conn.close()
