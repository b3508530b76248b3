"""Personal data in events, over the real stack: written encrypted (outbox and log), read decrypted by every
service through its own mirror of the key topic, and unreadable everywhere once its key is destroyed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from services.notifications.app import SPEC as NOTIFICATIONS
from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared import personal
from shared.events import decode
from shared.events.directory import EmployeeHired
from shared.events.pairing import ParticipantEnrolled
from shared.infra import Infra
from shared.personal import KEY_RECORD_TYPE, PLACEHOLDER, LocalKms
from tests import auth, builders
from tests.conftest import Running, ServeFactory
from tests.directory import enrol, provision
from tests.integration.sessions.flows import wait_for
from tests.kafka_helpers import eventually, read_topic, topic_keys
from tests.personal_search import places_holding

ROOT = Path(__file__).resolve().parents[2]


async def paired(pairing: Running, sessions: Running, name: str, email: str) -> dict[str, Any]:
    """A launched programme with one pair whose mentee is called `name` and reached at `email`."""
    async with auth.client(base_url=pairing.url) as client:
        programme_id = (await client.post("/programmes", json=builders.programme())).json()["programme_id"]
        mentor = builders.mentor()
        mentee = builders.mentee(display_name=name, email=email, goal=f"{name} wants to automate reporting")
        r = await enrol(client, pairing.url, pairing.host, programme_id, [mentor, mentee])
        assert r.status_code == 201, r.text
        run = (await client.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        [pair] = (await client.post(f"/match-runs/{run['match_run_id']}/accept", json={})).json()
    async with auth.client(base_url=sessions.url) as client:
        await wait_for(client, f"/pairs/{pair['pair_id']}")
    return {**pair, "programme_id": programme_id, "mentee": mentee}


async def published(host: Any) -> bool:
    return await host.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_personal_fields_travel_encrypted_and_every_service_reads_them(serve: ServeFactory, infra: Infra) -> None:
    pairing, sessions, notifications = await serve(PAIRING), await serve(SESSIONS), await serve(NOTIFICATIONS)
    tag = uuid.uuid4().hex[:8]
    name, email = f"Zelda Quorrington{tag}", f"zelda.{tag}@acme.example"
    pair = await paired(pairing, sessions, name, email)
    employee = pair["mentee"]["employee_id"]
    await eventually(lambda: published(pairing.host))

    # the outbox and the log hold ciphertext only; the services' own state holds what they need, decrypted
    for place in await places_holding(pairing.host.settings.dsn, [name, email]):
        assert not place.startswith("public.outbox"), place
    topics = pairing.host.topics
    for topic in (topics.directory, topics.pairing, topics.keys):
        for record in await read_topic(infra.kafka_bootstrap, topic, expect=1):
            value = record.value or b""
            assert name.encode() not in value, topic
            assert email.encode() not in value, topic
    assert await places_holding(sessions.host.settings.dsn, [name]), "sessions did not read the name"

    # every service mirrored pairing's key of the person, and decrypts with its own table
    key_id = f"pairing/{pairing.host.settings.tenant}/identity/{employee}"
    for svc in (sessions, notifications):

        async def mirrored(svc: Running = svc) -> bool:
            return bool(await svc.host.pool.fetchval("SELECT count(*) FROM data_keys WHERE key_id = $1", key_id))

        await eventually(mirrored)
        row = await svc.host.pool.fetchrow(
            "SELECT owner, kind, scope_id, wrapped FROM data_keys WHERE key_id = $1", key_id
        )
        assert (row["owner"], row["kind"], row["scope_id"]) == ("pairing", "identity", employee)
        assert bytes(row["wrapped"]) != b""
        assert len(bytes(row["wrapped"])) == 40

    # destroy the person's keys in pairing: a marker replaces the wrapped key in its outbox and on the key topic,
    # the other services' mirrors wipe their copies, and the log reads "[erased]" where the person was
    async with pairing.host.pool.acquire() as conn, conn.transaction():
        destroyed = await personal.destroy_keys(
            conn, topics, service="pairing", tenant=pairing.host.settings.tenant, reason="test",
            scope_ids=[employee, pair["mentee_id"], pair["pair_id"]],
        )  # fmt: skip
    assert key_id in destroyed
    async with pairing.host.pool.acquire() as conn, conn.transaction():
        again = await personal.destroy_keys(
            conn, topics, service="pairing", tenant=pairing.host.settings.tenant, reason="test", scope_ids=[employee]
        )
    assert again == []
    rows = await pairing.host.pool.fetch(
        "SELECT payload FROM outbox WHERE event_type = $1 AND key = $2", KEY_RECORD_TYPE, key_id
    )
    assert [r["payload"] for r in rows if '"wrapped"' in r["payload"]] == []
    assert len(rows) == 1
    assert '"destroyed":true' in rows[0]["payload"]
    for svc in (sessions, notifications):

        async def wiped(svc: Running = svc) -> bool:
            row = await svc.host.pool.fetchrow("SELECT wrapped, destroyed_at FROM data_keys WHERE key_id = $1", key_id)
            return row["wrapped"] is None and row["destroyed_at"] is not None

        await eventually(wiped)

    keys = await topic_keys(infra.kafka_bootstrap, topics.keys)
    assert keys.lookup(key_id) is None
    directory = await read_topic(infra.kafka_bootstrap, topics.directory, expect=2)
    hired = [
        e
        for e in (decode(r.headers, r.value, keys) for r in directory)
        if isinstance(e.data, EmployeeHired) and e.data.employee_id == employee
    ]
    assert [(e.data.display_name, e.data.email) for e in hired] == [(PLACEHOLDER, PLACEHOLDER)]
    pairing_log = await read_topic(infra.kafka_bootstrap, topics.pairing, expect=2)
    enrolled = [
        e
        for e in (decode(r.headers, r.value, keys) for r in pairing_log)
        if isinstance(e.data, ParticipantEnrolled) and e.data.employee_id == employee
    ]
    assert [(e.data.display_name, e.data.goal, e.data.grade) for e in enrolled] == [
        (PLACEHOLDER, PLACEHOLDER, pair["mentee"]["grade"])
    ]

    # a replay of the sessions service, with its own database alone, rebuilds without the name
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "SESSIONS_DATABASE_URL": sessions.host.settings.dsn,
        "TANDEM_TOPIC_NAMESPACE": topics.namespace,
    }
    rebuilt = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "services", "replay", "sessions", "--no-swap"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    schema = rebuilt.stdout.split("rebuilt into schema ")[1].split()[0]
    assert [p for p in await places_holding(sessions.host.settings.dsn, [name, email]) if p.startswith(schema)] == []
    assert await sessions.host.pool.fetchval(f'SELECT count(*) FROM "{schema}".pairs') == 1  # the pair is still there


async def test_an_event_written_after_the_keys_are_gone_carries_no_readable_personal_data(
    serve: ServeFactory, infra: Infra
) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    tag = uuid.uuid4().hex[:8]
    pair = await paired(pairing, sessions, f"Ada Erased{tag}", f"ada.{tag}@acme.example")
    employee = pair["mentee"]["employee_id"]
    async with pairing.host.pool.acquire() as conn, conn.transaction():
        await personal.destroy_keys(
            conn, pairing.host.topics, service="pairing", tenant=pairing.host.settings.tenant, reason="test",
            scope_ids=[employee],
        )  # fmt: skip
    # the directory learns a new e-mail for the erased person: the event is written, the address is not
    new = f"ada.new.{tag}@acme.example"
    async with auth.client(base_url=pairing.url) as client:
        await provision(client, pairing.url, pairing.host, [{**pair["mentee"], "email": new}])
    await eventually(lambda: published(pairing.host))
    for record in await read_topic(infra.kafka_bootstrap, pairing.host.topics.directory, expect=3):
        assert new.encode() not in (record.value or b"")


async def test_a_kek_rotation_rewraps_the_data_keys_and_the_old_kek_can_go(
    serve: ServeFactory, infra: Infra, tmp_path: Path
) -> None:
    old, new = tmp_path / "kek-old", tmp_path / "kek-new"
    old.write_text(personal.new_kek_text())
    new.write_text(personal.new_kek_text())
    personal.configure(LocalKms.from_file(old))
    try:
        pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
        tag = uuid.uuid4().hex[:8]
        name = f"Rota Tion{tag}"
        pair = await paired(pairing, sessions, name, f"rota.{tag}@acme.example")
        await eventually(lambda: published(pairing.host))
        old_id = personal.kms().key_id
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "PAIRING_DATABASE_URL": pairing.host.settings.dsn,
            "SESSIONS_DATABASE_URL": sessions.host.settings.dsn,
            "TANDEM_TOPIC_NAMESPACE": pairing.host.topics.namespace,
            "TANDEM_KEK_FILE": str(new),
            "TANDEM_KEK_PREVIOUS_FILES": str(old),
        }

        def tandem(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "services", *args], cwd=ROOT, env={**env, **extra},
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip

        # without the old KEK the new one cannot unwrap what the old one wrapped: said, nothing changed
        refused = await asyncio.to_thread(tandem, "keys", "rewrap", "pairing", TANDEM_KEK_PREVIOUS_FILES="")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "does not have" in refused.stderr
        assert await pairing.host.pool.fetchval("SELECT count(*) FROM data_keys WHERE kek_id <> $1", old_id) == 0

        personal.configure(LocalKms.from_file(new, [old]))  # the services restarted with the rotated settings
        for service in ("pairing", "sessions"):
            done = await asyncio.to_thread(tandem, "keys", "rewrap", service)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "re-wrapped with" in done.stdout
        await eventually(lambda: published(pairing.host))
        personal.configure(LocalKms.from_file(new))  # the old KEK is gone
        for host in (pairing.host, sessions.host):
            assert await host.pool.fetchval(
                "SELECT count(*) FROM data_keys WHERE destroyed_at IS NULL AND kek_id = $1", old_id
            ) == 0  # fmt: skip
        keys = await topic_keys(infra.kafka_bootstrap, pairing.host.topics.keys)  # the topic's latest wrapping
        enrolled = [
            e.data
            for e in (decode(r.headers, r.value, keys) for r in await read_topic(
                infra.kafka_bootstrap, pairing.host.topics.pairing, expect=2))
            if isinstance(e.data, ParticipantEnrolled) and e.data.employee_id == pair["mentee"]["employee_id"]
        ]  # fmt: skip
        assert [e.display_name for e in enrolled] == [name]
        async with auth.client(base_url=sessions.url) as client:  # sessions decrypts its own history with its table
            r = await client.post(f"/pairs/{pair['pair_id']}/goals", json={"topic": "ai-agents", "description": name})
            assert r.status_code in (200, 201), r.text
            assert (await client.get(f"/pairs/{pair['pair_id']}")).status_code == 200
    finally:
        personal.configure(None)
