"""What every benchmark needs: infrastructure, a fresh namespace, realistic events, percentiles."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from shared import personal
from shared.events import Envelope, encode
from shared.events import pairing as p
from shared.events import sessions as s
from shared.registry import owner_of
from shared.topics import Topics

TOPICS = ["prompt-writing", "office-copilots", "data-analysis", "ai-agents", "ai-risk-policy"]


def namespace(prefix: str) -> Topics:
    return Topics(namespace=f"bench{prefix}{uuid.uuid4().hex[:8]}", partitions=6)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 50) * 1000, 2),
        "p99_ms": round(percentile(values, 99) * 1000, 2),
        "p999_ms": round(percentile(values, 99.9) * 1000, 2),
        "mean_ms": round(statistics.fmean(values) * 1000, 2) if values else float("nan"),
    }


def programme_events(n_events: int, seed: int = 7, *, texts: bool = False) -> Iterator[Envelope[Any]]:
    """A realistic programme's log: launch, enrolments, pairs, then each pair's life (about 50 events each).
    With `texts`, people also write what they do in a real programme: goals at enrolment, a rationale, agendas,
    action items and feedback comments (the personal fields that get encrypted)."""
    said = (lambda text: text) if texts else (lambda text: "")
    rnd = random.Random(seed)
    t0 = datetime(2026, 1, 12, 9, tzinfo=UTC)
    prog = "bench-programme"
    yield Envelope.new(
        p.ProgramLaunched(
            programme_id=prog,
            name="Bench",
            starts_on=date(2026, 1, 12),
            ends_on=date(2026, 12, 31),
            cadence_days=14,
            focus_topics=TOPICS,
        ),
        time=t0,
    )
    produced = 1
    k = 0
    while produced < n_events:
        pair, mentor, mentee = f"pair-{k}", f"mentor-{k}", f"mentee-{k}"
        when = t0 + timedelta(minutes=k)
        for pid, role in ((mentor, "mentor"), (mentee, "mentee")):
            yield Envelope.new(
                p.ParticipantEnrolled(
                    participant_id=pid,
                    programme_id=prog,
                    employee_id=f"E-{pid}",
                    role=role,
                    display_name=f"Person {pid}",
                    email=f"{pid}@bench.example",
                    department="D",
                    grade=4 if role == "mentor" else 14,
                    languages=["en"],
                    teach_topics={"ai-agents": 3} if role == "mentor" else {},
                    learn_topics={"ai-agents": 2} if role == "mentee" else {},
                    goal=said(f"Person {pid} wants to draft board reports with an assistant"),
                ),
                time=when,
            )
        yield Envelope.new(
            p.PairCreated(
                pair_id=pair,
                programme_id=prog,
                mentor_id=mentor,
                mentee_id=mentee,
                rationale=said(f"covers 1 of Person {mentee}'s 1 goals: AI agents; both speak English"),
            ),
            time=when,
        )
        produced += 3
        life: list[Any] = []
        for who, role in ((mentee, "mentee"), (mentor, "mentor")):
            life.append(
                s.AgreementConfirmed(
                    pair_id=pair,
                    programme_id=prog,
                    participant_id=who,
                    role=role,
                    meeting_rhythm="biweekly",
                    confidentiality=True,
                )
            )
        life.append(
            s.GoalSet(
                pair_id=pair, programme_id=prog, goal_id=f"g-{k}", topic=rnd.choice(TOPICS), description="Use it weekly"
            )
        )
        life.append(
            s.ConfidenceRated(
                pair_id=pair, programme_id=prog, participant_id=mentee, phase="start", ratings={"ai-agents": 2}
            )
        )
        for j in range(8):
            sid = f"s-{k}-{j}"
            start = when + timedelta(days=14 * j)
            life.append(
                s.SessionScheduled(
                    pair_id=pair,
                    programme_id=prog,
                    session_id=sid,
                    starts_at=start,
                    duration_minutes=45,
                    agenda=said("Walk through last week's prompts and build one agent together"),
                )
            )
            if j % 4 == 3:
                life.append(
                    s.SessionRescheduled(
                        pair_id=pair,
                        programme_id=prog,
                        session_id=sid,
                        starts_at=start + timedelta(days=1),
                        duration_minutes=45,
                        sequence=1,
                    )
                )
            life.append(
                s.SessionLogged(
                    pair_id=pair,
                    programme_id=prog,
                    session_id=sid,
                    held_at=start,
                    minutes=45,
                    topics=["ai-agents"],
                    tools=["ChatGPT"],
                    action_items=[said("Try the meeting-notes agent"), said("Share two prompts")] if texts else [],
                )
            )
            for fb_who, fb_role in ((mentee, "mentee"), (mentor, "mentor")):
                extra = (
                    {"productivity_gain": rnd.random() < 0.8, "minutes_saved_per_day": rnd.choice([15, 30, 60])}
                    if fb_role == "mentee"
                    else {"team_productivity_gain": rnd.random() < 0.7}
                )
                if texts:
                    extra["confidential_comment"] = "The sessions run over; we could keep them to 45 minutes"
                life.append(
                    s.FeedbackSubmitted(
                        pair_id=pair,
                        programme_id=prog,
                        feedback_id=f"f-{k}-{j}-{fb_role}",
                        session_id=sid,
                        author_id=fb_who,
                        author_role=fb_role,
                        rating=5,
                        **extra,
                    )
                )
        life.append(s.GoalAchieved(pair_id=pair, programme_id=prog, goal_id=f"g-{k}"))
        life.append(
            s.ConfidenceRated(
                pair_id=pair, programme_id=prog, participant_id=mentee, phase="end", ratings={"ai-agents": 4}
            )
        )
        for i, payload in enumerate(life):
            if produced >= n_events:
                return
            yield Envelope.new(payload, time=when + timedelta(hours=i))
            produced += 1
        k += 1


def sealer(keys: dict[str, bytes], *, tenant: str = "default") -> Callable[[Envelope[Any]], bytes]:
    """What the outbox writes for an event (shared.outbox.append: personal fields sealed under their data keys),
    without a database: keys are made up in `keys` (key id -> data key) as they are first needed."""

    def value(env: Envelope[Any]) -> bytes:
        cls = type(env.data)
        if not cls.PERSONAL_FIELDS:
            return encode(env).value
        data = env.data.model_dump(mode="json")
        for path, container, name, scope in list(personal.fields_of(data, cls)):
            key_id = scope.key_id(owner_of(env.source), tenant)
            key = keys.setdefault(key_id, secrets.token_bytes(32))
            container[name] = personal.encrypt(container[name], key, env.id, path, key_id)
        return json.dumps(data, separators=(",", ":")).encode()

    return value


async def produce_events(
    bootstrap: str,
    topics: Topics,
    envs: Iterator[Envelope[Any]],
    value_of: Callable[[Envelope[Any]], bytes] | None = None,
) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    n = 0
    try:
        futures = []
        for env in envs:
            rec = encode(env)
            value = rec.value if value_of is None else value_of(env)
            futures.append(await producer.send(topics.for_source(env.source), value, key=rec.key, headers=rec.headers))
            n += 1
            if len(futures) >= 5000:
                for f in futures:
                    await f
                futures.clear()
        for f in futures:
            await f
    finally:
        await producer.stop()
    return n


def command_line(doc: str | None, run: Callable[..., list[dict[str, Any]]], *, events: bool = False) -> None:
    """A benchmark's command line: `--quick` (and `--events N` where it takes a size), then a row a line."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--quick", action="store_true")
    if events:
        parser.add_argument("--events", type=int)
    args = parser.parse_args()
    for row in run(args.quick, args.events) if events else run(args.quick):
        print(row)


async def wait_ready(*urls: str) -> None:
    """Wait for each service to answer /health/ready with 200 (a minute at most each; then go on regardless)."""
    async with httpx.AsyncClient() as client:
        for url in urls:
            for _ in range(600):
                try:
                    if (await client.get(f"{url}/health/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
