"""Audit from the log over the real broker: the timeline, the state as of a time, HTTP and the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared import audit as a
from shared.infra import Infra
from shared.outbox import wait_published
from tests import auth
from tests.cli import cli_env, tandem
from tests.conftest import Running, ServeFactory
from tests.integration.sessions.flows import agree


async def test_timeline_and_state_as_of_from_the_log(serve: ServeFactory, infra: Infra) -> None:
    pairing = await serve(PAIRING)
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post(
            "/programmes",
            json={
                "name": "Audit 2026",
                "starts_on": "2026-01-12",
                "ends_on": "2026-07-10",
                "focus_topics": ["ai-agents"],
                "launch": True,
            },
        )
        programme_id = r.json()["programme_id"]
    _, [pair] = await _pair(pairing, programme_id)
    pid = pair["pair_id"]
    async with auth.client(base_url=pairing.url) as client:
        paused = await client.post(
            f"/pairs/{pid}/pause", json={"reason": "parental leave"}, headers={"X-Correlation-Id": "hr-request-42"}
        )
        assert paused.status_code == 200
        await wait_published(pairing.host.pool)
        between = datetime.now(UTC)
        await asyncio.sleep(0.05)
        await client.post(f"/pairs/{pid}/end", json={"reason": "completed"})
        await wait_published(pairing.host.pool)

        timeline = (await client.get(f"/audit/{pid}")).json()
        assert [e["type"].rsplit(".", 1)[1] for e in timeline] == [
            "MatchRunCompleted",
            "PairCreated",
            "PairPaused",
            "PairEnded",
        ]
        assert timeline[2]["correlation_id"] == "hr-request-42"
        assert timeline[2]["summary"]["reason"] == "parental leave"
        state = (await client.get(f"/audit/{pid}", params={"as_of": between.isoformat()})).json()
        assert (state["kind"], state["state"]) == ("pair", "paused")
        again = (await client.get(f"/audit/{pid}", params={"as_of": between.isoformat()})).json()
        assert again == state  # the same answer every time
        await wait_published(pairing.host.pool)
        now = (await client.get(f"/audit/{pid}")).json()
        reads = [e for e in now if e["type"] == "tandem.pairing.SensitiveDataAccessed"]
        assert [e for e in now if e not in reads] == timeline  # the history itself is the same every time
        assert len(reads) == 3  # ... and every read of it is in it: the first timeline and the two as_of
        assert reads[0]["summary"]["what"] == "audit timeline (json)"
        assert "hr-default-staff" in reads[0]["summary"]["by"]
        csv_text = (await client.get(f"/audit/{pid}", params={"format": "csv"})).text
        assert csv_text.splitlines()[0].startswith("time,type,source")
        bad = await client.get(f"/audit/{pid}", params={"as_of": "2026-01-01T00:00:00"})
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "as_of"
        programme = (await client.get(f"/audit/{programme_id}", params={"as_of": datetime.now(UTC).isoformat()})).json()
        assert programme["kind"] == "programme"
        assert programme["pairs"] == {"active": 0, "paused": 0, "ended": 1}
        assert programme["participants"] == {"mentors": 1, "mentees": 1}

    env = cli_env(infra.kafka_bootstrap, pairing.host)
    out = await tandem("audit", pid, "--format", "json", env=env, check=True)
    history = [e for e in json.loads(out.stdout) if e["type"] != "tandem.pairing.SensitiveDataAccessed"]
    assert [e["event_id"] for e in history] == [e["event_id"] for e in timeline]
    table = await tandem("audit", pid, env=env, check=True)
    assert "PairPaused" in table.stdout
    assert "PairEnded" in table.stdout
    assert "SensitiveDataAccessed" in table.stdout  # the API's reads are in the log
    as_of = await tandem("audit", pid, "--as-of", between.isoformat(), env=env, check=True)
    whole = json.loads(as_of.stdout)  # the CLI puts every service's view of the pair together
    assert whole["state"] == "paused"
    assert whole["agreement"] == []
    assert whole["sessions"] == {}


async def test_each_service_answers_the_audit_for_its_own_part_of_a_pair(serve: ServeFactory) -> None:
    """The pairing service folds the pair's state and people by its domain; the sessions service its agreement,
    goals, sessions and feedback by its own. Neither needs the other's code."""
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post(
            "/programmes",
            json={
                "name": "Audit parts",
                "starts_on": "2026-01-12",
                "ends_on": "2026-07-10",
                "focus_topics": ["ai-agents"],
                "launch": True,
            },
        )
        _, [pair] = await _pair(pairing, r.json()["programme_id"])
    pid = pair["pair_id"]
    async with auth.client(base_url=sessions.url) as client:
        for _ in range(200):  # until sessions has read the pair from the log
            if (await client.get(f"/pairs/{pid}")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        await agree(client, pair)
        await wait_published(sessions.host.pool)
        now = datetime.now(UTC).isoformat()
        part = (await client.get(f"/audit/{pid}", params={"as_of": now})).json()
        assert part["kind"] == "pair"
        assert part["agreement"] == ["mentee", "mentor"]
        assert "state" not in part  # the pair's state is the pairing service's to say
        assert (await client.get("/audit/nobody-known", params={"as_of": now})).status_code == 404
    async with auth.client(base_url=pairing.url) as client:
        own = (await client.get(f"/audit/{pid}", params={"as_of": datetime.now(UTC).isoformat()})).json()
        assert own["state"] == "active"
        assert "agreement" not in own
    async with auth.client(base_url=sessions.url, role="participant") as client:
        assert (await client.get(f"/audit/{pid}")).status_code == 403


async def _pair(pairing: Running, programme_id: str) -> tuple[str, list[dict[str, str]]]:
    from tests import builders
    from tests.directory import enrol

    async with auth.client(base_url=pairing.url) as client:
        people = [builders.mentor(teach_topics={"ai-agents": 3}), builders.mentee(learn_topics={"ai-agents": 3})]
        assert (await enrol(client, pairing.url, pairing.host, programme_id, people)).status_code == 201
        run = (await client.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        pairs = (await client.post(f"/match-runs/{run['match_run_id']}/accept", json={})).json()
    return programme_id, pairs


def test_the_fold_is_deterministic_and_ignores_later_events() -> None:
    from shared.events import Envelope
    from shared.events import pairing as p

    t = [datetime(2026, 1, d, tzinfo=UTC) for d in range(1, 5)]
    envs = [
        Envelope.new(p.PairCreated(pair_id="x", programme_id="g", mentor_id="m", mentee_id="e"), time=t[0]),
        Envelope.new(p.PairPaused(pair_id="x", programme_id="g"), time=t[1]),
        Envelope.new(p.PairEnded(pair_id="x", programme_id="g", reason="withdrawn"), time=t[3]),
    ]
    logged = [a.Logged(e, "topic", 0, i) for i, e in enumerate(envs)]
    duplicated = [*logged, logged[1]]
    assert a.state_as_of(duplicated, "x", t[2])["state"] == "paused"
    assert a.state_as_of(list(reversed(duplicated)), "x", t[2]) == a.state_as_of(duplicated, "x", t[2])
    assert a.state_as_of(logged, "x")["end_reason"] == "withdrawn"
    assert [e.type.rsplit(".", 1)[1] for e in a.timeline(duplicated, "x")] == ["PairCreated", "PairPaused", "PairEnded"]
    assert a.state_as_of(logged, "nobody")["kind"] == "unknown"
