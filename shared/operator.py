"""What an operator's tools read and do (`tandem dlq`, `tandem status`): dead letters in a service's database,
listed, shown and redriven; a service's outbox backlog, consumer lag and readiness.

A redrive re-publishes a dead letter's record, as it was (key, headers, value), to its original topic, so that
the consumer takes it again after the cause was fixed. It is idempotent because the inbox is: in the same
transaction as marking the row `redriven`, the inbox entry that recorded the event as dead-lettered is removed,
so the consumer applies the next copy it meets and any further copy (a second redrive) is a duplicate. An
event the consumer applied meanwhile (its inbox entry says applied) is not removed, so a redrive of it
changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.db import connect, shown
from shared.kafka_security import PLAINTEXT, KafkaSecurity

STATUSES = ("dead", "redriven")
#: A header on a redriven copy: the dead letter it came from (`<service>/<id>`).
REDRIVE_HEADER = "tandem_redrive"


class OperatorError(Exception):
    """An operator's request that cannot be done as asked: the message says why and what to do."""


@dataclass(frozen=True)
class DeadLetterId:
    service: str
    id: int

    def __str__(self) -> str:
        return f"{self.service}/{self.id}"


def parse_id(text: str, service: str | None) -> tuple[str | None, int]:
    """`12` or `sessions/12` (the form `tandem dlq list` shows); the service part wins over --service."""
    named, _, number = text.rpartition("/")
    if not number.isdigit():
        raise OperatorError(
            f"{text!r} is not a dead letter id (a number, or service/number as `tandem dlq list` shows)"
        )
    if named and service and named != service:
        raise OperatorError(f"{text!r} names service {named}, but --service is {service}")
    return (named or service), int(number)


async def _connect(dsn: str) -> asyncpg.Connection:
    try:
        return await asyncio.wait_for(connect(dsn), 15)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        raise OperatorError(f"database {shown(dsn)} unreachable: {type(exc).__name__}: {exc}".rstrip(": ")) from None


_COLUMNS = (
    'id, consumer, fingerprint, event_id, event_type, kind, error, topic, partition, "offset", record_time, '
    "key, headers, value IS NULL AS reference, size, dead_at, status, redriven_at, redriven_by, redrives, history"
)


async def list_dead_letters(dsn: str, *, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest dead letters first (without their values)."""
    if status is not None and status not in STATUSES:
        raise OperatorError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    conn = await _connect(dsn)
    try:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM dead_letters WHERE ($1::text IS NULL OR status = $1) ORDER BY id DESC LIMIT $2",
            status,
            limit,
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def find_dead_letter(dsn: str, dead_id: int) -> dict[str, Any] | None:
    """The whole record of one dead letter, its value included (None: no such id)."""
    conn = await _connect(dsn)
    try:
        row = await conn.fetchrow(f"SELECT {_COLUMNS}, value FROM dead_letters WHERE id = $1", dead_id)
    finally:
        await conn.close()
    return None if row is None else dict(row)


def presented(row: dict[str, Any]) -> dict[str, Any]:
    """A dead letter as `tandem dlq show` prints it: headers decoded, the payload as JSON (or text, or base64),
    or, for a record only a reference is kept of, where to fetch it."""
    out = {k: v for k, v in row.items() if k not in ("value", "key", "headers", "history")}
    out["key"] = _text(row.get("key"))
    out["headers"] = {
        name: _text(base64.b64decode(value)) if value is not None else None for name, value in row["headers"]
    }
    if row["reference"]:
        out["payload"] = None
        out["fetch"] = fetch_hint(row)
    else:
        out["payload"] = _payload(row.get("value"))
    out["history"] = row["history"]
    return out


def fetch_hint(row: dict[str, Any]) -> str:
    return (
        f"only a reference is kept ({row['size']} bytes): fetch the record from topic {row['topic']} partition "
        f"{row['partition']} offset {row['offset']}, e.g. `kcat -C -b $KAFKA_BOOTSTRAP_SERVERS -t {row['topic']} "
        f"-p {row['partition']} -o {row['offset']} -c 1`"
    )


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value).decode()


def _payload(value: bytes | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except (UnicodeDecodeError, ValueError):
        return _text(value)


@dataclass
class Redriven:
    id: int
    topic: str
    partition: int
    offset: int
    #: Whether the consumer had the event as dead-lettered (else it applied it already, or has no event id).
    reopened: bool
    again: bool


async def redrive(
    dsn: str,
    service: str,
    ids: Sequence[int],
    *,
    bootstrap: str,
    by: str,
    security: KafkaSecurity = PLAINTEXT,
) -> list[Redriven]:
    """Re-publish each dead letter to its original topic and mark it redriven (see the module's docstring).
    Checks every id first: an unknown one, or one kept only as a reference, refuses the whole request."""
    conn = await _connect(dsn)
    try:
        rows = {r["id"]: r for r in await conn.fetch(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ANY($1)", ids)}
        unknown = [i for i in ids if i not in rows]
        if unknown:
            raise OperatorError(
                f"no dead letter {', '.join(f'{service}/{i}' for i in unknown)} in {service}'s database "
                "(`tandem dlq list` shows them)"
            )
        for i in ids:
            if rows[i]["reference"]:
                raise OperatorError(f"dead letter {service}/{i} cannot be redriven: {fetch_hint(dict(rows[i]))}")
            if rows[i]["event_id"] is None:
                raise OperatorError(
                    f"dead letter {service}/{i} cannot be redriven: it is not an event ({rows[i]['kind']}: "
                    f"{rows[i]['error']}), so no consumer can apply it, and a copy on {rows[i]['topic']} would reach "
                    "every consumer of that topic as new poison; it stays dead. Have its producer send the event again."
                )
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, client_id="tandem-redrive", acks="all", request_timeout_ms=20_000,
            **security.aiokafka(),
        )  # fmt: skip
        try:
            await asyncio.wait_for(producer.start(), 30)
        except Exception as exc:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise OperatorError(f"broker {bootstrap} does not answer: {type(exc).__name__}: {exc}") from None
        done: list[Redriven] = []
        try:
            for i in dict.fromkeys(ids):
                done.append(await _redrive_one(conn, producer, service, i, by))
        finally:
            await producer.stop()
        return done
    finally:
        await conn.close()


async def _redrive_one(conn: asyncpg.Connection, producer: AIOKafkaProducer, service: str, i: int, by: str) -> Redriven:
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT consumer, fingerprint, topic, key, headers, value, status FROM dead_letters WHERE id = $1 "
            "FOR UPDATE",
            i,
        )
        assert row is not None
        reopened = await conn.fetchval(
            "DELETE FROM inbox WHERE consumer = $1 AND event_id = $2 AND outcome = 'dead_lettered' RETURNING true",
            row["consumer"],
            row["fingerprint"],
        )
        headers = [(name, base64.b64decode(v) if v is not None else b"") for name, v in row["headers"]]
        headers = [(n, v) for n, v in headers if n != REDRIVE_HEADER] + [(REDRIVE_HEADER, f"{service}/{i}".encode())]
        meta = await producer.send_and_wait(row["topic"], value=row["value"], key=row["key"], headers=headers)
        now = datetime.now(UTC)
        entry = {
            "at": now.isoformat(),
            "what": "redriven",
            "by": by,
            "partition": meta.partition,
            "offset": meta.offset,
        }
        await conn.execute(
            "UPDATE dead_letters SET status = 'redriven', redriven_at = $2, redriven_by = $3, redrives = redrives + 1, "
            "history = history || jsonb_build_array($4::jsonb) WHERE id = $1",
            i,
            now,
            by,
            entry,
        )
    return Redriven(i, row["topic"], meta.partition, meta.offset, bool(reopened), row["status"] == "redriven")


async def dead_letter_ids(dsn: str, *, status: str = "dead", redrivable: bool | None = None) -> list[int]:
    """The ids of the dead letters in `status`; with `redrivable`, only those a redrive takes (True: events kept
    whole) or only those it refuses (False: not events, or kept only as a reference)."""
    can = "(event_id IS NOT NULL AND value IS NOT NULL)"
    where = {None: "", True: f" AND {can}", False: f" AND NOT {can}"}[redrivable]
    conn = await _connect(dsn)
    try:
        rows = await conn.fetch(f"SELECT id FROM dead_letters WHERE status = $1{where} ORDER BY id", status)
        return [r["id"] for r in rows]
    finally:
        await conn.close()


# --- status ----------------------------------------------------------------------------------------------


@dataclass
class ServiceStatus:
    service: str
    url: str
    ready: bool | None = None
    reasons: list[str] = field(default_factory=list)
    outbox_backlog: int | None = None
    outbox_oldest_seconds: float | None = None
    dead_letters: dict[str, int] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "url": self.url,
            "ready": self.ready,
            "reasons": self.reasons,
            "outbox": {"backlog": self.outbox_backlog, "oldest_seconds": self.outbox_oldest_seconds},
            "consumer_lag": self.lag,
            "dead_letters": self.dead_letters,
            "problems": self.problems,
        }


async def readiness(url: str, *, timeout: float = 5.0) -> tuple[bool, list[str]]:
    """GET <url>/health/ready: whether the service is ready, and its reasons (or why it did not answer)."""
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as http:
            response = await http.get(url.rstrip("/") + "/health/ready")
    except httpx.HTTPError as exc:
        return False, [f"does not answer at {url}: {type(exc).__name__}: {exc}".rstrip(": ")]
    try:
        body = response.json()
    except ValueError:
        body = {}
    reasons = [str(r) for r in body.get("reasons", [])] if isinstance(body, dict) else []
    if response.status_code != 200 and not reasons:
        reasons = [f"HTTP {response.status_code}"]
    return response.status_code == 200, reasons


async def database_figures(status: ServiceStatus, dsn: str) -> None:
    """Outbox backlog and its oldest row's age, dead letters by status, from the service's database."""
    try:
        conn = await _connect(dsn)
    except OperatorError as exc:
        status.problems.append(str(exc))
        return
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, extract(epoch FROM clock_timestamp() - min(created_at)) AS oldest "
            "FROM outbox WHERE published_at IS NULL"
        )
        assert row is not None
        status.outbox_backlog = row["n"]
        status.outbox_oldest_seconds = float(row["oldest"]) if row["oldest"] is not None else None
        status.dead_letters = {s: 0 for s in STATUSES} | {
            r["status"]: r["n"] for r in await conn.fetch("SELECT status, count(*) AS n FROM dead_letters GROUP BY 1")
        }
    except asyncpg.UndefinedTableError as exc:
        status.problems.append(f"database not migrated ({exc}): run `tandem migrate {status.service}`")
    finally:
        await conn.close()


async def consumer_lag(
    bootstrap: str, group: str, topics: list[str], *, security: KafkaSecurity = PLAINTEXT
) -> dict[str, int]:
    """Per topic, how many records the consumer group has not committed yet (end offsets minus the group's
    committed offsets, summed over partitions; a partition without a commit counts from its start). Reads the
    commits as a client of the group that joins nothing (it subscribes to no topic), so the group is undisturbed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, client_id="tandem-status", group_id=group, enable_auto_commit=False,
        request_timeout_ms=15_000, **security.aiokafka(),
    )  # fmt: skip
    try:
        await asyncio.wait_for(consumer.start(), 15)
        await consumer.topics()  # metadata of every topic, so that their partitions are known
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or set())]
        ends = await consumer.end_offsets(partitions) if partitions else {}
        begins = await consumer.beginning_offsets(partitions) if partitions else {}
        lag = {t: 0 for t in topics}
        for tp in partitions:
            committed = await consumer.committed(tp)
            position = committed if committed is not None and committed >= 0 else begins.get(tp, 0)
            lag[tp.topic] += max(0, ends.get(tp, 0) - position)
        return lag
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
