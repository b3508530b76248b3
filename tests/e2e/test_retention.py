"""Retention of free text (issue 16) end to end: HR sets the tenant's policy; a programme with free text in every
service closes; the pairing service's retention job, run "months later" through its injectable clock, expires the
programme's free text in every service while names, numbers and ratings stay, and the audit timelines of the
programme and of its pair show the retention event. Real services over a real broker and Postgres."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.pairing.retention import run_once
from shared.erasure import PLACEHOLDER
from tests import auth
from tests.conftest import ServeAllFactory
from tests.e2e.test_erasure import figures, leftovers, seeded, tandem
from tests.kafka_helpers import eventually

MONTH = timedelta(days=31)


async def test_free_text_expires_months_after_the_programme_closed(serve_all: ServeAllFactory) -> None:
    system = await serve_all()
    pairing, sessions, notifications = system["pairing"], system["sessions"], system["notifications"]
    name, other, text = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    seed = await seeded(system, name, other, text, text)
    programme_id, pid = seed["programme_id"], seed["pair"]["pair_id"]
    elsewhere = f"tenant-{uuid.uuid4().hex[:8]}"

    async with auth.client(base_url=pairing.url) as client:
        assert (await client.get("/retention")).status_code == 404  # none set: free text is kept
        for wrong in (0, 121, "two years", 1.5):
            r = await client.put("/retention", json={"free_text_months": wrong})
            assert r.status_code == 422, r.text
            assert r.json()["error"]["field"] == "free_text_months", r.text
        r = await client.put("/retention", json={"free_text_months": 24})
        assert r.status_code == 200, r.text
        assert (await client.get("/retention")).json()["free_text_months"] == 24
        r = await client.post(f"/programmes/{programme_id}/close")
        assert r.status_code == 200, r.text
        closed_at = datetime.now(UTC)
    async with auth.client(tenant=elsewhere, base_url=pairing.url) as client:  # another tenant keeps a month
        assert (await client.put("/retention", json={"free_text_months": 1})).status_code == 200
    async with auth.client(base_url=sessions.url) as client:
        r = await client.get(f"/programmes/{programme_id}/outcomes", params={"as_of": closed_at.isoformat()})
        assert r.status_code == 200, r.text
        before = figures(r.json())

    async def expire(months: int) -> dict[str, list[str]]:
        report = await run_once(pairing.host.pool, pairing.host.topics, now=closed_at + months * MONTH)
        return report.expired

    assert await expire(2) == {}  # the other tenant's month does not apply here
    assert await expire(23) == {}  # closed "recently": kept
    for running in system.values():
        assert await leftovers(running.host, text), running.host.spec.name
    assert await expire(25) == {"default": [programme_id]}
    assert await expire(26) == {}  # once

    feedback = "SELECT opportunity_text FROM feedback WHERE pair_id = $1 AND opportunity_text IS NOT NULL"
    await eventually(lambda: _equal(sessions.host.pool.fetchval(feedback, pid), PLACEHOLDER))
    agenda = "SELECT agenda FROM sessions WHERE pair_id = $1 LIMIT 1"
    await eventually(lambda: _equal(notifications.host.pool.fetchval(agenda, pid), PLACEHOLDER))
    found = {service: await leftovers(running.host, text) for service, running in system.items()}
    assert found == {service: [] for service in system}, found
    for running in system.values():  # names are not free text: they stay
        assert await leftovers(running.host, name), running.host.spec.name

    async with auth.client(base_url=sessions.url) as client:
        r = await client.get(f"/programmes/{programme_id}/outcomes", params={"as_of": closed_at.isoformat()})
        assert figures(r.json()) == before
        view = (await client.get(f"/pairs/{pid}")).json()
    assert [(s["minutes"], s["action_items"]) for s in view["sessions"] if s["status"] == "held"] == [(45, [])]
    async with auth.client(base_url=pairing.url) as client:
        for subject in (programme_id, pid):
            r = await client.get(f"/audit/{subject}")
            assert r.status_code == 200, r.text
            [event] = [e for e in r.json() if e["type"] == "tandem.pairing.FreeTextExpired"]
            assert event["summary"]["programme_id"] == programme_id
            assert event["summary"]["free_text_months"] == 24

    ran = await asyncio.to_thread(tandem, pairing.host, "retention", "run")  # now: nothing is due
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "nothing to do" in ran.stdout


async def _equal(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
