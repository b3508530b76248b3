"""The services when a dependency goes away: a Postgres restart, and a broker that comes back without its
log (the local stack's memory-only Tansu) in both TANDEM_BROKER_LOSS modes. Each test runs its own Postgres
or broker, so that it can stop and start it without disturbing the rest of the suite.

A Kafka restart that keeps its log cannot be staged with Tansu here (its only storage in this build is
memory); the randomized fault suite cuts the services' connections to the broker instead (tests/faults).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared.db import ensure_database
from shared.localstack import EmbeddedKafka, EmbeddedPostgres
from shared.topics import Topics
from tests import auth, builders
from tests.conftest import ServeFactory
from tests.directory import enrol
from tests.kafka_helpers import eventually


@pytest.fixture
def own_kafka() -> Iterator[EmbeddedKafka]:
    root = Path(tempfile.mkdtemp(prefix="tandem-own-kafka-"))
    kafka = EmbeddedKafka(log_file=root / "tansu.log").start()
    yield kafka
    kafka.stop()


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    root = Path(tempfile.mkdtemp(prefix="tandem-own-pg-"))
    pg = EmbeddedPostgres(root / "pg", fast_unsafe=True).start()
    yield pg
    pg.stop()


def on(kafka: EmbeddedKafka, **overrides: Any) -> dict[str, Any]:
    """Settings for a service on this broker (it creates its topics, as the local stack does)."""
    return {
        "kafka_bootstrap_servers": kafka.bootstrap,
        "kafka_session_timeout_ms": EmbeddedKafka.SESSION_TIMEOUT_MS,
        "kafka_heartbeat_interval_ms": EmbeddedKafka.HEARTBEAT_INTERVAL_MS,
        "kafka_fetch_max_wait_ms": EmbeddedKafka.FETCH_MAX_WAIT_MS,
        "create_topics": True,
        "ready_stall_seconds": 5.0,
        "ready_relay_grace_seconds": 2.0,
        **overrides,
    }


async def readiness(url: str) -> tuple[int, list[str]]:
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{url}/health/ready")
    return r.status_code, r.json().get("reasons", [])


async def not_ready_because(url: str, words: str) -> Any:
    status, reasons = await readiness(url)
    return status == 503 and any(words in r for r in reasons) and reasons


async def ready(url: str) -> bool:
    return (await readiness(url))[0] == 200


async def our_topics(kafka: EmbeddedKafka, topics: Topics) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(topics.namespace + "."))
    finally:
        await admin.close()


async def test_in_alert_mode_a_broker_that_lost_its_log_is_reported_and_nothing_is_written_to_it(
    serve: ServeFactory, own_kafka: EmbeddedKafka, created_topics: Topics
) -> None:
    svc = await serve(PAIRING, **on(own_kafka, broker_loss="alert"))
    await eventually(lambda: ready(svc.url))
    async with auth.client(base_url=svc.url) as hr:
        assert (await hr.post("/programmes", json=builders.programme())).status_code == 201
        await eventually(lambda: _published(svc.host.pool))

        own_kafka.stop()
        reasons = await eventually(lambda: not_ready_because(svc.url, "unreachable"), timeout=30)
        assert any(own_kafka.bootstrap in r for r in reasons)

        own_kafka.start()  # the same address, an empty broker
        accepted = await hr.post("/programmes", json=builders.programme())
        assert accepted.status_code == 201  # commands still land in the outbox
        reasons = await eventually(lambda: not_ready_because(svc.url, "is missing"), timeout=30)
        assert any("lost its log" in r for r in reasons), reasons
    # nothing was created in, or published to, the wrong broker
    assert await our_topics(own_kafka, created_topics) == []
    assert await svc.host.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") >= 1
    assert svc.host.guard is not None
    assert svc.host.guard.state.recoveries == 0


async def test_in_recover_mode_the_local_stack_republishes_its_outbox_and_consumers_carry_on(
    serve: ServeFactory, own_kafka: EmbeddedKafka, created_topics: Topics
) -> None:
    pairing = await serve(PAIRING, **on(own_kafka, broker_loss="recover"))
    sessions = await serve(SESSIONS, **on(own_kafka, broker_loss="recover"))
    async with auth.client() as hr:
        programme = (await hr.post(f"{pairing.url}/programmes", json=builders.programme())).json()
        mentor, mentee = builders.mentor(), builders.mentee()
        r = await enrol(hr, pairing.url, pairing.host, programme["programme_id"], [mentor, mentee])
        assert r.status_code == 201, r.text
        body = {"programme_id": programme["programme_id"], "mentor_id": mentor["participant_id"],
                "mentee_id": mentee["participant_id"]}  # fmt: skip
        created = await hr.post(f"{pairing.url}/pairs", json=body)
        pair_id = created.json()["pair_id"]
        await eventually(lambda: _state(hr, sessions.url, pair_id, "active"))
        applied_before = await _applied(sessions.host.pool)

        own_kafka.stop()
        await eventually(lambda: not_ready_because(pairing.url, "unreachable"), timeout=30)
        own_kafka.start()  # empty: the log, the topics and the consumer groups are gone

        await eventually(lambda: ready(pairing.url), timeout=60)
        await eventually(lambda: ready(sessions.url), timeout=60)
        assert await our_topics(own_kafka, created_topics) == sorted(created_topics.all_topics(
            ["pairing", "sessions", "notifications"]))  # fmt: skip
        for svc in (pairing, sessions):
            assert svc.host.guard is not None
            assert svc.host.guard.state.recoveries >= 1
            await eventually(lambda svc=svc: _published(svc.host.pool), timeout=30)
        # a command after the loss flows through the new broker
        paused = await hr.post(f"{pairing.url}/pairs/{pair_id}/pause", json={"reason": "holiday"})
        assert paused.status_code == 200
        await eventually(lambda: _state(hr, sessions.url, pair_id, "paused"), timeout=30)
    # the republished history was recognised, not applied again
    assert await _applied(sessions.host.pool) == applied_before + 1
    assert await sessions.host.pool.fetchval("SELECT count(*) FROM inbox WHERE outcome = 'dead_lettered'") == 0


async def test_a_postgres_restart_answers_503_meanwhile_and_everything_reconnects(
    serve: ServeFactory, own_postgres: EmbeddedPostgres, infra: Any
) -> None:
    dsn = await ensure_database(own_postgres.dsn, "tandem_pairing")
    # a relay that polls only once a minute: a prompt publish after the restart proves its LISTEN is back
    svc = await serve(PAIRING, database_url=dsn, relay_poll_interval=60.0, ready_stall_seconds=5.0)
    await eventually(lambda: ready(svc.url))
    async with auth.client(base_url=svc.url) as hr:
        assert (await hr.post("/programmes", json=builders.programme())).status_code == 201
        await eventually(lambda: _published(svc.host.pool))

        own_postgres.stop()
        during = await hr.post("/programmes", json=builders.programme())
        assert during.status_code == 503, during.text
        assert during.headers["retry-after"] == "2"
        assert during.json()["error"]["code"] == "unavailable"
        await eventually(lambda: not_ready_because(svc.url, "database unavailable"), timeout=30)

        own_postgres.start()
        await eventually(lambda: ready(svc.url), timeout=60)
        assert svc.host.relay is not None
        await eventually(lambda: _leader(svc.host.relay), timeout=30)
        after = await eventually(lambda: _created(hr), timeout=30)
        assert after.status_code == 201
        await eventually(lambda: _published(svc.host.pool), timeout=20)  # woken by NOTIFY, not the 60 s poll
    assert svc.host.relay.stats.reconnects >= 1


async def _created(hr: httpx.AsyncClient) -> httpx.Response | None:
    r = await hr.post("/programmes", json=builders.programme())
    return r if r.status_code == 201 else None


async def _leader(relay: Any) -> bool:
    return bool(relay.stats.is_leader)


async def _published(pool: Any) -> bool:
    try:
        return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")) == 0
    except Exception:
        return False


async def _applied(pool: Any) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM inbox WHERE outcome = 'applied'"))


async def _state(client: httpx.AsyncClient, url: str, pair_id: str, state: str) -> bool:
    r = await client.get(f"{url}/pairs/{pair_id}")
    return r.status_code == 200 and r.json()["state"] == state
