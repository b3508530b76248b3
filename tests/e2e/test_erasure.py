"""Erasure (issue 16) end to end: a person with data in every service is erased through the HR API; afterwards no
table of any service's database (every schema, every column, cast to text) holds their name, their address or the
free text of their pairs, the figures are the same, the pseudonymous ids are still there, and the audit timeline of
their pair still lists every event. Real services over a real broker and Postgres."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.erasure import PLACEHOLDER
from shared.events.pairing import PairCreated
from shared.events.sessions import FeedbackSubmitted
from shared.runtime import ServiceHost
from tests import auth, builders
from tests.conftest import Running, ServeAllFactory
from tests.directory import enrol
from tests.integration.notifications.servers import SmtpServer
from tests.kafka_helpers import eventually
from tests.personal_search import places_holding

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def smtp() -> Any:
    with SmtpServer() as server:
        yield server


async def leftovers(host: ServiceHost, needle: str) -> list[str]:
    """Every column of every table of the service's database, in every schema, that holds `needle` (text, jsonb and
    arrays as text; bytea as the raw bytes, such as a parked record or a dead letter): 'schema.table.column: ...'."""
    return await places_holding(host.settings.dsn, [needle])


def figures(outcomes: dict[str, Any]) -> dict[str, Any]:
    """The outcome figures without the names HR sees beside pairs at risk."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.endswith("_name")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return dict(strip(outcomes))


async def seeded(
    system: dict[str, Running], secret: str, other: str, text: str | None = None, mentor_text: str | None = None
) -> dict[str, Any]:
    """A programme with a mentor (named with `other`) and a mentee (named and addressed with `secret`), matched by
    a match run (its rationale names the mentee), with an agreement, a goal, a held and a cancelled session,
    feedback from both and a confidence check. The mentee's own writing and the pair's are written with `text`
    (default `secret`), the mentor's own writing (their learning focus, their feedback) with `mentor_text`
    (default `other`). Returns ids."""
    written = text or secret
    mentor_written = mentor_text or other
    pairing, sessions = system["pairing"], system["sessions"]
    mentor = builders.mentor(display_name=f"Otto O{other}", email=f"o{other}@privacy.example")
    mentee = builders.mentee(
        display_name=f"Q{secret} Erasmo",
        email=f"q{secret}@privacy.example",
        goal=f"learn prompts goal-{written}",
    )
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post("/programmes", json=builders.programme(min_group_size=3))
        assert r.status_code == 201, r.text
        programme_id = r.json()["programme_id"]
        r = await enrol(client, pairing.url, pairing.host, programme_id, [mentor, mentee])
        assert r.status_code == 201, r.text
        run = (await client.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        [pair] = (await client.post(f"/match-runs/{run['match_run_id']}/accept", json={})).json()
    assert f"Q{secret}" in str(pair["reasons"]) or f"Q{secret}" in pair["rationale"]
    pid = pair["pair_id"]
    now = datetime.now(UTC).replace(microsecond=0)
    async with auth.client(base_url=sessions.url) as client:
        await eventually(lambda: _status(client.get(f"/pairs/{pid}"), 200))
        for who in (mentee, mentor):
            r = await client.post(
                f"/pairs/{pid}/agreement",
                json={
                    "participant_id": who["participant_id"],
                    "meeting_rhythm": "every two weeks",
                    "confidentiality": True,
                    "learning_focus": f"focus-{written if who is mentee else mentor_written}",
                },
            )
            assert r.status_code == 201, r.text
        r = await client.post(f"/pairs/{pid}/goals", json={"topic": "ai-agents", "description": f"goal-{written}"})
        assert r.status_code == 201, r.text
        held, cancelled = builders.uid("s"), builders.uid("s")
        for sid, days in ((held, -2), (cancelled, 5)):
            r = await client.post(
                f"/pairs/{pid}/sessions",
                json={
                    "session_id": sid,
                    "starts_at": (now + timedelta(days=days)).isoformat(),
                    "agenda": f"a-{written}",
                },
            )
            assert r.status_code == 201, r.text
        r = await client.post(
            f"/pairs/{pid}/sessions/{held}/log",
            json={
                "held_at": (now - timedelta(days=2)).isoformat(),
                "minutes": 45,
                "topics": ["ai-agents"],
                "action_items": [f"item-{written}", "try Copilot"],
            },
        )
        assert r.status_code == 200, r.text
        r = await client.post(f"/pairs/{pid}/sessions/{cancelled}/cancel", json={"reason": f"ill-{written}"})
        assert r.status_code == 200, r.text
        r = await client.post(
            f"/pairs/{pid}/feedback",
            json={
                "author_id": mentee["participant_id"],
                "session_id": held,
                "rating": 5,
                "productivity_gain": True,
                "minutes_saved_per_day": 20,
                "new_business_opportunity": True,
                "opportunity_text": f"opportunity-{written}",
            },
            headers=auth.of(mentee),
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            f"/pairs/{pid}/feedback",
            json={
                "author_id": mentor["participant_id"],
                "session_id": held,
                "rating": 4,
                "career_benefit": True,
                "confidential_comment": f"comment-{mentor_written}",
            },
            headers=auth.of(mentor),
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            f"/pairs/{pid}/confidence",
            json={"participant_id": mentee["participant_id"], "phase": "start", "ratings": {"ai-agents": 2}},
            headers=auth.of(mentee),
        )
        assert r.status_code == 201, r.text

    async def arrived() -> bool:  # the notifications service knows both sessions (and the cancellation)
        rows = await system["notifications"].host.pool.fetch(
            "SELECT status FROM sessions WHERE pair_id = $1 ORDER BY status", pid
        )
        return [r["status"] for r in rows] == ["cancelled", "held"]

    await eventually(arrived)
    feedback = "SELECT count(*) FROM feedback WHERE pair_id = $1"
    await eventually(lambda: _equal(sessions.host.pool.fetchval(feedback, pid), 2))
    return {"programme_id": programme_id, "pair": pair, "mentor": mentor, "mentee": mentee}


async def _status(response: Any, code: int) -> bool:
    return bool((await response).status_code == code)


async def _equal(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_erasure_leaves_no_personal_data_and_keeps_the_figures_and_the_trail(
    serve_all: ServeAllFactory, smtp: SmtpServer
) -> None:
    extra = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "DISPATCH_INTERVAL": "0.05",
        "WEBHOOK_ALLOW_INSECURE": "true",  # the HR platform's endpoint below is plain http on the loopback
    }
    system = await serve_all(notifications={"extra": extra})
    secret, other = uuid.uuid4().hex, uuid.uuid4().hex
    async with auth.client(base_url=system["notifications"].url) as client:  # the HR platform hears of pairs, feedback
        hook = {"url": "http://127.0.0.1:9/hook", "event_types": [PairCreated.TYPE, FeedbackSubmitted.TYPE]}
        r = await client.post("/webhooks/subscriptions", json=hook)
        assert r.status_code == 201, r.text
    seed = await seeded(system, secret, other)
    pid, programme_id = seed["pair"]["pair_id"], seed["programme_id"]
    mentee = seed["mentee"]
    as_of = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    sessions, pairing, notifications = system["sessions"], system["pairing"], system["notifications"]

    async def outcomes() -> dict[str, Any]:
        async with auth.client(base_url=sessions.url) as client:
            r = await client.get(f"/programmes/{programme_id}/outcomes", params={"as_of": as_of})
            assert r.status_code == 200, r.text
            return figures(r.json())

    async def pair_views() -> tuple[dict[str, Any], dict[str, Any]]:
        async with auth.client() as client:
            p = (await client.get(f"{pairing.url}/pairs/{pid}")).json()
            s = (await client.get(f"{sessions.url}/pairs/{pid}")).json()
        return p, s

    before = await outcomes()
    async with auth.client(base_url=pairing.url) as client:
        r = await client.get(f"/audit/{pid}")
        assert r.status_code == 200, r.text
        trail_before = [e["event_id"] for e in r.json()]
    assert secret in r.text  # the timeline shows the person while they are there
    pairing_before, sessions_before = await pair_views()
    for running in system.values():  # the search finds what is there: the person is in every service
        assert await leftovers(running.host, secret), running.host.spec.name
    deliveries = "SELECT count(*) FROM webhook_deliveries WHERE strpos(body, $1) > 0"
    assert await notifications.host.pool.fetchval(deliveries, secret) == 2  # the pair's rationale, the feedback

    for name in ("sessions", "notifications"):  # a replay before the erasure keeps the replaced projection
        replayed = await asyncio.to_thread(tandem, system[name].host, "replay", name)
        assert "kept as projection_old_" in replayed.stdout, replayed.stdout + replayed.stderr
    assert any(p.startswith("projection_old_") for p in await leftovers(sessions.host, secret))

    async with auth.client(base_url=pairing.url) as client:
        r = await client.post(f"/subjects/{mentee['employee_id']}/erase", json={"reason": "request"})
        assert r.status_code == 200, r.text
        erased = r.json()
    assert erased["participant_ids"] == [mentee["participant_id"]]
    assert erased["pair_ids"] == [pid]
    assert secret not in r.text

    recipients = "SELECT display_name FROM recipients WHERE participant_id = $1"
    await eventually(
        lambda: _equal(notifications.host.pool.fetchval(recipients, mentee["participant_id"]), PLACEHOLDER)
    )
    participants = "SELECT display_name FROM participants WHERE participant_id = $1"
    await eventually(lambda: _equal(sessions.host.pool.fetchval(participants, mentee["participant_id"]), PLACEHOLDER))

    found = {name: await leftovers(running.host, secret) for name, running in system.items()}
    assert found == {name: [] for name in system}, found
    for running in system.values():  # the other person is untouched (and the search would have found them)
        assert await leftovers(running.host, other), running.host.spec.name

    assert await outcomes() == before  # every figure is the same
    pairing_after, sessions_after = await pair_views()
    assert (pairing_after["mentor_id"], pairing_after["mentee_id"], pairing_after["state"]) == (
        pairing_before["mentor_id"],
        pairing_before["mentee_id"],
        pairing_before["state"],
    )
    assert [(s["session_id"], s["status"], s["minutes"]) for s in sessions_after["sessions"]] == [
        (s["session_id"], s["status"], s["minutes"]) for s in sessions_before["sessions"]
    ]
    assert [s["action_items"] for s in sessions_after["sessions"] if s["status"] == "held"] == [[]]  # as the log
    async with auth.client("integration", base_url=pairing.url) as client:  # the SCIM client no longer sees them
        users = await client.get("/scim/v2/Users", params={"count": 200})
        assert users.status_code == 200, users.text
        assert PLACEHOLDER not in users.text
        assert seed["mentor"]["employee_id"] in users.text
    planned = "SELECT count(*) FROM notifications WHERE recipient_id = $1 AND status = 'planned'"
    assert await notifications.host.pool.fetchval(planned, mentee["participant_id"]) == 0

    outbox = "SELECT count(*) FROM outbox"
    written = await pairing.host.pool.fetchval(outbox)
    async with auth.client(base_url=pairing.url) as client:
        again = await client.post(f"/subjects/{mentee['employee_id']}/erase")
        assert again.status_code == 409, again.text
        assert "was erased on" in again.json()["error"]["message"]
        assert await pairing.host.pool.fetchval(outbox) == written  # nothing changed, nothing published
        timeline = await client.get(f"/audit/{pid}")
        assert timeline.status_code == 200, timeline.text
    types = [e["type"] for e in timeline.json()]
    assert "tandem.pairing.SubjectErased" in types
    assert "tandem.pairing.PairCreated" in types
    async with auth.client("participant", employee_id=mentee["employee_id"], base_url=pairing.url) as client:
        assert (await client.post(f"/subjects/{seed['mentor']['employee_id']}/erase")).status_code == 403
    async with auth.client(tenant="other-tenant", base_url=pairing.url) as client:
        assert (await client.post(f"/subjects/{seed['mentor']['employee_id']}/erase")).status_code == 404

    # the same command from the command line: the mentor now
    mentor_id = seed["mentor"]["employee_id"]
    done = await asyncio.to_thread(tandem, pairing.host, "erase", mentor_id, "--reason", "request by letter")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"erased {mentor_id} (1 enrolment(s), 1 pair(s))" in done.stdout
    await eventually(
        lambda: _equal(notifications.host.pool.fetchval(recipients, seed["mentor"]["participant_id"]), PLACEHOLDER)
    )
    found = {name: await leftovers(running.host, other) for name, running in system.items()}
    assert found == {name: [] for name in system}, found
    twice = await asyncio.to_thread(tandem, pairing.host, "erase", mentor_id)
    assert twice.returncode == 1, twice.stdout + twice.stderr
    assert f"employee {mentor_id} was erased on" in twice.stderr
    unknown = await asyncio.to_thread(tandem, pairing.host, "erase", "nobody-" + uuid.uuid4().hex[:8])
    assert unknown.returncode == 1, unknown.stderr
    assert "no employee" in unknown.stderr

    # every service with a projection rebuilds it from the log (pairing keeps no projection: its tables are the
    # write model, scrubbed above): the log's copies read as the placeholder now
    for name, running in system.items():
        if name == "pairing":
            continue
        replayed = await asyncio.to_thread(tandem, running.host, "replay", name)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert "swapped in" in replayed.stdout
        kept = replayed.stdout.split("kept as ")[1].split()[0]
        # the live scrub left exactly what the log rebuilds
        diff = await asyncio.to_thread(tandem, running.host, "projection", "diff", name, "--against", kept)
        assert diff.returncode == 0, diff.stdout + diff.stderr
        assert "no differences" in diff.stdout
    for needle in (secret, other):
        found = {name: await leftovers(running.host, needle) for name, running in system.items()}
        assert found == {name: [] for name in system}, (needle, found)
    async with auth.client(base_url=sessions.url) as client:
        r = await client.get(f"/programmes/{programme_id}/outcomes", params={"as_of": as_of})
        assert figures(r.json()) == before  # the rebuilt projection gives the same figures
        view = (await client.get(f"/pairs/{pid}")).json()
    held = [s for s in view["sessions"] if s["status"] == "held"]
    assert [(s["minutes"], s["action_items"], s["agenda"]) for s in held] == [(45, [], PLACEHOLDER)]

    # the audit timeline of the pair: every event still there, the person's data as the placeholder
    async with auth.client(base_url=pairing.url) as client:
        r = await client.get(f"/audit/{pid}")
        assert r.status_code == 200, r.text
    trail = [e["event_id"] for e in r.json()]
    assert set(trail_before) <= set(trail)
    assert [e["type"] for e in r.json()].count("tandem.pairing.SubjectErased") == 2
    assert PLACEHOLDER in r.text
    assert secret not in r.text
    assert other not in r.text


def tandem(host: ServiceHost, *args: str) -> subprocess.CompletedProcess[str]:
    """The `tandem` command against this service's database and broker."""
    prefix = host.spec.name.upper()
    env = {
        **os.environ,
        "TANDEM_STACK_FILE": "",
        "KAFKA_BOOTSTRAP_SERVERS": host.settings.kafka_bootstrap_servers,
        f"{prefix}_DATABASE_URL": host.settings.dsn,
        "TANDEM_TOPIC_NAMESPACE": host.topics.namespace,
    }
    return subprocess.run(
        [sys.executable, "-m", "services", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
