"""When a pair ends, the sessions service calls off its sessions still to come, once, over the real stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared.events import decode
from shared.events.pairing import PairEnded
from shared.events.sessions import SessionCancelled
from tests import auth
from tests.conftest import ServeFactory
from tests.integration.sessions.flows import agree, programme_with_pairs
from tests.kafka_helpers import eventually, produce, read_topic, topic_keys


async def test_the_sessions_of_an_ended_pair_that_were_still_to_come_are_cancelled_once(
    serve: ServeFactory,
) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    _, [pair] = await programme_with_pairs(pairing, sessions.url, 1)
    pid = pair["pair_id"]
    now = datetime.now(UTC)
    async with auth.client(base_url=sessions.url) as client:
        await agree(client, pair)
        ids = {}
        for name, start in (
            ("past", now - timedelta(hours=2)),
            ("next", now + timedelta(days=3)),
            ("later", now + timedelta(days=10)),
            ("off", now + timedelta(days=5)),
        ):
            r = await client.post(f"/pairs/{pid}/sessions", json={"starts_at": start.isoformat(), "agenda": name})
            assert r.status_code == 201, r.text
            ids[name] = r.json()["events"][0]["data"]["session_id"]
        r = await client.post(f"/pairs/{pid}/sessions/{ids['off']}/cancel", json={"reason": "travel"})
        assert r.status_code == 200, r.text

    async with auth.client(base_url=pairing.url) as client:
        r = await client.post(f"/pairs/{pid}/end", json={"reason": "by_hr", "note": "Lena Yilmaz left the company"})
        assert r.status_code == 200, r.text

    async def cancelled() -> dict[str, Any] | None:
        async with auth.client(base_url=sessions.url) as client:
            view = (await client.get(f"/pairs/{pid}")).json()
        by_id = {s["session_id"]: s for s in view["sessions"]}
        return by_id if view["state"] == "ended" and by_id[ids["later"]]["status"] == "cancelled" else None

    by_id = await eventually(cancelled)
    reason = "the pair ended: Lena Yilmaz left the company"
    assert (by_id[ids["next"]]["status"], by_id[ids["next"]]["cancel_reason"], by_id[ids["next"]]["sequence"]) == (
        "cancelled",
        reason,
        1,
    )
    assert by_id[ids["later"]]["cancel_reason"] == reason
    assert (by_id[ids["off"]]["status"], by_id[ids["off"]]["cancel_reason"]) == ("cancelled", "travel")
    assert by_id[ids["past"]]["status"] == "scheduled"  # began before the end: it may still be logged

    host = sessions.host
    cancels = f"SELECT count(*) FROM outbox WHERE event_type = '{SessionCancelled.TYPE}'"
    assert await host.pool.fetchval(cancels) == 3  # one by hand, two by the end of the pair
    # the cancellations are caused by the PairEnded (same correlation, causation = its id)
    records = await read_topic(host.settings.kafka_bootstrap_servers, host.topics.pairing, expect=1, timeout=5)
    keys = await topic_keys(host.settings.kafka_bootstrap_servers, host.topics.keys)
    ended = [e for e in (decode(r.headers, r.value, keys) for r in records) if e.type == PairEnded.TYPE]
    assert len(ended) == 1
    [end] = ended
    published = await read_topic(host.settings.kafka_bootstrap_servers, host.topics.sessions, expect=1, timeout=5)
    keys = await topic_keys(host.settings.kafka_bootstrap_servers, host.topics.keys)
    caused = [
        e
        for e in (decode(r.headers, r.value, keys) for r in published)
        if e.causationid == end.id and isinstance(e.data, SessionCancelled)
    ]
    assert sorted(e.data.session_id for e in caused) == sorted([ids["next"], ids["later"]])

    # redelivered: the same record again (the inbox drops it) ...
    assert host.consumer is not None
    consumer = host.consumer
    duplicates = consumer.stats.duplicates
    keys = await topic_keys(host.settings.kafka_bootstrap_servers, host.topics.keys)
    [record] = [r for r in records if decode(r.headers, r.value, keys).id == end.id]
    await produce(
        host.settings.kafka_bootstrap_servers, host.topics.pairing, [(record.key, record.value, list(record.headers))]
    )
    await eventually(lambda: _true(consumer.stats.duplicates > duplicates))
    # ... and the side effect runs again on it past the inbox (as if its inbox row were lost): the aggregate
    # finds nothing left to cancel
    side_effects = [
        f
        for f in consumer.handlers.for_type(PairEnded.TYPE)
        if f in consumer.handlers.with_side_effects and f.__name__ == "call_off_sessions"
    ]
    assert len(side_effects) == 1
    async with host.pool.acquire() as conn, conn.transaction():
        await side_effects[0](conn, end)
    assert await host.pool.fetchval(cancels) == 3


async def _true(value: bool) -> bool:
    return value
