"""Event-store lookup as history grows: the latency of a sessions command with 10,000 events in the sessions
service's outbox and with 1,000,000, measured side by side in the same run (goal: p99 at 1,000,000 at most
1.2 x p99 at 10,000).

The command is scheduling a session (POST /pairs/{id}/sessions): it rebuilds the pair's Mentorship from that
pair's events, which the service reads from its own kept outbox (`repository.HISTORY_QUERY`, on the index
outbox_tenant_key), decides, and appends the new event. Two deployments run at once, each pairing and
sessions as their own processes (`python -m services.pairing`, `... sessions`), as in production, with their
own topics and databases on the same embedded Postgres and broker; they differ only in how much history
their sessions outbox holds. Their commands alternate (open-loop: sent on a fixed schedule whatever the
answers, 20 a second to each, over 20 pairs each, from a lean keep-alive HTTP client, `bench.http`), so
whatever else the shared machine does at a moment lands on both; 40 commands to each warm up first and are
not counted. The pairs measured are created through pairing, known to the sessions projection, and have
confirmed their agreement; both deployments' pairs get the same commands, so their own histories are alike.

The rest of each outbox is other pairs' published history, written by COPY before the commands: one real
pair's life encoded as the service encodes it (agreement, goal, confidence checks, sessions scheduled,
rescheduled and logged, feedback, a few audit records keyed by the pair that the lookup skips), copied with
fresh ids for pair after pair, 1 to 19 events each (10 on average: 100,000 pairs at 1,000,000 events), a
fifth of them in a second tenant, interleaved in position as concurrent pairs' events are. Then VACUUM
ANALYZE and a CHECKPOINT, so neither lands in the measurement. Beside the latencies: the plan of the lookup
(EXPLAIN ANALYZE of the very query, for a measured pair, after its commands) in each outbox, and the sizes of
the outbox and of its index.

    python -m bench.eventstore [--quick]
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench.common import TOPICS, command_line, namespace, summary_ms
from bench.http import Client, HttpError
from bench.latency import setup_pairs, start_services
from services.sessions.repository import HISTORY_QUERY, HISTORY_TYPES
from shared.events import Envelope, EventPayload, encode
from shared.events import sessions as s
from shared.identity_provider import LocalIdentityProvider
from shared.infra import Infra, provide
from shared.topics import Topics, ensure_topics

SMALL = 10_000
LARGE, LARGE_QUICK = 1_000_000, 50_000
PAIRS = 20  # measured at each size
RATE = 20  # commands per second: each measured pair gets one a second
COMMANDS, COMMANDS_QUICK = 1_000, 120
WARMUP = 40
TENANT = "default"  # the bench's HR user's tenant
OTHER_TENANT = "acme"
TOKEN = "00000000-0000-4000-8000-00000000beef"  # the template pair's id, replaced by each copy's
COLUMNS = [
    "event_id",
    "event_type",
    "topic",
    "key",
    "subject",
    "headers",
    "payload",
    "occurred_at",
    "created_at",
    "published_at",
    "tenant",
]
COHORT = 1_000  # pairs living at the same time: their events interleave in the outbox


def _life(rnd: random.Random) -> list[EventPayload]:
    """One pair's sessions events, in order, as the service writes them (about 45)."""
    pair, prog = TOKEN, "2f9a3c1e-6b7d-4e58-9a0b-1c2d3e4f5a6b"
    mentor, mentee = f"{TOKEN[:-4]}0001", f"{TOKEN[:-4]}0002"
    common = {"pair_id": pair, "programme_id": prog}
    t0 = datetime(2026, 2, 2, 9, tzinfo=UTC)
    life: list[EventPayload] = [
        s.AgreementConfirmed(
            **common,
            participant_id=who,
            role=role,
            meeting_rhythm="every two weeks, 45 minutes",
            confidentiality=True,
            learning_focus="Getting useful answers from assistants",
        )
        for who, role in ((mentee, "mentee"), (mentor, "mentor"))
    ]
    goal = "Draft the weekly board memo with an assistant and check it against the sources"
    life.append(s.GoalSet(**common, goal_id=f"{pair}-g1", topic=rnd.choice(TOPICS), description=goal))
    life.append(s.ConfidenceRated(**common, participant_id=mentee, phase="start", ratings={t: 2 for t in TOPICS[:3]}))
    for j in range(8):
        sid, start = f"{pair}-s{j}", t0 + timedelta(days=14 * j)
        life.append(
            s.SessionScheduled(
                **common,
                session_id=sid,
                starts_at=start,
                duration_minutes=45,
                agenda="Prompt patterns; what to check before sending",
            )
        )
        if j % 4 == 3:
            start += timedelta(days=1)
            life.append(
                s.SessionRescheduled(**common, session_id=sid, starts_at=start, duration_minutes=45, sequence=1)
            )
        life.append(
            s.SessionLogged(
                **common,
                session_id=sid,
                held_at=start,
                minutes=45,
                topics=TOPICS[:2],
                tools=["ChatGPT", "Copilot"],
                action_items=["Try the memo template"],
            )
        )
        for who, role in ((mentee, "mentee"), (mentor, "mentor")):
            extra: dict[str, Any] = (
                {"productivity_gain": True, "minutes_saved_per_day": 30, "confidential_comment": "Helpful."}
                if role == "mentee"
                else {"team_productivity_gain": True, "career_benefit": True}
            )
            life.append(
                s.FeedbackSubmitted(
                    **common,
                    feedback_id=f"{sid}-{role}",
                    session_id=sid,
                    author_id=who,
                    author_role=role,
                    rating=rnd.randint(3, 5),
                    **extra,
                )
            )
        if j % 3 == 2:  # HR read the confidential comments: keyed by the pair, not part of its history
            life.append(
                s.SensitiveDataAccessed(
                    subject_id=pair, what="confidential comments", by="hr (Hannah Reuter)", role="hr"
                )
            )
    life.append(s.GoalAchieved(**common, goal_id=f"{pair}-g1"))
    life.append(s.ConfidenceRated(**common, participant_id=mentee, phase="end", ratings={t: 4 for t in TOPICS[:3]}))
    return life


def _template(topics: Topics, tenant: str, rnd: random.Random) -> list[tuple[str, str, str, str, str, str]]:
    """(event id, type, topic, subject, headers as JSON, payload) of each event of the template pair's life."""
    out = []
    for i, data in enumerate(_life(rnd)):
        env = Envelope.new(data, tenant=tenant, time=datetime(2026, 2, 2, tzinfo=UTC) + timedelta(hours=i))
        rec = encode(env)
        headers = json.dumps([[name, value.decode()] for name, value in rec.headers])
        out.append((env.id, env.type, topics.for_source(env.source), env.subject, headers, rec.value.decode()))
    return out


def _rows(topics: Topics, n: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """`n` outbox rows of other pairs' published history, cohort after cohort of pairs living side by side."""
    rnd = random.Random(seed)
    templates = {t: _template(topics, t, rnd) for t in (TENANT, OTHER_TENANT)}
    now = datetime.now(UTC)
    made = 0
    while True:
        cohort = [
            (
                str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                rnd.randint(1, 19),
                OTHER_TENANT if rnd.random() < 0.2 else TENANT,
            )
            for _ in range(COHORT)
        ]
        for step in range(19):
            for pair, length, tenant in cohort:
                if step >= length:
                    continue
                eid, etype, topic, subject, headers, payload = templates[tenant][step]
                new_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
                yield (
                    new_id,
                    etype,
                    topic,
                    pair,
                    subject.replace(TOKEN, pair),
                    headers.replace(eid, new_id).replace(TOKEN, pair),
                    payload.replace(TOKEN, pair),
                    now - timedelta(days=30) + timedelta(minutes=made),
                    now,
                    now,
                    tenant,
                )
                made += 1
                if made >= n:
                    return


async def _fill(dsn: str, topics: Topics, target: int, seed: int) -> float:
    """Grow the outbox to `target` rows, then VACUUM ANALYZE and CHECKPOINT. Returns the seconds it took."""
    conn = await asyncpg.connect(dsn)  # no JSON codec: the headers go in as the JSON text they are
    try:
        started = time.perf_counter()
        missing = max(0, target - await conn.fetchval("SELECT count(*) FROM outbox"))
        batch: list[tuple[Any, ...]] = []
        for row in _rows(topics, missing, seed):
            batch.append(row)
            if len(batch) == 50_000:
                await conn.copy_records_to_table("outbox", records=batch, columns=COLUMNS)
                batch.clear()
        if batch:
            await conn.copy_records_to_table("outbox", records=batch, columns=COLUMNS)
        await conn.execute("VACUUM ANALYZE outbox")
        await conn.execute("CHECKPOINT")
        return time.perf_counter() - started
    finally:
        await conn.close()


async def _explain(dsn: str, pair: str) -> tuple[str, float, list[str]]:
    """The lookup's plan for `pair`: its nodes in short, the median execution time of 5 runs (ms), the text."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.fetch(HISTORY_QUERY, TENANT, pair, HISTORY_TYPES)  # warm, as the service's reads are
        times, lines = [], []
        for _ in range(5):
            lines = [
                r[0]
                for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {HISTORY_QUERY}", TENANT, pair, HISTORY_TYPES)
            ]
            times.append(next(float(x.split(":")[1].split()[0]) for x in lines if x.startswith("Execution Time")))
    finally:
        await conn.close()
    nodes = [line.strip().removeprefix("->").strip().split("  (", 1)[0] for line in lines if "(cost=" in line]
    return " > ".join(nodes), statistics.median(times), lines


async def _sizes(dsn: str) -> tuple[int, float, float]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, pg_total_relation_size('outbox') AS total, "
            "pg_relation_size('outbox_tenant_key') AS idx FROM outbox"
        )
        assert row is not None
        return row["n"], row["total"] / 2**20, row["idx"] / 2**20
    finally:
        await conn.close()


async def _agree(sessions: str, sessions_dsn: str, pairs: list[str], hr: dict[str, str]) -> None:
    conn = await asyncpg.connect(sessions_dsn)
    try:
        people = await conn.fetch(
            "SELECT pair_id, mentor_id, mentee_id FROM projection.pairs WHERE pair_id = ANY($1::text[])", pairs
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=sessions, headers=hr, timeout=30) as client:
        for row in people:
            for who in (row["mentee_id"], row["mentor_id"]):
                r = await client.post(
                    f"/pairs/{row['pair_id']}/agreement",
                    json={"participant_id": who, "meeting_rhythm": "every two weeks", "confidentiality": True},
                )
                r.raise_for_status()


@dataclass
class Stack:
    """One deployment: pairing and sessions as their own processes, in their own topics and databases."""

    size: int  # events its sessions outbox is filled to
    topics: Topics
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    sessions: str = ""
    dsn: str = ""  # the sessions database
    pairs: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    fill_s: float = 0.0

    async def start(self, infra: Infra, issuer: str, hr: dict[str, str]) -> None:
        await ensure_topics(infra.kafka_bootstrap, self.topics)
        ns = self.topics.namespace
        self.procs, pairing, self.sessions = await start_services(infra, ns, issuer)
        base = infra.postgres_dsn.rsplit("/", 1)[0]
        self.dsn = f"{base}/{ns}_sessions"
        programme, self.pairs = await setup_pairs(pairing, f"{base}/{ns}_pairing", PAIRS, hr)
        watch = await asyncpg.connect(self.dsn)
        try:
            query = "SELECT count(*) FROM projection.pairs WHERE programme_id = $1"
            while await watch.fetchval(query, programme) < PAIRS:
                await asyncio.sleep(0.05)
        finally:
            await watch.close()
        await _agree(self.sessions, self.dsn, self.pairs, hr)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(15)


async def _load(stacks: list[Stack], hr: dict[str, str], total: int) -> None:
    """`WARMUP` + `total` schedule commands to each stack at `RATE` per second over its pairs, the stacks' turns
    alternating; each stack keeps the latencies of its counted ones (from when each was due to its answer)."""
    clients = [Client(stack.sessions, headers=hr) for stack in stacks]
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

    async def command(stack: Stack, client: Client, i: int, due: float) -> None:
        body = {
            "starts_at": (first + timedelta(hours=i)).isoformat(),
            "duration_minutes": 45,
            "agenda": "Prompt patterns; what to check before sending",
        }
        try:
            status, _ = await client.post(f"/pairs/{stack.pairs[i % len(stack.pairs)]}/sessions", body)
        except (OSError, HttpError):
            status = 0
        if i >= WARMUP:
            if status == 201:
                stack.latencies.append(time.perf_counter() - due)
            else:
                stack.failed += 1

    tasks = []
    start = time.perf_counter()
    for j in range((WARMUP + total) * len(stacks)):
        due = start + j / (RATE * len(stacks))
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        k = j % len(stacks)
        tasks.append(asyncio.create_task(command(stacks[k], clients[k], j // len(stacks), due)))
    await asyncio.gather(*tasks)
    for client in clients:
        await client.close()


async def _row(infra: Infra, stack: Stack, total: int) -> dict[str, Any]:
    plan, lookup_ms, text = await _explain(stack.dsn, stack.pairs[0])  # the pair's history after its commands
    print(
        f"    EXPLAIN (ANALYZE, BUFFERS) with {stack.size:,} events, pair {stack.pairs[0]}:",
        *text,
        sep="\n      ",
        flush=True,
    )
    rows, table_mib, index_mib = await _sizes(stack.dsn)
    return {
        "benchmark": "event store",
        "case": f"{stack.size:,} events in the outbox",
        "infra": infra.source,
        "outbox_rows_after": rows,  # the fill and the commands
        "outbox_mib": round(table_mib),
        "index_mib": round(index_mib, 1),
        "fill_s": round(stack.fill_s, 1),
        "commands": f"{len(stack.latencies)}/{total}",
        "http_errors": stack.failed,
        **{k: v for k, v in summary_ms(stack.latencies).items() if k != "p999_ms"},
        "lookup_plan": plan,
        "lookup_ms": lookup_ms,
    }


async def case(large: int, total: int) -> list[dict[str, Any]]:
    started = time.perf_counter()
    with provide() as infra:
        idp = LocalIdentityProvider().start()
        hr = {"authorization": f"Bearer {idp.user_token('hr')}"}
        stacks = [Stack(SMALL, namespace("es")), Stack(large, namespace("es"))]
        try:
            await asyncio.gather(*(stack.start(infra, idp.issuer, hr) for stack in stacks))
            for stack in stacks:
                stack.fill_s = await _fill(stack.dsn, stack.topics, stack.size, seed=stack.size)
            await _load(stacks, hr, total)
            small, big = [await _row(infra, stack, total) for stack in stacks]
        finally:
            for stack in stacks:
                stack.stop()
            idp.stop()
    ratio = round(big["p99_ms"] / small["p99_ms"], 2) if small["p99_ms"] else None
    return [
        small,
        big,
        {
            "benchmark": "event store",
            "case": f"{large:,} vs {SMALL:,} events",
            "ratio_p99_large_over_small": ratio,
            "ratio_p50_large_over_small": round(big["p50_ms"] / small["p50_ms"], 2) if small["p50_ms"] else None,
            "goal_ratio_p99_at_most_1_2": ratio is not None and ratio <= 1.2,
            "bench_s": round(time.perf_counter() - started),
        },
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(case(LARGE_QUICK, COMMANDS_QUICK) if quick else case(LARGE, COMMANDS))


def main() -> None:
    command_line(__doc__, run)


if __name__ == "__main__":
    main()
