"""Tenants kept apart and people reaching only their own, over the real broker, Postgres, SMTP server and tokens
of the real local identity provider."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.notifications.app import SPEC as NOTIFICATIONS
from shared.access import rule_for
from shared.config import ServiceSettings
from shared.events import Envelope, encode
from shared.events import pairing as p
from shared.events import sessions as s
from shared.identity_provider import LocalIdentityProvider
from shared.infra import Infra
from shared.runtime import ServiceHost
from shared.topics import Topics
from tests import auth
from tests.conftest import HostFactory, auth_settings
from tests.integration.notifications.conftest import rigged
from tests.integration.notifications.receiver import Receiver
from tests.integration.notifications.servers import SmtpServer
from tests.integration.notifications.test_delivery import Rig, until
from tests.integration.notifications.test_webhooks import FAST
from tests.kafka_helpers import eventually, produce, read_topic

A, B = "acme", "globex"


@pytest.fixture
async def rig(infra: Infra, start_service: HostFactory, smtp: SmtpServer) -> AsyncIterator[Rig]:
    """Tenant A's programme and people (the service is started by the test)."""
    async for r in rigged(infra, start_service, smtp, tenant=A):
        yield r


def twin(rig: Rig) -> Rig:
    """Tenant B on the same service: the very same programme, participant, employee and pair ids, its own people
    (their own addresses)."""
    other = Rig(rig.infra, rig.start, rig.smtp, tenant=B)
    other.host, other.url, other.domain = rig.host, rig.url, "globex.example"
    other.prog, other.mentor, other.mentee, other.pair = rig.prog, rig.mentor, rig.mentee, rig.pair
    return other


async def welcomed(rig: Rig) -> None:
    await rig.emit(*rig.people())
    await rig.no_quiet_hours()
    await rig.emit(rig.created())
    await until(lambda: rig.smtp.mailbox.to(rig.email(rig.mentor)) and rig.smtp.mailbox.to(rig.email(rig.mentee)))


def headers_for(role: str, tenant: str, employee_id: str) -> dict[str, str]:
    """A caller of this role in this tenant; a participant is the employee `employee_id`."""
    if role == "participant":
        return auth.headers("participant", tenant=tenant, employee_id=employee_id)
    return auth.headers(role, tenant=tenant)


#: Bodies of the commands among the routes with a path id (a new one fails the test until it is given one here,
#: so that it is tested and not merely refused for its body).
BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/recipients/{recipient_id}/preferences"): {"locale": "en", "quiet_start": None, "quiet_end": None},
}


async def test_every_route_with_a_path_id_answers_404_to_another_tenant(rig: Rig, receiver: Receiver) -> None:
    host = await rig.run(**FAST)
    await welcomed(rig)
    async with rig.hr() as hr:
        r = await hr.post("/webhooks/subscriptions", json={"url": receiver.url, "event_types": [p.PairPaused.TYPE]})
        assert r.status_code == 201, r.text
        subscription_id = r.json()["subscription_id"]
        await rig.emit(p.PairPaused(pair_id=rig.pair, programme_id=rig.prog, reason="holiday"))
        [delivery] = await eventually(lambda: _json(hr.get(f"/webhooks/subscriptions/{subscription_id}/deliveries")))
        assert (await hr.put("/chat-webhook-hosts", json={"hosts": ["hooks.acme.example"]})).status_code == 200
    [notification, *_] = await rig.history(rig.mentor)
    objects = {  # tenant A's object for each path parameter
        "recipient_id": rig.mentor,
        "notification_id": notification["notification_id"],
        "subscription_id": subscription_id,
        "delivery_id": delivery["delivery_id"],
    }
    employee = rig.employee_id(rig.mentor)  # tenant B has an employee with the same id: still not theirs

    routes = [
        (method.upper(), path)
        for path, operations in host.app.openapi()["paths"].items()
        if "{" in path and path != "/subjects/{employee_id}"  # known: false to another tenant (test_subject_access)
        for method in operations
    ]
    assert len(routes) >= 8, routes
    checked = []
    async with httpx.AsyncClient(base_url=rig.url) as client:
        for method, path in sorted(routes, key=lambda r: (r[0] == "DELETE", r[1], r[0])):  # deletions last
            rule = rule_for(host.app.state.access, method, path)
            assert rule is not None, (method, path)
            assert not rule.public, (method, path)
            names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
            missing = [n for n in names if n not in objects]
            assert not missing, f"{method} {path}: give the test a tenant A object for {missing}"
            url = path.format(**objects)
            body = BODIES.get((method, path))
            for role in sorted(rule.roles):  # every role that may call it, from tenant B
                r = await client.request(method, url, json=body, headers=headers_for(role, B, employee))
                assert r.status_code == 404, (method, path, role, r.status_code, r.text)
            # the control: tenant A reaches the very same object through the very same route
            role = "hr" if "hr" in rule.roles else sorted(rule.roles)[0]
            r = await client.request(method, url, json=body, headers=headers_for(role, A, employee))
            assert 200 <= r.status_code < 300 or r.status_code == 409, (method, path, role, r.status_code, r.text)
            checked.append((method, path))
    assert ("PUT", "/recipients/{recipient_id}/preferences") in checked

    # the lists without a path id show tenant B nothing of tenant A's
    async with auth.client("hr", tenant=B, base_url=rig.url) as theirs:
        assert (await theirs.get("/webhooks/subscriptions")).json() == []
        assert (await theirs.get("/chat-webhook-hosts")).json() == {"hosts": []}


async def test_another_tenants_events_never_plan_or_send_anything_to_our_people(rig: Rig) -> None:
    host = await rig.run()
    await welcomed(rig)
    other = twin(rig)
    await welcomed(other)  # the same ids in tenant B: B's own people are welcomed, at B's addresses
    starts = datetime.now(UTC) + timedelta(days=3)
    await other.emit(
        s.SessionScheduled(
            pair_id=other.pair, programme_id=other.prog, session_id="s1", starts_at=starts, duration_minutes=45
        )
    )
    await until(lambda: _rules(other, other.mentee, "planned"))
    await other.emit(
        p.ParticipantWithdrew(participant_id=other.mentor, programme_id=other.prog, reason="left_company"),
        p.PairEnded(pair_id=other.pair, programme_id=other.prog, reason="left_company", note="left"),
    )
    await until(lambda: other.smtp.mailbox.to(other.email(other.mentee))[1:])  # B's partner_left
    await host.app.state.dispatcher.scan(datetime.now(UTC))  # B's HR digest: B's mentee waits for a new partner
    [digest] = await until(lambda: rig.smtp.mailbox.to("hr@globex.example"))
    await asyncio.sleep(1.0)  # anything else on its way would arrive now

    for who in (rig.mentor, rig.mentee):  # tenant A's people: their welcome, nothing more
        assert [m["Subject"][:7] for m in rig.smtp.mailbox.to(rig.email(who))] in (["Welcome"], ["Willkom"])
        assert [(n["rule"], n["status"]) for n in await rig.history(who)] == [("welcome", "sent")]
    assert rig.smtp.mailbox.to("hr@acme.example") == []
    assert await rig.history(f"hr:{rig.prog}") == []
    assert await host.pool.fetchval("SELECT state FROM pairs WHERE tenant = $1 AND pair_id = $2", A, rig.pair) == (
        "active"
    )
    assert (
        await host.pool.fetchval(
            "SELECT withdrawn FROM recipients WHERE tenant = $1 AND participant_id = $2", A, rig.mentor
        )
        is False
    )
    # tenant B's: its welcome, its partner_left, its digest (B's people only), at B's addresses
    assert len(rig.smtp.mailbox.to(other.email(other.mentor))) == 1
    assert len(rig.smtp.mailbox.to(other.email(other.mentee))) == 2
    assert await _rules(other, other.mentee, "sent") == ["partner_left", "welcome"]
    assert await _rules(other, other.mentee, "cancelled") == ["reminder_1h", "reminder_24h"]
    assert f"(pair {other.pair})" in _text(digest)
    assert len(rig.smtp.mailbox.messages) == 2 + 4

    # every NotificationSent carries the tenant of its notification
    sent = await read_topic(rig.infra.kafka_bootstrap, host.topics.notifications, expect=6)
    tenants = sorted(dict(r.headers)["ce_tenant"].decode() for r in sent)
    assert tenants == [A] * 2 + [B] * 4


async def test_participants_reach_only_their_own_preferences_and_history_and_hr_cannot_change_them(
    rig: Rig,
) -> None:
    rig.tenant = auth.DEFAULT_TENANT
    await rig.run()
    await welcomed(rig)
    mine, hers = f"/recipients/{rig.mentor}", f"/recipients/{rig.mentee}"
    calm = {"locale": "en", "quiet_start": None, "quiet_end": None}
    async with rig.person(rig.mentor) as lena:
        assert (await lena.get(f"{mine}/preferences")).status_code == 200
        assert [n["rule"] for n in (await lena.get(f"{mine}/notifications")).json()] == ["welcome"]
        for r in (
            await lena.get(f"{hers}/preferences"),
            await lena.put(f"{hers}/preferences", json={**calm, "opted_out": True}),
            await lena.get(f"{hers}/notifications"),
            await lena.get(f"/recipients/hr:{rig.prog}/notifications"),
            await lena.get("/recipients/nobody/preferences"),
        ):
            assert r.status_code == 404, r.text
            assert r.json()["error"]["field"] == "recipient_id"
        assert (await lena.post(f"/notifications/{uuid.uuid4()}/resend")).status_code == 403
        assert (await lena.put(f"{mine}/preferences", json={**calm, "opted_out": True})).status_code == 200
    async with rig.person(rig.mentee) as ingrid:
        assert (await ingrid.get(f"{hers}/preferences")).json()["opted_out"] is False  # Lena changed nothing

    async with auth.client("participant", employee_id=None, base_url=rig.url) as nobody:  # no employee id
        assert (await nobody.get(f"{mine}/preferences")).status_code == 404
    async with auth.client("auditor", base_url=rig.url) as auditor:
        assert (await auditor.get(f"{mine}/preferences")).status_code == 403

    async with rig.hr() as hr:
        assert (await hr.get(f"{mine}/preferences")).json()["opted_out"] is True
        refused = await hr.put(f"{hers}/preferences", json={**calm, "opted_out": True})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert (await hr.get(f"{hers}/preferences")).json()["opted_out"] is False
        assert (await hr.get(f"{hers}/notifications")).status_code == 200
        assert (await hr.get("/recipients/nobody/notifications")).status_code == 404
        # ids in paths are safe ids; pages are bounded
        assert (await hr.get("/recipients/a%20b/preferences")).status_code == 422
        assert (await hr.get(f"/recipients/{'x' * 101}/notifications")).status_code == 422
        for query in ("limit=0", "limit=1001", "offset=-1", "offset=10000001"):
            bad = await hr.get(f"{hers}/notifications?{query}")
            assert bad.status_code == 422, query
            assert bad.json()["error"]["field"] in ("limit", "offset")
        await rig.emit(
            s.SessionScheduled(
                pair_id=rig.pair,
                programme_id=rig.prog,
                session_id="s1",
                starts_at=datetime.now(UTC) + timedelta(days=3),
                duration_minutes=30,
            )
        )
        await until(lambda: _rules(rig, rig.mentee, "planned"))
        everything = (await hr.get(f"{hers}/notifications")).json()
        assert len(everything) == 3  # welcome, reminder_24h, reminder_1h
        page = (await hr.get(f"{hers}/notifications?limit=1&offset=1")).json()
        assert [n["notification_id"] for n in page] == [everything[1]["notification_id"]]


@pytest.fixture
async def acme_only(
    infra: Infra,
    created_topics: Topics,
    new_database: Callable[[str], Awaitable[str]],
    identity_provider: LocalIdentityProvider,
) -> AsyncIterator[ServiceHost]:
    """The notifications service of a deployment that serves tenant A only (its tokens and its events)."""
    served = frozenset({A})
    settings = ServiceSettings(
        service=NOTIFICATIONS.name,
        database_url=await new_database("notifications"),
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        kafka_enable_idempotence=infra.kafka_idempotence,
        topics=created_topics,
        relay_poll_interval=0.2,
        kafka_session_timeout_ms=infra.session_timeout_ms,
        kafka_heartbeat_interval_ms=infra.heartbeat_interval_ms,
        kafka_fetch_max_wait_ms=infra.fetch_max_wait_ms,
        tenants=served,
        auth=dataclasses.replace(auth_settings(identity_provider), tenants=served),
        extra={"SCAN_INTERVAL": "3600"},
    )
    host = ServiceHost(NOTIFICATIONS, settings)
    await host.start()
    yield host
    await host.stop()


async def test_an_event_of_a_tenant_not_served_goes_to_the_dead_letters_and_the_partition_flows_on(
    acme_only: ServiceHost, infra: Infra
) -> None:
    host = acme_only
    person = f"p-{uuid.uuid4().hex[:6]}"  # one participant id, one key, one partition: the order holds

    def enrolled(tenant: str, name: str) -> Envelope[Any]:
        return Envelope.new(
            p.ParticipantEnrolled(
                participant_id=person,
                programme_id="prog",
                employee_id="E1",
                role="mentor",
                display_name=name,
                email=f"{name.lower()}@{tenant}.example",
                department="D",
                grade=3,
                languages=["en"],
            ),
            tenant=tenant,
        )

    theirs, ours = enrolled(B, "Mallory"), enrolled(A, "Lena")
    topic = host.topics.pairing
    for env in (theirs, ours):
        record = encode(env)
        await produce(infra.kafka_bootstrap, topic, [(record.key, record.value, record.headers)])
    await until(
        lambda: host.pool.fetchval("SELECT 1 FROM recipients WHERE tenant = $1 AND participant_id = $2", A, person)
    )
    assert await host.pool.fetchval("SELECT count(*) FROM recipients WHERE participant_id = $1", person) == 1
    assert await host.pool.fetchval("SELECT display_name FROM recipients WHERE participant_id = $1", person) == "Lena"
    dead = [
        r
        for r in await read_topic(infra.kafka_bootstrap, host.topics.dead_letter("notifications"), expect=1)
        if dict(r.headers)["ce_id"] == theirs.id.encode()
    ]
    assert len(dead) == 1
    headers = dict(dead[0].headers)
    assert (headers["dlq_kind"], headers["dlq_consumer"]) == (b"tenant", b"notifications")
    assert b"globex" in headers["dlq_error"]
    assert await host.pool.fetchval("SELECT outcome FROM inbox WHERE event_id = $1", ours.id) == "applied"
    assert host.consumer is not None
    assert host.consumer.stats.dead_lettered == 1
    # and its callers: a token of tenant B is refused, one of tenant A answered
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host.app), base_url="http://notifications") as c:
        refused = await c.get("/chat-webhook-hosts", headers=auth.headers("hr", tenant=B))
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "tenant_not_served")
        assert (await c.get("/chat-webhook-hosts", headers=auth.headers("hr", tenant=A))).status_code == 200


async def _json(response: Any) -> Any:
    r = await response
    assert r.status_code == 200, r.text
    return r.json()


async def _rules(rig: Rig, who: str, status: str) -> list[str]:
    return sorted(n["rule"] for n in await rig.history(who) if n["status"] == status)


def _text(message: Any) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return str(part.get_payload(decode=True).decode())
    raise AssertionError("no text part")
