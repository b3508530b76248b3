"""Events that arrive before what they refer to: parked, not retried in place.

Topics are ordered each on its own, not against each other: the notifications service may read a
`SessionScheduled` (sessions topic) before the `PairCreated` (pairing topic) of its pair. A handler that
meets such an event raises `WaitFor(what)`, naming the id it waits for. The consumer then *parks* the
event in the `parked` table, with its effects rolled back, and moves on: the partition is not blocked.

- Order is kept per topic and key: while an event is parked, later events of the same topic and key are
  parked behind it (they may depend on it), and a queue is always re-applied from its head. One exception:
  a later event of the queue that *is* what the head waits for (its subject, an entity within the key, e.g.
  the `SessionScheduled` of a `SessionRescheduled` that came first in a log rebuilt after a broker loss)
  is its predecessor: it is applied at once, and then the queue.
- A parked queue is re-applied when an event whose key or subject is what its head waits for is applied
  (in the same transaction), and by a periodic sweep with back-off (in case what it waited for came in
  another shape).
- A head that still waits after its deadline becomes a dead letter of kind `unresolved`, with the reason;
  the events behind it are then tried in turn.

Several replicas may sweep: a queue is drained under a transaction-scoped advisory lock on
(consumer, topic, key), so one replica drains it and the others skip it.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import ConsumerRecord

from shared.db import Conn
from shared.deadletters import DeadLetter
from shared.events import Envelope, UndecodableEvent, decode
from shared.failures import TRANSIENT
from shared.personal import KeyNotFound, Keyring
from shared.retry import Backoff
from shared.telemetry import continuing

log = logging.getLogger(__name__)

Apply = Callable[[Conn, Envelope[Any]], Awaitable[None]]


class WaitFor(Exception):
    """Raise from a live handler when the event refers to `what` (an aggregate id), not known yet.

    Meant for side-effect handlers. A rebuild (`tandem replay`) runs projection handlers only, on the whole
    log; a projection handler should tolerate any order across topics rather than raise this."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(message)
        self.what = what


@dataclass
class Drained:
    """What re-applying parked queues did, for the caller's transaction."""

    applied: list[Envelope[Any]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    def provides(self) -> set[str]:
        return provided_by(self.applied)


def provided_by(applied: Iterable[Envelope[Any]]) -> set[str]:
    """The ids an applied event makes known: its key and its subject."""
    out: set[str] = set()
    for env in applied:
        out.add(env.key)
        out.add(env.subject)
    return out


def _headers(record: ConsumerRecord[Any, Any]) -> list[list[str]]:
    return [[name, base64.b64encode(value or b"").decode()] for name, value in record.headers or ()]


class Parking:
    def __init__(self, consumer: str, *, timeout: float, backoff: Backoff, keys: Keyring | None = None) -> None:
        #: The consumer's data keys: parked events are kept as they came, encrypted fields and all.
        self.keys = keys or Keyring()
        self.consumer = consumer
        self.timeout = timeout
        self.backoff = backoff

    async def any(self, conn: Conn) -> bool:
        return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM parked WHERE consumer = $1)", self.consumer))

    async def count(self, conn: Conn) -> int:
        n: int = await conn.fetchval("SELECT count(*) FROM parked WHERE consumer = $1", self.consumer)
        return n

    async def blocked(self, conn: Conn, queues: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (topic, key) queues have an event parked (a newcomer must go behind it)."""
        if not queues:
            return set()
        rows = await conn.fetch(
            "SELECT DISTINCT p.topic, p.key FROM parked p JOIN unnest($2::text[], $3::text[]) AS q(topic, key) "
            "ON p.topic = q.topic AND p.key = q.key WHERE p.consumer = $1",
            self.consumer,
            [t for t, _ in queues],
            [k for _, k in queues],
        )
        return {(r["topic"], r["key"]) for r in rows}

    async def heads(self, conn: Conn, queues: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """What the head of each of these queues waits for."""
        if not queues:
            return {}
        rows = await conn.fetch(
            "SELECT DISTINCT ON (p.topic, p.key) p.topic, p.key, p.waiting_for FROM parked p "
            "JOIN unnest($2::text[], $3::text[]) AS q(topic, key) ON p.topic = q.topic AND p.key = q.key "
            "WHERE p.consumer = $1 ORDER BY p.topic, p.key, p.seq",
            self.consumer,
            [t for t, _ in queues],
            [k for _, k in queues],
        )
        return {(r["topic"], r["key"]): r["waiting_for"] for r in rows}

    async def park(
        self, conn: Conn, record: ConsumerRecord[Any, Any], env: Envelope[Any], what: str, reason: str
    ) -> None:
        now = datetime.now(UTC)
        await conn.execute(
            'INSERT INTO parked (consumer, event_id, event_type, topic, partition, "offset", key, waiting_for, '
            "reason, headers, value, record_time, next_attempt_at, deadline) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
            "ON CONFLICT (consumer, event_id) DO NOTHING",
            self.consumer,
            env.id,
            env.type,
            record.topic,
            record.partition,
            record.offset,
            env.key,
            what,
            reason[:2000],
            _headers(record),
            record.value or b"",
            record.timestamp or 0,
            now + timedelta(seconds=self.backoff.delay(1)),
            now + timedelta(seconds=self.timeout),
        )
        await _outcome(conn, self.consumer, env.id, "parked")
        log.info("%s parked %s %s: %s", self.consumer, env.type, env.id, reason)

    async def queues_waiting_for(self, conn: Conn, ids: set[str]) -> list[tuple[str, str]]:
        if not ids:
            return []
        rows = await conn.fetch(
            "SELECT topic, key, min(seq) AS head FROM parked WHERE consumer = $1 AND waiting_for = ANY($2::text[]) "
            "GROUP BY topic, key ORDER BY head",
            self.consumer,
            list(ids),
        )
        return [(r["topic"], r["key"]) for r in rows]

    async def due_queues(self, conn: Conn, limit: int = 200) -> list[tuple[str, str]]:
        rows = await conn.fetch(
            "SELECT topic, key, min(seq) AS head FROM parked WHERE consumer = $1 "
            "AND (next_attempt_at <= clock_timestamp() OR deadline <= clock_timestamp()) "
            "GROUP BY topic, key ORDER BY head LIMIT $2",
            self.consumer,
            limit,
        )
        return [(r["topic"], r["key"]) for r in rows]

    async def wake(self, conn: Conn, ids: set[str], apply: Apply, *, rounds: int = 10) -> Drained:
        """Re-apply the queues waiting for any of `ids`, then those waiting for what that applied, and so on."""
        out = Drained()
        for _ in range(rounds):
            queues = await self.queues_waiting_for(conn, ids)
            if not queues:
                break
            step = Drained()
            for topic, key in queues:
                await self.drain(conn, topic, key, apply, step)
            out.applied += step.applied
            out.dead += step.dead
            ids = step.provides()
        return out

    async def drain(self, conn: Conn, topic: str, key: str, apply: Apply, out: Drained) -> None:
        """Re-apply one queue from its head until an event still waits (or the queue is empty)."""
        lock = f"tandem-parked:{self.consumer}:{topic}:{key}"
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", lock):
            return  # another replica is draining it
        rows = await conn.fetch(
            "SELECT * FROM parked WHERE consumer = $1 AND topic = $2 AND key = $3 ORDER BY seq FOR UPDATE",
            self.consumer,
            topic,
            key,
        )
        now = datetime.now(UTC)
        await self.keys.prepare(conn, [bytes(r["value"]) for r in rows])
        for row in rows:
            record = _record(row)
            try:
                env = decode(record.headers, record.value, self.keys)
            except (UndecodableEvent, KeyNotFound) as exc:  # the event's schema went away since it was parked
                await self._drop(conn, row)
                out.dead.append(DeadLetter(record, "undecodable", str(exc), row["event_id"], row["event_type"]))
                continue
            try:
                async with conn.transaction():
                    with continuing(record.headers):  # its trace goes on where it was parked
                        await apply(conn, env)
            except WaitFor as exc:
                if row["deadline"] <= now:
                    waited = (now - row["parked_at"]).total_seconds()
                    why = f"waited {waited:.0f} s for {exc.what} (deadline passed): {exc}"
                    log.warning("%s: %s %s unresolved: %s", self.consumer, env.type, env.id, why)
                    await self._drop(conn, row)
                    await _outcome(conn, self.consumer, env.id, "dead_lettered")
                    out.dead.append(DeadLetter(record, "unresolved", why, env.id, env.type))
                    continue
                attempts = row["attempts"] + 1
                await conn.execute(
                    "UPDATE parked SET waiting_for = $5, reason = $6, attempts = attempts + 1, next_attempt_at = $7 "
                    "WHERE consumer = $1 AND topic = $2 AND key = $3 AND seq >= $4",
                    self.consumer,
                    topic,
                    key,
                    row["seq"],
                    exc.what,
                    str(exc)[:2000],
                    now + timedelta(seconds=self.backoff.delay(attempts)),
                )
                return
            except TRANSIENT:
                raise
            except Exception as exc:
                log.warning("%s rejected parked %s %s: %s", self.consumer, env.type, env.id, exc)
                await self._drop(conn, row)
                await _outcome(conn, self.consumer, env.id, "dead_lettered")
                out.dead.append(DeadLetter(record, "rejected", f"{type(exc).__name__}: {exc}", env.id, env.type))
                continue
            await self._drop(conn, row)
            await _outcome(conn, self.consumer, env.id, "applied")
            out.applied.append(env)

    async def _drop(self, conn: Conn, row: Any) -> None:
        await conn.execute("DELETE FROM parked WHERE seq = $1", row["seq"])


async def _outcome(conn: Conn, consumer: str, event_id: str, outcome: str) -> None:
    await conn.execute(
        "UPDATE inbox SET outcome = $3, processed_at = clock_timestamp() WHERE consumer = $1 AND event_id = $2",
        consumer,
        event_id,
        outcome,
    )


def _record(row: Any) -> ConsumerRecord[Any, Any]:
    headers = [(name, base64.b64decode(value)) for name, value in row["headers"]]
    return ConsumerRecord(
        topic=row["topic"],
        partition=row["partition"],
        offset=row["offset"],
        timestamp=row["record_time"],
        timestamp_type=0,
        key=row["key"].encode(),
        value=row["value"],
        checksum=None,
        serialized_key_size=-1,
        serialized_value_size=len(row["value"]),
        headers=headers,
    )
