"""Is this the broker we wrote to and read from, with our topics as declared?

A Kafka restart that keeps its log needs nothing from us: clients reconnect and carry on. A broker that
comes back *without* its log (the local stack's Tansu keeps it in memory; a cluster rebuilt from scratch)
is different: our outbox says every event was published, our positions say where we were, and none of it
is there. The guard notices that from two facts the service keeps in its own database:

- `producer_positions`: the highest offset the relay saw acknowledged in each partition it writes;
- `consumer_positions`: the next offset the consumer will apply in each partition it reads.

A partition that now ends before either has lost its log. The guard also compares the topics with the
declared ones (missing, partition count, retention), since Tandem never lets a broker auto-create them.

What then happens is a setting (TANDEM_BROKER_LOSS):
- `alert` (the default, and production's): the relay publishes nothing into the wrong broker, readiness
  says why, an operator decides;
- `recover` (the local stack): create the declared topics, mark the kept outbox unpublished so the relay
  republishes it in order, forget the consumer positions and rejoin the group so that the consumer reads the
  new log from its start (its inbox drops what it has seen), and copy the kept dead letters to the new
  dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import OffsetOutOfRangeError

from shared.kafka_security import PLAINTEXT, KafkaSecurity
from shared.topics import Topics, describe, ensure_topics

log = logging.getLogger(__name__)

BROKER_LOSS_MODES = ("alert", "recover")


class BrokerMismatch(Exception):
    """The broker is not fit to publish to (log lost, topics missing or different); the reason says why."""


@dataclass
class GuardState:
    checked_at: float = 0.0
    reachable: bool = True
    problems: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    #: records in the consumed partitions not applied yet (end offset - our next offset), when known
    lag: int | None = None
    #: sum of our next offsets over the consumed partitions: it moves when the consumer makes progress
    progress: int | None = None
    #: lag per consumed partition, (topic, partition) -> records not applied yet
    partition_lag: dict[tuple[str, int], int] = field(default_factory=dict)
    recoveries: int = 0
    last_recovery: str = ""


class BrokerGuard:
    def __init__(
        self,
        *,
        service: str,
        bootstrap: str,
        topics: Topics,
        declared: list[str],
        consumer: str | None,
        consumed: list[str],
        pool: asyncpg.Pool,
        mode: str = "alert",
        security: KafkaSecurity = PLAINTEXT,
        max_age: float = 5.0,
    ) -> None:
        if mode not in BROKER_LOSS_MODES:
            raise ValueError(f"TANDEM_BROKER_LOSS must be one of {', '.join(BROKER_LOSS_MODES)}, not {mode!r}")
        self.service = service
        self.bootstrap = bootstrap
        self.topics = topics
        self.declared = declared
        self.consumer = consumer
        self.consumed = consumed
        self.pool = pool
        self.mode = mode
        self.security = security
        self.max_age = max_age
        self.state = GuardState()
        #: Run by recover() around the reset of the database: before (stop the consumer), after (start it
        #: again, republish the dead letters, wake the relay). Set by the service host.
        self.before_reset: list[Callable[[], Awaitable[Any]]] = []
        self.after_reset: list[Callable[[], Awaitable[Any]]] = []
        self._heal_lock = asyncio.Lock()
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._suspect = True

    def suspect(self) -> None:
        """Something failed against the broker: check again before the next publish."""
        self._suspect = True

    async def close(self) -> None:
        await self._drop_clients()

    async def _drop_clients(self) -> None:
        for client in (self._admin, self._offsets):
            if client is not None:
                with contextlib.suppress(Exception):
                    await (client.close() if isinstance(client, AIOKafkaAdminClient) else client.stop())
        self._admin = self._offsets = None

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._offsets is None:
            await self._drop_clients()
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap, client_id=f"tandem-{self.service}-guard", request_timeout_ms=5000,
                **self.security.aiokafka(),
            )  # fmt: skip
            offsets = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, client_id=f"tandem-{self.service}-guard", group_id=None,
                enable_auto_commit=False, auto_offset_reset="none", request_timeout_ms=5000, fetch_max_wait_ms=100,
                max_partition_fetch_bytes=64 * 1024, **self.security.aiokafka(),
            )  # fmt: skip
            try:
                await asyncio.wait_for(admin.start(), 10)
                await asyncio.wait_for(offsets.start(), 10)
            except BaseException:
                with contextlib.suppress(Exception):
                    await admin.close()
                with contextlib.suppress(Exception):
                    await offsets.stop()
                raise
            self._admin, self._offsets = admin, offsets
        return self._admin, self._offsets

    async def check(self) -> GuardState:
        """Look at the broker now. Never raises: an unreachable broker is a state like the others."""
        async with self._lock:
            state = GuardState(recoveries=self.state.recoveries, last_recovery=self.state.last_recovery)
            try:
                await asyncio.wait_for(self._check(state), 20)
            except Exception as exc:
                await self._drop_clients()
                state.reachable = False
                state.problems = [f"broker {self.bootstrap} unreachable: {type(exc).__name__}: {exc}".rstrip(": ")]
            state.checked_at = time.monotonic()
            self.state = state
            self._suspect = bool(state.problems)
            return state

    async def _check(self, state: GuardState) -> None:
        admin, offsets = await self._clients()
        produced = await self.pool.fetch("SELECT topic, partition, last_offset, event_id FROM producer_positions")
        names = sorted(set(self.declared) | {r["topic"] for r in produced})
        counts, state.problems = await describe(admin, self.topics, names)
        consumed = (
            await self.pool.fetch(
                "SELECT topic, partition, next_offset, last_event_id FROM consumer_positions WHERE consumer = $1",
                self.consumer,
            )
            if self.consumer
            else []
        )
        ours = {r["topic"] for r in produced} | set(self.consumed)
        partitions = [TopicPartition(t, p) for t in sorted(ours) for p in range(counts.get(t, 0))]
        ends: dict[TopicPartition, int] = await offsets.end_offsets(partitions) if partitions else {}
        # Where the log should hold a record we know (the last we wrote, the last we applied). A partition
        # that ends before it is suspect; the record itself decides (some brokers report a low end offset:
        # Tansu counts the last batch as one record).
        expected: dict[TopicPartition, tuple[int, str | None, str]] = {}
        for r in produced:
            tp = TopicPartition(r["topic"], r["partition"])
            if ends.get(tp, 0) <= r["last_offset"]:
                expected[tp] = (r["last_offset"], r["event_id"], "we wrote")
        positions = {(r["topic"], r["partition"]): r["next_offset"] for r in consumed}
        for r in consumed:
            tp = TopicPartition(r["topic"], r["partition"])
            if r["next_offset"] > 0 and ends.get(tp, 0) < r["next_offset"] and tp not in expected:
                expected[tp] = (r["next_offset"] - 1, r["last_event_id"], "we had read")
        if expected:
            found = await _records_at(offsets, {tp: off for tp, (off, _, _) in expected.items() if tp in ends})
            for tp, (offset, event_id, what) in sorted(expected.items()):
                there = found.get(tp)
                if there is None:
                    state.lost.append(f"{tp.topic}/{tp.partition} has no record at offset {offset}, where {what} one")
                elif event_id is not None and there != event_id:
                    state.lost.append(f"{tp.topic}/{tp.partition} holds another event at offset {offset} than {what}")
        if state.lost:
            state.problems.append("the broker lost its log: " + "; ".join(state.lost[:5]))
        consumed_tps = [tp for tp in ends if tp.topic in self.consumed]
        state.partition_lag = {
            (tp.topic, tp.partition): max(0, ends[tp] - positions.get((tp.topic, tp.partition), 0))
            for tp in consumed_tps
        }
        state.lag = sum(state.partition_lag.values())
        state.progress = sum(positions.get((tp.topic, tp.partition), 0) for tp in consumed_tps)

    async def ensure_publishable(self) -> None:
        """Before the relay publishes: check (when the last check is old or something failed since) and, in
        `recover` mode, repair a broker that lost its log. Raises BrokerMismatch when it is not fit."""
        if not self._suspect and time.monotonic() - self.state.checked_at < self.max_age:
            return
        state = await self.heal()
        if state.problems:
            raise BrokerMismatch("; ".join(state.problems))

    async def heal(self) -> GuardState:
        """Check; in `recover` mode, repair what a broker that lost its log lacks, and check again."""
        async with self._heal_lock:
            state = await self.check()
            if state.problems and state.reachable and self.mode == "recover":
                await self.recover()
                state = await self.check()
            return state

    async def recover(self) -> str:
        """Local stack only: make a new, empty broker carry on where the lost one stopped."""
        created = await ensure_topics(self.bootstrap, self.topics, self.declared, security=self.security)
        lost = self.state.lost
        summary = f"created topics {', '.join(created)}" if created else "topics present"
        if lost:
            for hook in self.before_reset:
                await hook()
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    republish = await conn.fetchval(
                        "WITH r AS (UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL "
                        "RETURNING 1) SELECT count(*) FROM r"
                    )
                    await conn.execute("DELETE FROM producer_positions")
                    if self.consumer:
                        await conn.execute("DELETE FROM consumer_positions WHERE consumer = $1", self.consumer)
            finally:
                for hook in self.after_reset:
                    await hook()
            summary += f"; {republish} outbox events to republish; consumer positions reset"
        self.state.recoveries += 1
        self.state.last_recovery = summary
        log.warning("%s: broker recovery (%s): %s", self.service, "; ".join(lost[:3]) or "topics", summary)
        self._suspect = True
        return summary


async def _records_at(consumer: AIOKafkaConsumer, wanted: dict[TopicPartition, int]) -> dict[TopicPartition, str]:
    """The event id (ce_id header, or "" when it has none) of the record at each wanted offset that exists."""
    found: dict[TopicPartition, str] = {}
    if not wanted:
        return found
    consumer.assign(list(wanted))
    for tp, offset in wanted.items():
        consumer.seek(tp, offset)
    deadline = time.monotonic() + 3
    while len(found) < len(wanted) and time.monotonic() < deadline:
        try:
            batch = await consumer.getmany(timeout_ms=300)
        except OffsetOutOfRangeError as exc:  # Kafka says so outright; Tansu just returns nothing
            gone = set(exc.args[0]) if exc.args and isinstance(exc.args[0], dict) else set(wanted)
            rest = [tp for tp in wanted if tp not in gone and tp not in found]
            consumer.assign(rest)
            for tp in rest:
                consumer.seek(tp, wanted[tp])
            if not rest:
                break
            continue
        for tp, records in batch.items():
            for record in records:
                if record.offset == wanted.get(tp) and tp not in found:
                    found[tp] = next((v.decode(errors="replace") for k, v in record.headers or () if k == "ce_id"), "")
    consumer.assign([])
    return found
