"""Scale-out, shown locally: three processes of the sessions service (one database, one broker, one consumer
group) share the partitions, and one of them, the active relay, is killed with SIGKILL mid-stream and started
again. Nothing is lost or applied twice, and the relay stays single-active: one replica publishes at a time
(the outbox's advisory lock), another takes over when it dies, and publishing goes on.

Upstream events (pairing's: a programme, its participants, its pairs) go into the pairing topic; the sessions
service's own commands (agreements, sessions scheduled and logged) go over HTTP to the three replicas in turn,
so that whichever holds the relay publishes them. Every replica's /health/ready is sampled throughout: which
one is the active relay, and which partitions each owns (`checks.consumer.assigned`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.events import Envelope, EventPayload, encode
from shared.events import pairing as p
from shared.identity_provider import LocalIdentityProvider
from shared.infra import Infra
from shared.localstack import free_port
from shared.personal import KEY_RECORD_TYPE
from shared.topics import Topics, ensure_topics
from tests import auth
from tests.faults.system import ServiceProcess
from tests.kafka_helpers import eventually, produce, read_topic

REPLICAS = 3
PARTITIONS = 6
WAVES = 6
PAIRS_PER_WAVE = 10
#: Commands per pair over HTTP: both sides confirm the agreement, a session is scheduled, then logged.
COMMANDS_PER_PAIR = 4
Message = tuple[bytes, bytes, list[tuple[str, bytes]]]


@dataclass
class Sample:
    """One look at every replica's /health/ready: who is the active relay, what each consumer owns."""

    leaders: list[int]
    assigned: dict[int, set[tuple[str, int]]]
    #: Rows the replicas' relays found already in the log when they took over (sent by a killed leader).
    reconciled: int = 0


@dataclass
class Cluster:
    replicas: list[ServiceProcess]
    samples: list[Sample] = field(default_factory=list)

    async def look(self, http: httpx.AsyncClient) -> Sample:
        async def one(i: int) -> dict[str, Any] | None:
            if not self.replicas[i].running:
                return None
            try:
                body: dict[str, Any] = (await http.get(f"{self.replicas[i].url}/health/ready")).json()
            except (httpx.HTTPError, ValueError):
                return None
            return body

        bodies = await asyncio.gather(*(one(i) for i in range(len(self.replicas))))
        sample = Sample([], {})
        for i, body in enumerate(bodies):
            checks = (body or {}).get("checks", {})
            if checks.get("relay", {}).get("is_leader"):
                sample.leaders.append(i)
            sample.reconciled += int(checks.get("relay", {}).get("reconciled", 0))
            if body is not None:
                assigned = checks.get("consumer", {}).get("assigned", {})
                sample.assigned[i] = {(t, n) for t, ns in assigned.items() for n in ns}
        return sample

    async def sample_forever(self) -> None:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
            while True:
                self.samples.append(await self.look(http))
                await asyncio.sleep(0.2)


def sharing(everything: set[tuple[str, int]], members: int) -> Callable[[Cluster], Awaitable[Sample | None]]:
    """`members` running replicas own disjoint shares of `everything`, each at least one partition."""

    async def check(cluster: Cluster) -> Sample | None:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
            sample = await cluster.look(http)
        shares = list(sample.assigned.values())
        owned = [tp for share in shares for tp in share]
        fine = (
            len(shares) == members
            and all(shares)
            and len(owned) == len(set(owned))
            and set(owned) == everything
            and len(sample.leaders) == 1
        )
        return sample if fine else None

    return check


def pairing_events(programme_id: str, pairs: int) -> tuple[list[Message], list[tuple[str, str, str]]]:
    """Enrolments and pairs of one wave (with the participants' ids), as pairing publishes them."""
    messages: list[Message] = []
    made = []
    for _ in range(pairs):
        pair_id, mentor, mentee = (f"{k}-{uuid.uuid4().hex[:10]}" for k in ("pair", "mentor", "mentee"))
        for role, who in (("mentor", mentor), ("mentee", mentee)):
            messages.append(
                message(
                    p.ParticipantEnrolled(
                        participant_id=who,
                        programme_id=programme_id,
                        employee_id=f"E-{who}",
                        role=role,
                        display_name=f"{role.title()} {who}",
                        email=f"{who}@acme.example",
                        department="D",
                        grade=3,
                        languages=["en"],
                        teach_topics={"ai-agents": 2} if role == "mentor" else {},
                        learn_topics={"ai-agents": 2} if role == "mentee" else {},
                    )
                )
            )
        messages.append(
            message(p.PairCreated(pair_id=pair_id, programme_id=programme_id, mentor_id=mentor, mentee_id=mentee))
        )
        made.append((pair_id, mentor, mentee))
    return messages, made


def message(payload: EventPayload) -> Message:
    rec = encode(Envelope.new(payload, time=datetime.now(UTC) - timedelta(days=1)))
    return rec.key, rec.value, rec.headers


class Driver:
    """Sends each pair's commands, one after the other, to the replicas in turn. A request whose answer was lost
    (its replica was killed) is sent again to the next replica; then "already done" (409) counts as done. A
    replica not listening yet (started again) is passed over."""

    def __init__(self, cluster: Cluster, pool: asyncpg.Pool) -> None:
        self.cluster = cluster
        self.pool = pool
        self.turn = 0
        self.accepted = 0
        self.resent = 0
        self.scheduled: list[str] = []

    async def send(self, http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
        unsure = False
        for _ in range(200):
            self.turn += 1
            replica = self.cluster.replicas[self.turn % len(self.cluster.replicas)]
            if not replica.running:
                continue
            try:
                r = await http.post(f"{replica.url}{path}", json=body)
            except httpx.ConnectError:  # not listening (yet): nothing was sent
                await asyncio.sleep(0.1)
                continue
            except httpx.TransportError:  # sent, and its replica died before it answered: done or not
                unsure = True
                self.resent += 1
                await asyncio.sleep(0.1)
                continue
            if r.status_code in (200, 201) or (unsure and r.status_code == 409):
                self.accepted += 1
                return
            if r.status_code == 503:  # the database is away for a moment: nothing was done
                await asyncio.sleep(0.2)
                continue
            raise AssertionError(f"POST {path} {body}: {r.status_code} {r.text}")
        raise AssertionError(f"POST {path}: no replica took it")

    async def pair_known(self, pair: tuple[str, str, str]) -> bool:
        pair_id, mentor, mentee = pair
        found = await self.pool.fetchval(
            "SELECT (SELECT count(*) FROM projection.pairs WHERE pair_id = $1) "
            "+ (SELECT count(*) FROM projection.participants WHERE participant_id = ANY($2::text[]))",
            pair_id,
            [mentor, mentee],
        )
        return int(found) == 3

    async def run_pair(self, http: httpx.AsyncClient, pair: tuple[str, str, str]) -> None:
        pair_id, mentor, mentee = pair
        await eventually(lambda: self.pair_known(pair), timeout=60, interval=0.2)
        for who in (mentee, mentor):
            body = {"participant_id": who, "meeting_rhythm": "every two weeks", "confidentiality": True}
            await self.send(http, f"/pairs/{pair_id}/agreement", body)
        session_id = f"s-{uuid.uuid4().hex[:12]}"
        start = datetime.now(UTC) - timedelta(hours=2)
        await self.send(http, f"/pairs/{pair_id}/sessions", {"session_id": session_id, "starts_at": start.isoformat()})
        self.scheduled.append(session_id)
        log = {"held_at": start.isoformat(), "minutes": 40, "topics": ["ai-agents"], "tools": ["Copilot"]}
        await self.send(http, f"/pairs/{pair_id}/sessions/{session_id}/log", log)

    async def run(self, queue: asyncio.Queue[tuple[str, str, str] | None], workers: int = 4) -> None:
        async def work() -> None:
            async with auth.client(timeout=30, trust_env=False) as http:
                while (pair := await queue.get()) is not None:
                    await self.run_pair(http, pair)

        await asyncio.gather(*(work() for _ in range(workers)))


@pytest.mark.slow
async def test_three_replicas_share_the_partitions_and_one_relay_publishes_across_a_kill_9(
    infra: Infra, new_database: Callable[[str], Awaitable[str]], identity_provider: LocalIdentityProvider,
    tmp_path: Path,
) -> None:  # fmt: skip
    topics = Topics(namespace=f"scale_{uuid.uuid4().hex[:10]}", partitions=PARTITIONS)
    await ensure_topics(infra.kafka_bootstrap, topics)  # before any consumer subscribes (Tansu: see the docstring)
    dsn = await new_database("sessions")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_URL", "TANDEM_", "SESSIONS_"))}
    base |= {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "true" if infra.kafka_idempotence else "false",
        "KAFKA_SESSION_TIMEOUT_MS": str(infra.session_timeout_ms),
        "KAFKA_HEARTBEAT_INTERVAL_MS": str(infra.heartbeat_interval_ms),
        "KAFKA_FETCH_MAX_WAIT_MS": str(infra.fetch_max_wait_ms),
        "SESSIONS_DATABASE_URL": dsn,
        "TANDEM_OIDC_ISSUER": identity_provider.issuer,
        "TANDEM_TOPIC_NAMESPACE": topics.namespace,
        "TANDEM_TOPIC_PARTITIONS": str(PARTITIONS),
        "PYTHONUNBUFFERED": "1",
    }
    replicas = []
    for i in range(REPLICAS):
        port = free_port()
        env = base | {"SESSIONS_HTTP_PORT": str(port)}
        replicas.append(ServiceProcess("sessions", env, port, tmp_path / f"sessions-{i}.log"))
    cluster = Cluster(replicas)
    everything = {(t, n) for t in (topics.pairing, topics.sessions) for n in range(PARTITIONS)}
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=3)
    sampler: asyncio.Task[None] | None = None
    try:
        replicas[0].start()  # the first one migrates the database; the others find it done
        await eventually(lambda: _ready(replicas[0]), timeout=60, interval=0.25)
        for replica in replicas[1:]:
            replica.start()
        first = await eventually(lambda: sharing(everything, REPLICAS)(cluster), timeout=60, interval=0.25)
        sampler = asyncio.create_task(cluster.sample_forever())

        programme_id = f"prog-{uuid.uuid4().hex[:8]}"
        launched = p.ProgramLaunched(
            programme_id=programme_id,
            name="AI tandem at scale",
            starts_on=date(2026, 1, 12),
            ends_on=date(2026, 12, 31),
            cadence_days=14,
            focus_topics=["prompt-writing", "ai-agents"],
        )
        produced = [message(launched)]
        await produce(infra.kafka_bootstrap, topics.pairing, produced)
        driver = Driver(cluster, pool)
        queue: asyncio.Queue[tuple[str, str, str] | None] = asyncio.Queue()
        driving = asyncio.create_task(driver.run(queue))
        all_pairs: list[tuple[str, str, str]] = []
        killed = first.leaders[0]
        for wave in range(WAVES):
            messages, pairs = pairing_events(programme_id, PAIRS_PER_WAVE)
            await produce(infra.kafka_bootstrap, topics.pairing, messages)
            produced += messages
            all_pairs += pairs
            for pair in pairs:
                queue.put_nowait(pair)
            if wave == 1:  # mid-stream: the active relay dies with what it had in hand
                await eventually(lambda: _accepted(driver, 2 * PAIRS_PER_WAVE), timeout=60, interval=0.1)
                assert await replicas[killed].signal(signal.SIGKILL) == -signal.SIGKILL
                await eventually(lambda: _another_leads(cluster, killed), timeout=60, interval=0.2)
            if wave == 3:  # and comes back: the group rebalances again
                replicas[killed].start()
                await eventually(lambda: _ready(replicas[killed]), timeout=60, interval=0.25)
            await asyncio.sleep(0.5)
        for _ in range(4):
            queue.put_nowait(None)
        await asyncio.wait_for(driving, timeout=120)
        after = await eventually(lambda: sharing(everything, REPLICAS)(cluster), timeout=60, interval=0.25)

        commands = len(all_pairs) * COMMANDS_PER_PAIR
        assert driver.accepted == commands
        await eventually(lambda: _settled(pool, topics, len(produced), commands), timeout=60, interval=0.25)
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler

        # every upstream event applied exactly once
        inbox = await pool.fetch(
            "SELECT event_id, outcome FROM inbox WHERE consumer = 'sessions' AND topic = $1", topics.pairing
        )
        produced_ids = {_ce_id(m) for m in produced}
        assert {r["event_id"] for r in inbox} == produced_ids
        assert len(inbox) == len(produced)
        assert {r["outcome"] for r in inbox} == {"applied"}
        count = pool.fetchval
        assert await count("SELECT count(*) FROM projection.programmes") == 1
        assert await count("SELECT count(*) FROM projection.participants") == 2 * len(all_pairs)
        assert await count("SELECT count(*) FROM projection.pairs") == len(all_pairs)
        assert await count("SELECT count(*) FROM projection.agreements") == 2 * len(all_pairs)
        sessions = await pool.fetch("SELECT session_id, status FROM projection.sessions")
        assert sorted(r["session_id"] for r in sessions) == sorted(driver.scheduled)
        assert {r["status"] for r in sessions} == {"held"}
        assert await count("SELECT count(*) FROM dead_letters") == 0
        assert await count("SELECT count(*) FROM parked") == 0

        # every event of the outbox published once, none missing, and consumed back once
        events = "SELECT event_id FROM outbox WHERE event_type <> $1"  # not the data keys it also carries
        outbox = {r["event_id"] for r in await pool.fetch(events, KEY_RECORD_TYPE)}
        assert len(outbox) == commands
        records = await read_topic(infra.kafka_bootstrap, topics.sessions, expect=len(outbox), timeout=60)
        copies = Counter(_record_id(r) for r in records)
        assert set(copies) == outbox
        assert [e for e, n in copies.items() if n > 1] == []
        consumed = await pool.fetch(
            "SELECT event_id, outcome FROM inbox WHERE consumer = 'sessions' AND topic = $1", topics.sessions
        )
        assert {r["event_id"] for r in consumed} == outbox
        assert len(consumed) == len(outbox)

        # one active relay at every look, and another took over when the leader was killed
        assert cluster.samples
        assert [s for s in cluster.samples if len(s.leaders) > 1] == []
        leaders = [s.leaders[0] for s in cluster.samples if s.leaders]
        assert leaders[0] == killed, leaders
        assert any(leader != killed for leader in leaders), leaders
        assert len(first.assigned) == len(after.assigned) == REPLICAS
        print(
            f"\n[scale-out] {len(produced)} upstream events, {commands} commands ({driver.resent} answers lost to the "
            f"kill), {len(cluster.samples)} looks, leaders in turn: {_runs(leaders)}, rows a new leader found sent "
            f"already: {max(s.reconciled for s in cluster.samples)}"
        )
    finally:
        if sampler is not None:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        for replica in replicas:
            await replica.signal(signal.SIGTERM, wait=15)
        await pool.close()


async def _ready(replica: ServiceProcess) -> bool:
    if not replica.running:
        raise AssertionError(f"the replica on port {replica.port} exited; see {replica.log}")
    try:
        async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
            return (await http.get(f"{replica.url}/health/ready")).status_code == 200
    except httpx.HTTPError:
        return False


async def _accepted(driver: Driver, n: int) -> bool:
    return driver.accepted >= n


async def _another_leads(cluster: Cluster, killed: int) -> bool:
    async with httpx.AsyncClient(timeout=5, trust_env=False) as http:
        sample = await cluster.look(http)
    return bool(sample.leaders) and killed not in sample.leaders


async def _settled(pool: asyncpg.Pool, topics: Topics, upstream: int, commands: int) -> bool:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM inbox WHERE consumer = 'sessions' AND topic = $1) AS upstream, "
        "(SELECT count(*) FROM inbox WHERE consumer = 'sessions' AND topic = $2) AS own, "
        "(SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished, "
        "(SELECT count(*) FROM outbox WHERE event_type <> $3) AS outbox",  # events (not the data keys it carries)
        topics.pairing,
        topics.sessions,
        KEY_RECORD_TYPE,
    )
    return bool(row["upstream"] >= upstream and row["unpublished"] == 0 and row["own"] >= row["outbox"] >= commands)


def _ce_id(m: Message) -> str:
    return next(v.decode() for k, v in m[2] if k == "ce_id")


def _record_id(record: Any) -> str:
    return next(v.decode() for k, v in record.headers if k == "ce_id")


def _runs(leaders: list[int]) -> list[int]:
    """The leaders in turn, without repeats: [0, 0, 2, 2] -> [0, 2]."""
    return [x for i, x in enumerate(leaders) if i == 0 or leaders[i - 1] != x]
