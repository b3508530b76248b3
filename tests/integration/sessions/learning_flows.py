"""A mentorship with a history worth recording, driven over HTTP: for the learning-record and webhook tests."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events.sessions import LearningRecorded
from shared.outbox import wait_published
from shared.runtime import ServiceHost
from tests import auth
from tests.conftest import Running
from tests.integration.sessions.flows import agree, as_participant, programme_with_pairs
from tests.kafka_helpers import read_topic

CONFIDENTIAL = "Strictly between us: the board memo pilot saved my quarter."
OPPORTUNITY = "An AI-assisted reporting service for our clients"


@dataclass
class History:
    programme_id: str
    pair_id: str
    mentor_id: str
    mentee_id: str
    employee_ids: dict[str, str]  # participant id -> employee id


async def mentorship_with_history(pairing: Running, sessions: Running) -> History:
    """One pair that agreed, set two goals (one achieved), held two sessions (55 and 35 minutes: 1.5 h) and gave
    feedback with a confidential comment; returns once the sessions read model shows all of it."""
    programme_id, [pair] = await programme_with_pairs(pairing, sessions.url, 1)
    pid = pair["pair_id"]
    async with auth.client(base_url=pairing.url) as client:
        employees: dict[str, str] = {}
        for who in (pair["mentor_id"], pair["mentee_id"]):
            employees[who] = (await client.get(f"/participants/{who}")).json()["employee_id"]
    async with auth.client(base_url=sessions.url) as client:
        await agree(client, pair)
        goals = []
        for topic, text in (("prompt-writing", "Board memos with AI"), ("data-analysis", "Check the numbers")):
            r = await client.post(f"/pairs/{pid}/goals", json={"topic": topic, "description": text})
            assert r.status_code == 201, r.text
            goals.append(r.json()["events"][0]["data"]["goal_id"])
        r = await client.post(f"/pairs/{pid}/goals/{goals[0]}/achieve")
        assert r.status_code == 200, r.text
        start = datetime.now(UTC) - timedelta(days=2)
        for offset, minutes in ((0, 55), (1, 35)):
            at = start + timedelta(days=offset)
            r = await client.post(f"/pairs/{pid}/sessions", json={"starts_at": at.isoformat(), "duration_minutes": 60})
            assert r.status_code == 201, r.text
            session_id = r.json()["events"][0]["data"]["session_id"]
            r = await client.post(
                f"/pairs/{pid}/sessions/{session_id}/log", json={"held_at": at.isoformat(), "minutes": minutes}
            )
            assert r.status_code == 200, r.text
        r = await client.post(
            f"/pairs/{pid}/feedback",
            headers=as_participant(pair, pair["mentee_id"]),
            json={
                "author_id": pair["mentee_id"],
                "session_id": session_id,
                "rating": 5,
                "productivity_gain": True,
                "new_business_opportunity": True,
                "opportunity_text": OPPORTUNITY,
                "confidential_comment": CONFIDENTIAL,
            },
        )
        assert r.status_code == 201, r.text
        for _ in range(400):
            view = (await client.get(f"/pairs/{pid}")).json()
            held = [s for s in view["sessions"] if s["status"] == "held"]
            if len(held) == 2 and any(g["achieved_at"] for g in view["goals"]) and len(view["goals"]) == 2:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the sessions read model never showed the pair's history")
    return History(programme_id, pid, pair["mentor_id"], pair["mentee_id"], employees)


async def sessions_log(host: ServiceHost) -> list[Any]:
    """Every record of the sessions topic: all of it comes from this service's outbox, so its size is known."""
    await wait_published(host.pool)
    expect = await host.pool.fetchval("SELECT count(*) FROM outbox")
    return await read_topic(host.settings.kafka_bootstrap_servers, host.topics.sessions, expect=expect)


async def recorded(host: ServiceHost, n: int) -> bool:
    """At least n learning records are in the sessions service's outbox."""
    count = await host.pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = $1", LearningRecorded.TYPE)
    return bool(count >= n)


async def emitted(host: ServiceHost, event_type: str) -> str | None:
    """The id of the first event of this type the service put in its outbox, if any."""
    found: str | None = await host.pool.fetchval(
        "SELECT event_id FROM outbox WHERE event_type = $1 ORDER BY position LIMIT 1", event_type
    )
    return found


async def consumed(host: ServiceHost, event_id: str) -> bool:
    """The service's consumer has taken this event: its inbox row is committed."""
    return bool(await host.pool.fetchval("SELECT 1 FROM inbox WHERE event_id = $1", event_id))


def learning_records(records: list[Any]) -> list[tuple[dict[str, str], Any]]:
    """The LearningRecorded events among Kafka records: (ce_ headers, data)."""
    out = []
    for r in records:
        headers = {k: v.decode() for k, v in r.headers}
        if headers.get("ce_type") == LearningRecorded.TYPE:
            out.append((headers, json.loads(r.value)))
    return out
