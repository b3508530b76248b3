"""Faults at random (seeded) times: each run draws a few from `KINDS` and plays them against the system.

Process faults (kill -9 or SIGTERM of a service, then a restart), Postgres stopped and started, the broker
stopped and started (Tansu keeps nothing: it comes back empty, without topics), latency added to and
connections cut by a service's proxy to the broker or to Postgres, poison records produced straight to a
topic, and a real record produced a second time (a duplicate delivery). Every poison record carries a
marker (header `x-fault-marker`, also its key) so the checker can find it in the dead-letter topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from shared.events import Envelope, encode
from shared.events.hr import EmployeeLeft
from shared.events.pairing import PairPaused
from shared.events.sessions import SessionScheduled
from tests.faults.system import SERVICES, System

MARKER = "x-fault-marker"
POISON = ("bad-json", "no-cloudevents-headers", "unknown-type", "2mb-record", "unknown-pair", "bad-header-bytes")
PROCESS = tuple(f"{sig}:{s}" for sig in ("kill9", "sigterm") for s in SERVICES)
PROXY = tuple(f"{what}:{s}:{t}" for what in ("latency", "cut") for s in SERVICES for t in ("kafka", "postgres"))
#: Every kind a run may draw, equally likely.
KINDS: tuple[str, ...] = (
    *PROCESS,
    "postgres-restart",
    "broker-restart",
    *PROXY,
    *(f"poison:{p}" for p in POISON),
    "duplicate",
)
BIG = 2 * 1024 * 1024


@dataclass
class Fault:
    kind: str
    at: float  # seconds after the load started
    params: dict[str, Any] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0
    outcome: str = ""

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.kind} at +{self.at:.1f}s ({extra})" + (f": {self.outcome}" if self.outcome else "")


@dataclass(frozen=True)
class Poison:
    marker: str
    kind: str
    topic: str
    at: float


def draw(rng: random.Random, count: int, seconds: float, kinds: tuple[str, ...] = KINDS) -> list[Fault]:
    """`count` faults at random times within the first 80% of a load of `seconds`."""
    faults = []
    for _ in range(count):
        kind = rng.choice(kinds)
        params: dict[str, Any] = {}
        if kind.startswith(("kill9", "sigterm")):
            params["down"] = round(rng.uniform(0.2, 3.0), 1)
        elif kind in ("postgres-restart", "broker-restart"):
            params["down"] = round(rng.uniform(0.5, 5.0), 1)
        elif kind.startswith("latency"):
            params.update(seconds=round(rng.uniform(0.1, 2.0), 2), lasts=round(rng.uniform(2.0, 8.0), 1))
        elif kind.startswith("cut"):
            params["outage"] = round(rng.choice([0.0, rng.uniform(0.5, 4.0)]), 1)
        elif kind.startswith("poison") or kind == "duplicate":
            params["topic"] = rng.choice(["pairing", "sessions", "hr_inbound"] if kind != "duplicate"
                                         else ["pairing", "sessions"])  # fmt: skip
        faults.append(Fault(kind, round(rng.uniform(0.5, seconds * 0.8), 1), params))
    return sorted(faults, key=lambda f: f.at)


class Injector:
    """Plays faults against a System and keeps what it injected."""

    def __init__(self, system: System, run_id: str) -> None:
        self.system = system
        self.run_id = run_id
        self.poison: list[Poison] = []
        self.duplicates: list[str] = []  # event ids produced a second time
        self._producer: AIOKafkaProducer | None = None

    async def play(self, faults: list[Fault], start: float) -> None:
        async def one(fault: Fault) -> None:
            await asyncio.sleep(max(0.0, start + fault.at - time.monotonic()))
            fault.started = time.time()
            try:
                fault.outcome = await self.apply(fault)
            except Exception as exc:  # a fault that could not be played is reported, not fatal
                fault.outcome = f"could not be played: {type(exc).__name__}: {exc}"
            fault.ended = time.time()

        await asyncio.gather(*(one(f) for f in faults))

    async def apply(self, fault: Fault) -> str:
        kind, p, s = fault.kind, fault.params, self.system
        if kind.startswith(("kill9", "sigterm")):
            sig, service = kind.split(":")
            code = await s.restart_service(service, signal.SIGKILL if sig == "kill9" else signal.SIGTERM, p["down"])
            return f"exit code {code}, restarted"
        if kind == "postgres-restart":
            async with s.locks["postgres"]:
                await s.stop_postgres()
                await asyncio.sleep(p["down"])
                await s.start_postgres()
            return "stopped and started"
        if kind == "broker-restart":
            async with s.locks["broker"]:
                await self._close_producer()
                await asyncio.to_thread(s.stop_broker)  # Tansu may take its 5 s to end: not on the loop
                await asyncio.sleep(p["down"])
                s.start_broker()
            return "stopped and started empty (memory storage: no topics, no records, no offsets)"
        if kind.startswith("latency"):
            _, service, target = kind.split(":")
            s.set_latency(service, target, p["seconds"])
            await asyncio.sleep(p["lasts"])
            s.set_latency(service, target, 0.0)
            return "added, then removed"
        if kind.startswith("cut"):
            _, service, target = kind.split(":")
            s.cut(service, target, p["outage"])
            return "connections cut"
        if kind.startswith("poison"):  # into a running broker: one being restarted is waited for
            async with s.locks["broker"]:
                return await self.inject_poison(kind.split(":", 1)[1], p["topic"])
        if kind == "duplicate":
            async with s.locks["broker"]:
                return await self.duplicate(p["topic"])
        raise ValueError(f"unknown fault kind {kind}")

    async def close(self) -> None:
        await self._close_producer()

    async def _close_producer(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.system.bootstrap, acks="all",
                                              max_request_size=4 * BIG, request_timeout_ms=10_000)  # fmt: skip
            await self._producer.start()
        return self._producer

    # --- poison ------------------------------------------------------------------------------------------------

    async def inject_poison(self, kind: str, topic_key: str) -> str:
        marker = f"{self.run_id}-{len(self.poison) + 1}-{kind}"
        topic = getattr(self.system.topics, topic_key)
        value, headers = poison_record(kind, topic_key, marker)
        headers.append((MARKER, marker.encode()))
        producer = await self.producer()
        await (await producer.send(topic, value=value, key=marker.encode(), headers=headers))
        self.poison.append(Poison(marker, kind, topic, time.time()))
        return f"{marker} -> {topic}"

    async def duplicate(self, topic_key: str) -> str:
        """Produce the newest record of a topic once more, byte for byte (key, value, headers)."""
        topic = getattr(self.system.topics, topic_key)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.system.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
            ends = await consumer.end_offsets(parts)
            filled = [tp for tp in parts if ends[tp] > 0]
            if not filled:
                return f"nothing to duplicate: {topic} is empty"
            tp = max(filled, key=lambda t: ends[t])
            consumer.assign([tp])
            consumer.seek(tp, ends[tp] - 1)
            batch = await consumer.getmany(tp, timeout_ms=5000)
            records = batch.get(tp, [])
            if not records:
                return f"nothing read from {tp}"
            r = records[-1]
        finally:
            await stop(consumer)
        producer = await self.producer()
        await (await producer.send(topic, value=r.value, key=r.key, headers=list(r.headers or ())))
        event_id = dict(r.headers or ()).get("ce_id", b"?").decode(errors="replace")
        self.duplicates.append(event_id)
        return f"event {event_id} ({topic}/{tp.partition}@{r.offset}) produced again"


async def stop(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer; aiokafka's stop can raise the CancelledError of a task of its own (seen after the broker
    lost its topics), which must not end the harness."""
    task = asyncio.ensure_future(consumer.stop())
    with contextlib.suppress(asyncio.CancelledError, KafkaError):
        await asyncio.shield(task)


def poison_record(kind: str, topic_key: str, marker: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The value and headers of a poison record of `kind` for the topic (pairing, sessions or hr_inbound)."""
    valid = _unknown_entity(topic_key, marker)
    record = encode(valid)
    headers = list(record.headers)
    if kind == "unknown-pair":
        return record.value, headers
    if kind == "bad-json":
        return b'{"pair_id": "' + marker.encode() + b'", oops', headers
    if kind == "no-cloudevents-headers":
        return record.value, [(k, v) for k, v in headers if not k.startswith("ce_")]
    if kind == "unknown-type":
        return record.value, [(k, b"tandem.faults.NoSuchEvent" if k == "ce_type" else v) for k, v in headers]
    if kind == "2mb-record":
        data = json.loads(record.value)
        data["padding"] = "x" * BIG
        return json.dumps(data).encode(), headers
    if kind == "bad-header-bytes":
        return record.value, [(k, b"\xff\xfe\x00bad" if k == "ce_subject" else v) for k, v in headers]
    raise ValueError(f"unknown poison kind {kind}")


def _unknown_entity(topic_key: str, marker: str) -> Envelope[Any]:
    """A well-formed event about something nobody knows: a pair, a session's pair, an employee."""
    ghost = f"ghost-{uuid.uuid5(uuid.NAMESPACE_URL, marker).hex[:12]}"
    data: Any
    if topic_key == "pairing":
        data = PairPaused(pair_id=ghost, programme_id="faults-programme", reason=marker)
    elif topic_key == "sessions":
        data = SessionScheduled(pair_id=ghost, programme_id="faults-programme", session_id=f"{ghost}-s",
                                starts_at=datetime.now(UTC), duration_minutes=45, agenda=marker)  # fmt: skip
    else:
        data = EmployeeLeft(employee_id=ghost, left_on=date.today())
    return Envelope.new(data, event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, marker)))
