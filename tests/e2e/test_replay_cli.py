"""`tandem replay` and `tandem projection diff` as an operator runs them, against a running service's data."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared.infra import Infra
from tests import auth
from tests.conftest import ServeFactory
from tests.integration.sessions.flows import agree, programme_with_pairs

ROOT = Path(__file__).resolve().parents[2]


async def test_replay_swaps_in_a_rebuilt_projection_and_diff_finds_nothing(serve: ServeFactory, infra: Infra) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    _, pairs = await programme_with_pairs(pairing, sessions.url, 2)
    async with auth.client(base_url=sessions.url) as client:
        for pair in pairs:
            await agree(client, pair)
            await client.post(f"/pairs/{pair['pair_id']}/goals", json={"topic": "ai-agents", "description": "x"})
    for _ in range(100):
        if await sessions.host.pool.fetchval("SELECT count(*) FROM projection.goals") == 2:
            break
        await asyncio.sleep(0.05)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "SESSIONS_DATABASE_URL": sessions.host.settings.dsn,
        "TANDEM_TOPIC_NAMESPACE": sessions.host.topics.namespace,
    }

    def tandem(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    rebuilt = await asyncio.to_thread(tandem, "replay", "sessions", "--no-swap")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    schema = rebuilt.stdout.split("rebuilt into schema ")[1].split()[0]
    assert "events/s" in rebuilt.stderr  # the progress line
    same = await asyncio.to_thread(tandem, "projection", "diff", "sessions", "--against", schema)
    assert same.returncode == 0, same.stdout
    assert "no differences" in same.stdout

    # the audit (the CronJob's command): rebuilt beside the live one, compared, dropped
    schemas = "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'projection_%'"
    before = await sessions.host.pool.fetchval(schemas)
    verified = await asyncio.to_thread(tandem, "projection", "verify", "sessions")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "the live projection is what the log says" in verified.stdout
    assert await sessions.host.pool.fetchval(schemas) == before, "the audit left its rebuild behind"
    await sessions.host.pool.execute("UPDATE projection.goals SET description = 'changed by hand' WHERE true")
    tampered = await asyncio.to_thread(tandem, "projection", "verify", "sessions")
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert "goals: 2 row(s) only live, 2 only in the rebuild" in tampered.stdout
    assert "changed by hand" in tampered.stdout
    assert await sessions.host.pool.fetchval(schemas) == before

    swapped = await asyncio.to_thread(tandem, "replay", "sessions")
    assert swapped.returncode == 0, swapped.stdout + swapped.stderr
    assert "swapped in" in swapped.stdout
    assert await sessions.host.pool.fetchval("SELECT generation FROM projection_state") == 1
    async with auth.client(base_url=sessions.url) as client:  # the service serves the new projection
        for _ in range(100):
            view = await client.get(f"/pairs/{pairs[0]['pair_id']}")
            if view.status_code == 200 and view.json()["agreement_complete"]:
                break
            await asyncio.sleep(0.05)
        assert view.json()["agreement_complete"] is True
        assert len(view.json()["goals"]) == 1

    bad = await asyncio.to_thread(tandem, "replay", "sessions", "--until", "2026-01-01")
    assert bad.returncode != 0
    assert "time zone" in bad.stderr
