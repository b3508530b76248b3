"""Outbound webhooks over the real broker and Postgres, to real local HTTP receivers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from services.notifications.app import SPEC as NOTIFICATIONS
from services.notifications.webhooks import run_webhook_worker
from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared.events import Envelope, EventPayload, encode
from shared.events import pairing as p
from shared.events.sessions import LearningRecorded
from shared.localstack import free_port
from tests import auth
from tests.conftest import HostFactory, Running, ServeFactory
from tests.integration.notifications.receiver import Receiver
from tests.integration.notifications.servers import SmtpServer
from tests.integration.sessions.learning_flows import (
    CONFIDENTIAL,
    OPPORTUNITY,
    consumed,
    emitted,
    mentorship_with_history,
    recorded,
)
from tests.kafka_helpers import eventually, produce, read_topic

#: The development setting (http and loopback receivers) and short timings for tests.
FAST = {
    "WEBHOOK_ALLOW_INSECURE": "true",
    "WEBHOOK_INTERVAL": "0.05",
    "WEBHOOK_BACKOFF_BASE": "0.2",
    "WEBHOOK_BACKOFF_CAP": "1",
    "WEBHOOK_TIMEOUT": "5",
    "WEBHOOK_LEASE": "6",
}

Notifications = Callable[..., Awaitable[Running]]


@pytest.fixture
async def notifications(start_service: HostFactory, smtp: SmtpServer) -> AsyncIterator[Notifications]:
    """Start the notifications service with these settings and its HTTP API on a free port."""
    servers: list[tuple[Any, asyncio.Task[None]]] = []

    async def run(**extra: str) -> Running:
        host = await start_service(
            NOTIFICATIONS,
            extra={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SCAN_INTERVAL": "3600", **extra},
        )
        port = free_port()
        server = host.http_server(port)
        servers.append((server, asyncio.create_task(server.serve())))
        url = f"http://127.0.0.1:{port}"
        async with auth.client() as client:
            for _ in range(200):
                try:
                    if (await client.get(f"{url}/health/live")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        return Running(host, url)

    yield run
    for server, _ in servers:
        server.should_exit = True
    await asyncio.gather(*(task for _, task in servers))


async def subscribe(service: Running, url: str, *types: str, description: str = "HR platform") -> dict[str, Any]:
    async with auth.client(base_url=service.url) as client:
        r = await client.post(
            "/webhooks/subscriptions", json={"url": url, "event_types": list(types), "description": description}
        )
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def deliveries(service: Running, subscription_id: str) -> list[dict[str, Any]]:
    async with auth.client(base_url=service.url) as client:
        r = await client.get(f"/webhooks/subscriptions/{subscription_id}/deliveries")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def delivered_when(service: Running, subscription_id: str, status: str, n: int = 1) -> Callable[[], Awaitable[Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = [d for d in await deliveries(service, subscription_id) if d["status"] == status]
        return found if len(found) >= n else None

    return check


async def publish(service: Running, *payloads: EventPayload, tenant: str = "default") -> list[Envelope[Any]]:
    """Events as another service would put them on Kafka."""
    envs = [Envelope.new(x, tenant=tenant) for x in payloads]
    for env in envs:
        rec = encode(env)
        topic = service.host.topics.for_source(env.source)
        await produce(service.host.settings.kafka_bootstrap_servers, topic, [(rec.key, rec.value, rec.headers)])
    return envs


def paused(pair_id: str | None = None) -> p.PairPaused:
    return p.PairPaused(pair_id=pair_id or f"pair-{uuid.uuid4().hex[:8]}", programme_id="prog-w", reason="holiday")


# --------------------------------------------------------------------------------------------------


async def test_a_completion_reaches_the_hr_platform_once_signed_with_the_figures(
    serve: ServeFactory, notifications: Notifications, receiver: Receiver
) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    hub = await notifications(**FAST)
    sub = await subscribe(hub, receiver.url, LearningRecorded.TYPE)
    h = await mentorship_with_history(pairing, sessions)
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post(f"/pairs/{h.pair_id}/end", json={"reason": "completed"})
        assert r.status_code == 200, r.text
    await eventually(delivered_when(hub, sub["subscription_id"], "delivered", 2))

    events = {}
    for got in receiver.received:
        assert got.headers["content-type"].startswith("application/cloudevents+json")
        event = Webhook(sub["secret"]).verify(got.body, got.headers)  # raises unless signed with our secret
        events[event["data"]["participant_id"]] = event
        assert event["type"] == LearningRecorded.TYPE
        assert event["specversion"] == "1.0"
        assert event["source"] == "/tandem/sessions"
        assert event["tenant"] == "default"
        assert event["subject"] == event["data"]["participant_id"]
        assert CONFIDENTIAL.encode() not in got.body
        assert OPPORTUNITY.encode() not in got.body
    assert set(events) == {h.mentor_id, h.mentee_id}
    mentee = events[h.mentee_id]["data"]
    assert set(mentee) == set(LearningRecorded.model_fields)  # the record's facts, nothing else
    figures = ("outcome", "role", "sessions_held", "hours", "goals_set", "goals_achieved", "employee_id")
    assert {k: mentee[k] for k in figures} == {
        "outcome": "completed",
        "role": "mentee",
        "sessions_held": 2,
        "hours": 1.5,
        "goals_set": 2,
        "goals_achieved": 1,
        "employee_id": h.employee_ids[h.mentee_id],
    }
    assert events[h.mentor_id]["data"]["role"] == "mentor"

    # The trigger comes again (the pairing log redelivers it), and the programme closes (another trigger for the
    # same two people): no second record, no second delivery.
    log = await read_topic(pairing.host.settings.kafka_bootstrap_servers, pairing.host.topics.pairing, expect=1)
    [ended] = [r for r in log if dict(r.headers)["ce_type"] == p.PairEnded.TYPE.encode()]
    await produce(
        pairing.host.settings.kafka_bootstrap_servers, ended.topic, [(ended.key, ended.value, list(ended.headers))]
    )
    async with auth.client(base_url=pairing.url) as client:
        closed = await client.post(f"/programmes/{h.programme_id}/close")
        assert closed.status_code == 200, closed.text
    closed_id = await eventually(lambda: emitted(pairing.host, p.ProgramClosed.TYPE))
    await eventually(lambda: consumed(sessions.host, closed_id))
    await eventually(lambda: consumed(hub.host, closed_id))
    await eventually(lambda: _duplicates_seen(sessions, hub))
    await asyncio.sleep(0.5)  # time enough for the worker to send anything it had planned
    assert await recorded(sessions.host, 2)
    assert not await recorded(sessions.host, 3)
    assert len(receiver.received) == 2
    assert [d["attempts"] for d in await deliveries(hub, sub["subscription_id"])] == [1, 1]


async def _duplicates_seen(*services: Running) -> bool:
    return all(s.host.consumer is not None and s.host.consumer.stats.duplicates >= 1 for s in services)


async def test_a_failing_receiver_is_retried_with_the_same_webhook_id_until_it_recovers(
    notifications: Notifications, receiver: Receiver
) -> None:
    hub = await notifications(**FAST)
    sub = await subscribe(hub, receiver.url, p.PairPaused.TYPE)
    receiver.script = [500, 500, 500]
    [env] = await publish(hub, paused())
    [done] = await eventually(delivered_when(hub, sub["subscription_id"], "delivered"))

    assert len(receiver.received) == 4
    assert {r.headers["webhook-id"] for r in receiver.received} == {done["delivery_id"]}
    assert {r.body for r in receiver.received} == {receiver.received[0].body}  # the same bytes every time
    for r in receiver.received:
        assert Webhook(sub["secret"]).verify(r.body, r.headers)["id"] == env.id
    gaps = [b.at - a.at for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
    assert gaps[0] >= 0.09  # at least half of 0.2 s, 0.4 s, 0.8 s (jitter), growing
    assert gaps[1] >= 0.19
    assert gaps[2] >= 0.39
    assert done["attempts"] == 4
    assert done["last_status_code"] == 200
    assert done["last_error"] is None
    assert done["delivered_at"] is not None
    assert done["next_attempt_at"] is None
    assert (done["event_id"], done["event_type"]) == (env.id, p.PairPaused.TYPE)


async def test_a_receiver_that_always_fails_ends_dead_and_a_resend_delivers_once_it_recovers(
    notifications: Notifications, receiver: Receiver
) -> None:
    bounded = {"WEBHOOK_MAX_ATTEMPTS": "3", "WEBHOOK_BACKOFF_BASE": "0.05", "WEBHOOK_BACKOFF_CAP": "0.1"}
    hub = await notifications(**{**FAST, **bounded})
    sub = await subscribe(hub, receiver.url, p.PairPaused.TYPE)
    receiver.status = 503
    await publish(hub, paused())
    [dead] = await eventually(delivered_when(hub, sub["subscription_id"], "dead"))
    assert (dead["attempts"], dead["last_status_code"], dead["next_attempt_at"]) == (3, 503, None)
    assert dead["last_error"] == "answered 503"
    await asyncio.sleep(0.5)
    assert len(receiver.received) == 3  # the bound holds

    receiver.status = 200
    async with auth.client(base_url=hub.url) as client:
        r = await client.post(f"/webhooks/deliveries/{dead['delivery_id']}/resend")
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["attempts"]) == ("pending", 0)
        [done] = await eventually(delivered_when(hub, sub["subscription_id"], "delivered"))
        assert len(receiver.received) == 4
        assert {x.headers["webhook-id"] for x in receiver.received} == {dead["delivery_id"]}
        assert done["attempts"] == 1

        again = await client.post(f"/webhooks/deliveries/{dead['delivery_id']}/resend")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "not_resendable"
        unknown = await client.post(f"/webhooks/deliveries/{uuid.uuid4()}/resend")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["field"] == "delivery_id"


async def test_a_redirect_is_a_failure_and_is_not_followed(notifications: Notifications, receiver: Receiver) -> None:
    elsewhere = await Receiver().start()
    try:
        hub = await notifications(**{**FAST, "WEBHOOK_MAX_ATTEMPTS": "1"})
        sub = await subscribe(hub, receiver.url, p.PairPaused.TYPE)
        receiver.status, receiver.location = 307, elsewhere.url
        await publish(hub, paused())
        [dead] = await eventually(delivered_when(hub, sub["subscription_id"], "dead"))
        assert dead["last_status_code"] == 307
        assert "not followed" in dead["last_error"]
        assert len(receiver.received) == 1
        assert elsewhere.received == []
    finally:
        await elsewhere.stop()


async def test_a_worker_dying_mid_send_leaves_the_attempt_on_record_and_another_resends_it_with_the_same_id(
    notifications: Notifications, receiver: Receiver
) -> None:
    hub = await notifications(**{**FAST, "WEBHOOK_TIMEOUT": "1.5", "WEBHOOK_LEASE": "2"})
    sub = await subscribe(hub, receiver.url, p.PairPaused.TYPE)
    receiver.hold = True  # the request arrives; the answer never does
    await publish(hub, paused())
    await eventually(lambda: _received(receiver, 1), interval=0.01)
    [worker] = [t for t in asyncio.all_tasks() if t.get_name() == "notifications-run_webhook_worker"]
    worker.cancel()  # the worker dies mid-send
    [before] = await deliveries(hub, sub["subscription_id"])
    assert (before["status"], before["attempts"]) == ("pending", 1)  # the attempt was recorded before sending

    receiver.hold = False
    replica = asyncio.create_task(run_webhook_worker(hub.host))  # another replica takes over once the lease lapses
    try:
        [done] = await eventually(delivered_when(hub, sub["subscription_id"], "delivered"))
    finally:
        replica.cancel()
        await asyncio.gather(replica, return_exceptions=True)
    assert done["attempts"] == 2
    assert [r.headers["webhook-id"] for r in receiver.received] == [done["delivery_id"]] * 2
    assert receiver.received[1].at - receiver.received[0].at >= 1.9  # not before the lease lapsed


async def _received(receiver: Receiver, n: int) -> bool:
    return len(receiver.received) >= n


async def test_another_tenants_events_are_not_delivered_and_unsubscribing_stops_deliveries(
    notifications: Notifications, receiver: Receiver
) -> None:
    hub = await notifications(**FAST)
    sub = await subscribe(hub, receiver.url, p.PairPaused.TYPE, p.PairResumed.TYPE)
    pair = f"pair-{uuid.uuid4().hex[:8]}"  # one key, one partition: the two arrive in this order
    [theirs] = await publish(hub, paused(pair), tenant="other-co")
    [ours] = await publish(hub, paused(pair))
    await eventually(delivered_when(hub, sub["subscription_id"], "delivered"))
    assert await consumed(hub.host, theirs.id)
    await asyncio.sleep(0.3)
    [got] = receiver.received
    event = json.loads(got.body)
    assert (event["id"], event["tenant"]) == (ours.id, "default")
    assert [d["event_id"] for d in await deliveries(hub, sub["subscription_id"])] == [ours.id]

    async with auth.client(base_url=hub.url) as client:
        listed = (await client.get("/webhooks/subscriptions")).json()
        assert [s["subscription_id"] for s in listed] == [sub["subscription_id"]]
        one = (await client.get(f"/webhooks/subscriptions/{sub['subscription_id']}")).json()
        assert "secret" not in one
        assert "secret" not in listed[0]
        assert one["event_types"] == [p.PairPaused.TYPE, p.PairResumed.TYPE]
        assert (await client.delete(f"/webhooks/subscriptions/{sub['subscription_id']}")).status_code == 204
        assert (await client.get(f"/webhooks/subscriptions/{sub['subscription_id']}")).status_code == 404
        assert (await client.delete(f"/webhooks/subscriptions/{sub['subscription_id']}")).status_code == 404
    [later] = await publish(hub, p.PairResumed(pair_id=pair, programme_id="prog-w"))
    await eventually(lambda: consumed(hub.host, later.id))
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 1


async def test_subscriptions_are_validated_and_bad_ones_change_nothing(notifications: Notifications) -> None:
    hub = await notifications()  # no development setting: https and public receivers only
    good = [LearningRecorded.TYPE]
    cases = [
        ({"url": "https://hooks.example/in", "event_types": [*good, "tandem.sessions.Nope"]}, "event_types", "Nope"),
        ({"url": "https://hooks.example/in", "event_types": []}, "event_types", ""),
        ({"url": "http://hooks.example/in", "event_types": good}, "url", "https"),
        ({"url": "https://127.0.0.1:8443/in", "event_types": good}, "url", "loopback"),
        ({"url": "https://localhost/in", "event_types": good}, "url", "loopback"),
        ({"url": "https://169.254.169.254/latest", "event_types": good}, "url", "link-local"),
        ({"url": "https://10.0.0.7/in", "event_types": good}, "url", "private"),
        ({"event_types": good}, "url", ""),
    ]
    async with auth.client(base_url=hub.url) as client:
        for body, field, words in cases:
            r = await client.post("/webhooks/subscriptions", json=body)
            assert r.status_code == 422, (body, r.text)
            error = r.json()["error"]
            assert error["field"] == field, (body, error)
            assert words in error["message"], (body, error)
        assert (await client.get("/webhooks/subscriptions")).json() == []
        missing = await client.get(f"/webhooks/subscriptions/{uuid.uuid4()}/deliveries")
        assert missing.status_code == 404
    assert await hub.host.pool.fetchval("SELECT count(*) FROM webhook_subscriptions") == 0
