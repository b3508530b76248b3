"""Tamper evidence, the I/O part: signing checkpoints of a service's outbox, reading chains from the log and from an
outbox, and `tandem audit verify` (the pure logic is in shared.chain).

A checkpoint covers an outbox position: it takes the lock every append holds shared (shared.outbox.CHECKPOINT_LOCK)
exclusively for a moment, so that every row at or below the position it reads is committed and none can commit
there later; then it reads the heads of all streams as of that position, and signs their Merkle root.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import chain
from shared.db import Conn, connect
from shared.events import Envelope, UndecodableEvent, decode
from shared.events.audit import CheckpointSigned
from shared.events.kafka import header_map
from shared.kafka_security import PLAINTEXT, KafkaSecurity
from shared.outbox import CHECKPOINT_LOCK, append
from shared.topics import Topics

log = logging.getLogger(__name__)


class SigningKeyError(ValueError):
    """The signing key file is missing, unreadable or not an Ed25519 private key."""


def load_signing_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file `path` (TANDEM_SIGNING_KEY_FILE). Raises SigningKeyError naming it."""
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"TANDEM_SIGNING_KEY_FILE: cannot read {path}: {exc.strerror or exc}") from None
    try:
        return chain.load_private_key(pem)
    except ValueError as exc:
        raise SigningKeyError(f"TANDEM_SIGNING_KEY_FILE: {path} is {exc}") from None


def write_signing_key(path: Path) -> bool:
    """Create a new Ed25519 key at `path` (mode 0600 from the start) when there is none; True when one was created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(chain.new_private_key_pem())
    return True


# -- checkpoints ---------------------------------------------------------------------------------------------------


async def _covered_position(pool: asyncpg.Pool, lock_timeout: float) -> int | None:
    """The highest outbox position, read while no append is in flight (None: the lock was not had in time)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout * 1000)}ms'")
        try:
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", CHECKPOINT_LOCK)
        except asyncpg.LockNotAvailableError:
            return None
        position = await conn.fetchval("SELECT coalesce(max(position), 0) FROM outbox")
        return int(position)


async def heads_as_of(conn: Conn, position: int) -> tuple[dict[chain.Stream, bytes], int]:
    """The hash each stream's last chained row at or below `position` claims, and how many chained rows there are."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (tenant, topic, key) tenant, topic, key, hash FROM outbox "
        "WHERE hash IS NOT NULL AND position <= $1 ORDER BY tenant, topic, key, position DESC",
        position,
    )
    count = await conn.fetchval("SELECT count(*) FROM outbox WHERE hash IS NOT NULL AND position <= $1", position)
    return {(r["tenant"], r["topic"], r["key"]): bytes(r["hash"]) for r in rows}, int(count)


async def write_checkpoint(
    pool: asyncpg.Pool,
    service: str,
    key: Ed25519PrivateKey,
    *,
    topics: Topics | None = None,
    tenant: str = "default",
    lock_timeout: float = 5.0,
    force: bool = False,
) -> chain.Checkpoint | None:
    """Sign and store a checkpoint of the service's outbox as it is now and, given `topics`, publish it through the
    outbox (a CheckpointSigned event on the checkpoints topic, in the same transaction). None when nothing but
    checkpoint events came since the last one (unless `force`: an idle service signs no stream of checkpoints of its
    own checkpoints), or when appends held the lock longer than `lock_timeout` (the next one will do). The event comes
    after the position it covers, so the next checkpoint covers it."""
    position = await _covered_position(pool, lock_timeout)
    if position is None:
        log.warning("%s: no checkpoint now: appends held the outbox for more than %.0f s", service, lock_timeout)
        return None
    async with pool.acquire() as conn:
        last = await conn.fetchval("SELECT max(position) FROM checkpoints WHERE service = $1", service)
        if last is not None and not force:  # nothing new but (its own) checkpoint events: no checkpoint of them alone
            new = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE position > $1 AND position <= $2 AND event_type <> $3)",
                last,
                position,
                CheckpointSigned.TYPE,
            )
            if not new:
                return None
        heads, events = await heads_as_of(conn, position)
        checkpoint = chain.sign(
            key,
            chain.Checkpoint(
                service=service,
                time=datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                position=position,
                events=events,
                streams=len(heads),
                root=chain.merkle_root(heads),
            ),
        )
        async with conn.transaction():
            await _store(conn, checkpoint)
            if topics is not None:
                await append(conn, topics, [Envelope.new(checkpoint_event(checkpoint), tenant=tenant)])
    return checkpoint


def checkpoint_event(checkpoint: chain.Checkpoint) -> CheckpointSigned:
    return CheckpointSigned(
        service=checkpoint.service,
        signed_at=checkpoint.time,
        position=checkpoint.position,
        events=checkpoint.events,
        streams=checkpoint.streams,
        root=checkpoint.root.hex(),
        signature=checkpoint.signature.hex(),
        public_key=checkpoint.public_key,
        signed=checkpoint.message().decode(),
    )


def checkpoint_of(event: CheckpointSigned) -> chain.Checkpoint:
    return chain.Checkpoint(
        service=event.service,
        time=event.signed_at,
        position=event.position,
        events=event.events,
        streams=event.streams,
        root=bytes.fromhex(event.root),
        signature=bytes.fromhex(event.signature),
        public_key=event.public_key,
    )


async def _store(conn: Conn, checkpoint: chain.Checkpoint) -> None:
    await conn.execute(
        "INSERT INTO checkpoints (service, signed_at, position, events, streams, root, signature, public_key) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        checkpoint.service,
        checkpoint.time,
        checkpoint.position,
        checkpoint.events,
        checkpoint.streams,
        checkpoint.root,
        checkpoint.signature,
        checkpoint.public_key,
    )


def _checkpoint(row: Any) -> chain.Checkpoint:
    return chain.Checkpoint(
        service=row["service"],
        time=row["signed_at"],
        position=int(row["position"]),
        events=int(row["events"]),
        streams=int(row["streams"]),
        root=bytes(row["root"]),
        signature=bytes(row["signature"]),
        public_key=row["public_key"],
    )


async def checkpoints(conn: Conn, *, latest: bool = False) -> list[tuple[int, chain.Checkpoint]]:
    """The stored checkpoints (id, checkpoint), oldest first; with `latest`, only the newest."""
    rows = await conn.fetch(
        "SELECT id, service, signed_at, position, events, streams, root, signature, public_key FROM checkpoints "
        + ("ORDER BY id DESC LIMIT 1" if latest else "ORDER BY id")
    )
    return [(int(r["id"]), _checkpoint(r)) for r in rows]


async def latest_checkpoint_published(conn: Conn) -> tuple[int, chain.Checkpoint] | None:
    """The newest checkpoint every event of which the relay has published: the log is held to it (a relay that is
    behind, or a broker that was away, is not tampering)."""
    rows = await conn.fetch(
        "SELECT id, service, signed_at, position, events, streams, root, signature, public_key FROM checkpoints "
        "WHERE position < coalesce((SELECT min(position) FROM outbox WHERE published_at IS NULL), 'infinity'::numeric) "
        "ORDER BY id DESC LIMIT 1"
    )
    return (int(rows[0]["id"]), _checkpoint(rows[0])) if rows else None


async def export_checkpoints(dsn: str) -> list[dict[str, object]]:
    """Every checkpoint of the service whose database `dsn` is, as `tandem audit checkpoints export` writes them."""
    conn = await connect(dsn)
    try:
        return [{"id": i, **c.as_json()} for i, c in await checkpoints(conn)]
    finally:
        await conn.close()


# -- reading chains ------------------------------------------------------------------------------------------------


def link_from_record(record: Any) -> chain.Link:
    """A Kafka record as a chain link. Raises ValueError when it is not an event or its chain headers are malformed."""
    h = header_map(record.headers)
    if "ce_id" not in h or "ce_type" not in h:
        raise ValueError("not a CloudEvent (no ce_id or ce_type header)")
    key = record.key if record.key is not None else b""
    value = record.value if record.value is not None else b""
    where = f"{record.topic}/{record.partition}/{record.offset}"
    headers = [(name, v) for name, v in record.headers or () if v is not None]
    position = h.get(chain.POSITION_HEADER)
    return chain.Link(
        stream=(h.get("ce_tenant", "default"), record.topic, key.decode(errors="replace")),
        order=record.offset,
        where=where,
        event_id=h["ce_id"],
        event_type=h["ce_type"],
        canonical=chain.canonical(headers, key, value),
        prev_hash=chain.parse_hex(h.get(chain.PREV_HEADER)),
        hash=chain.parse_hex(h.get(chain.HASH_HEADER)),
        position=int(position) if position is not None and position.isdigit() else None,
    )


def link_from_row(row: Any) -> tuple[chain.Link, list[chain.Finding]]:
    """An outbox row as a chain link, and a finding when its headers' chain hashes are not its columns'."""
    headers = [
        (str(n), str(v)) for n, v in (json.loads(row["headers"]) if isinstance(row["headers"], str) else row["headers"])
    ]
    h = dict(headers)
    where = f"outbox position {row['position']}"
    prev = bytes(row["prev_hash"]) if row["prev_hash"] is not None else None
    own = bytes(row["hash"]) if row["hash"] is not None else None
    found: list[chain.Finding] = []
    try:
        said = (chain.parse_hex(h.get(chain.PREV_HEADER)), chain.parse_hex(h.get(chain.HASH_HEADER)))
    except ValueError:
        said = (None, None)
    if said != (prev, own):
        found.append(
            chain.Finding(chain.CHANGED, where, row["event_id"], "its chain headers are not its prev_hash/hash columns")
        )
    link = chain.Link(
        stream=(row["tenant"], row["topic"], row["key"]),
        order=int(row["position"]),
        where=where,
        event_id=row["event_id"],
        event_type=row["event_type"],
        canonical=chain.canonical(headers, row["key"], row["payload"]),
        prev_hash=prev,
        hash=own,
        position=int(row["position"]),
    )
    return link, found


async def outbox_links(conn: Conn) -> tuple[list[chain.Link], list[chain.Finding]]:
    links: list[chain.Link] = []
    found: list[chain.Finding] = []
    async with conn.transaction():  # a cursor needs one
        async for row in conn.cursor(
            "SELECT position, event_id, event_type, topic, key, tenant, headers::text AS headers, payload, prev_hash, "
            "hash FROM outbox ORDER BY position",
            prefetch=5000,
        ):
            link, problems = link_from_row(row)
            links.append(link)
            found += problems
    return links, found


async def log_links(
    bootstrap: str, topics: list[str], *, security: KafkaSecurity = PLAINTEXT
) -> tuple[list[chain.Link], list[chain.Finding], int]:
    """Every record on `topics` as a chain link; findings for malformed chain headers; the count of non-events."""
    from shared.replay import LogReader

    links: list[chain.Link] = []
    found: list[chain.Finding] = []
    not_events = 0
    async with LogReader(bootstrap, security=security) as reader:
        tps = await reader.partitions(topics)
        async for batch in reader.read_to_end(tps):
            for record in batch:
                try:
                    links.append(link_from_record(record))
                except ValueError as exc:
                    if "not a CloudEvent" in str(exc):
                        not_events += 1
                        continue
                    where = f"{record.topic}/{record.partition}/{record.offset}"
                    event_id = header_map(record.headers).get("ce_id", "")
                    found.append(
                        chain.Finding(chain.CHANGED, where, event_id, f"its chain headers are malformed: {exc}")
                    )
    return links, found, not_events


async def latest_published(
    bootstrap: str, topic: str, service: str, *, security: KafkaSecurity = PLAINTEXT
) -> tuple[int, chain.Checkpoint] | None:
    """The checkpoint of `service` with the highest position on the checkpoints topic, numbered by its offset."""
    from shared.replay import LogReader

    best: tuple[int, chain.Checkpoint] | None = None
    async with LogReader(bootstrap, security=security) as reader:
        async for batch in reader.read_to_end(await reader.partitions([topic])):
            for record in batch:
                if record.key != service.encode():
                    continue
                try:
                    env = decode(record.headers, record.value)
                except UndecodableEvent:
                    continue
                if isinstance(env.data, CheckpointSigned) and env.data.service == service:
                    found = checkpoint_of(env.data)
                    if best is None or found.position > best[1].position:
                        best = (record.offset, found)
    return best


# -- verify --------------------------------------------------------------------------------------------------------


@dataclass
class Verification:
    """What `tandem audit verify` found for one service."""

    service: str
    findings: list[chain.Finding] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


def check_latest_checkpoint(
    links: list[chain.Link], latest: tuple[int, chain.Checkpoint] | None, *, trusted_key: str | None = None
) -> tuple[list[chain.Finding], str]:
    """The latest checkpoint's findings against `links` (heads recomputed as of its position), and a line saying
    what was checked."""
    if latest is None:
        return [], "no checkpoint signed yet"
    number, cp = latest
    covered = [link for link in links if link.position is not None and link.position <= cp.position]
    report = chain.verify_links(covered)
    where = f"checkpoint {number} ({cp.time}, position {cp.position})"
    found = chain.verify_checkpoint(cp, report.heads, report.chained, where=where, trusted_key=trusted_key)
    return found, f"{where}: {'signature and Merkle root verify' if not found else 'does not verify'}"


async def verify_service(
    service: str,
    *,
    dsn: str | None,
    bootstrap: str | None,
    topics: list[str],
    outbox: bool,
    security: KafkaSecurity = PLAINTEXT,
    trusted_key: str | None = None,
    checkpoint_log: bool = True,
    checkpoint_topic: str | None = None,
) -> Verification:
    """Verify the chains of `service` in the log (`topics`, when a broker is given) and, with `outbox`, in its outbox;
    and its latest checkpoint against each: the latest in its database when given, else the latest it published on
    `checkpoint_topic` (where only its own records, keyed by its name, are read)."""
    result = Verification(service)
    latest: tuple[int, chain.Checkpoint] | None = None
    #: The latest checkpoint whose events the relay has all published (the log can only be held to those).
    published: tuple[int, chain.Checkpoint] | None = None
    row_links: list[chain.Link] = []
    if dsn is not None:
        conn = await connect(dsn)
        try:
            found = await checkpoints(conn, latest=True)
            latest = found[0] if found else None
            published = await latest_checkpoint_published(conn)
            if outbox:
                row_links, problems = await outbox_links(conn)
                result.findings += problems
        finally:
            await conn.close()
    if bootstrap is not None and topics:
        links, problems, not_events = await log_links(bootstrap, topics, security=security)
        links = [link for link in links if link.stream[1] != checkpoint_topic or link.stream[2] == service]
        report = chain.verify_links(links)
        result.findings += problems + report.findings
        result.lines.append(
            report.summary(f"log ({', '.join(topics)})") + (f", {not_events} non-events" if not_events else "")
        )
        if dsn is None and checkpoint_topic is not None:
            published = await latest_published(bootstrap, checkpoint_topic, service, security=security)
        if checkpoint_log and (dsn is not None or checkpoint_topic is not None):  # (not for copies in other topics)
            cp_found, line = check_latest_checkpoint(links, published, trusted_key=trusted_key)
            result.findings += cp_found
            result.lines.append(f"log: {line}")
    if outbox and dsn is not None:
        report = chain.verify_links(row_links)
        result.findings += report.findings
        result.lines.append(report.summary("outbox"))
        cp_found, line = check_latest_checkpoint(row_links, latest, trusted_key=trusted_key)
        result.findings += cp_found
        result.lines.append(f"outbox: {line}")
    return result
