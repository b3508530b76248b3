"""The sessions projection's bulk replay path yields exactly the rows of the per-event handlers."""

from __future__ import annotations

from typing import Any

from bench.common import programme_events
from services.sessions.app import SPEC as SESSIONS
from services.sessions.handler_table import build_handlers
from shared.db import connect, migrate, service_migrations
from shared.events import Envelope, encode
from shared.events import pairing as p
from shared.events import sessions as s
from shared.infra import Infra
from shared.replay import Rebuild, diff
from shared.topics import Topics
from tests.kafka_helpers import produce


async def test_bulk_and_per_event_replay_give_identical_projections(
    infra: Infra, created_topics: Topics, new_database: Any
) -> None:
    topics = created_topics
    dsn = await new_database("bulk")
    await migrate(dsn, SESSIONS.migrations, service="sessions")
    events = list(programme_events(1500, seed=11))
    # another tenant with the very same ids (its own events, with their own ids): rows of its own, nothing clashes
    acme = [Envelope.new(e.data, tenant="acme", time=e.time) for e in events[:400]]
    acme.append(
        Envelope.new(
            p.ProgramLaunched(**{**events[0].data.model_dump(), "min_group_size": 7}),
            tenant="acme",
            time=events[0].time,
        )
    )
    events += acme
    # a duplicate delivery, an event the handlers reject (a second start rating), one for an unknown session
    events.append(events[40])
    events.append(
        Envelope.new(
            s.ConfidenceRated(
                pair_id="pair-0",
                programme_id="bench-programme",
                participant_id="mentee-0",
                phase="start",
                ratings={"ai-agents": 5},
            )
        )
    )
    events.append(
        Envelope.new(
            s.SessionLogged(
                pair_id="pair-0", programme_id="bench-programme", session_id="nope", held_at=events[5].time, minutes=10
            )
        )
    )
    by_topic: dict[str, list[tuple[bytes, bytes, list[tuple[str, bytes]]]]] = {}
    for env in events:
        rec = encode(env)
        by_topic.setdefault(topics.for_source(env.source), []).append((rec.key, rec.value, rec.headers))
    for topic, messages in by_topic.items():
        await produce(infra.kafka_bootstrap, topic, messages)

    results = {}
    for name, bulk in (("per_event", False), ("bulk", True)):
        rebuild = Rebuild(
            "sessions",
            dsn=dsn,
            bootstrap=infra.kafka_bootstrap,
            topics=[topics.pairing, topics.sessions],
            handlers=build_handlers(),
            migrations=service_migrations("sessions", SESSIONS.migrations),
            schema=name,
            bulk=bulk,
        )
        assert (rebuild.bulk is not None) == bulk
        await rebuild.prepare()
        await rebuild.run_to_end()
        await rebuild.close()
        results[name] = rebuild.stats
    assert await diff(dsn, "bulk", live_schema="per_event") == []
    conn = await connect(dsn)
    try:
        for schema in ("per_event", "bulk"):
            by_tenant = dict(await conn.fetch(f"SELECT tenant, count(*) FROM {schema}.pairs GROUP BY tenant"))
            assert by_tenant["acme"] > 0
            assert by_tenant["default"] > by_tenant["acme"]
            floors = dict(await conn.fetch(f"SELECT tenant, min_group_size FROM {schema}.programmes"))
            assert floors == {"default": 5, "acme": 7}
    finally:
        await conn.close()
    assert results["bulk"].applied == results["per_event"].applied
    assert results["bulk"].rejected == results["per_event"].rejected == 1
    assert results["bulk"].duplicates == results["per_event"].duplicates == 1
