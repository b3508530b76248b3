"""GET /metrics over the real stack (real HTTP, Postgres and Kafka protocol): the series the alerts read."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.notifications.app import SPEC as NOTIFICATIONS
from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared.infra import Infra
from shared.localstack import free_port
from tests import auth, builders
from tests.conftest import ServeFactory
from tests.directory import enrol, pair
from tests.health import answers, ready
from tests.kafka_helpers import eventually, produce

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(url: str) -> Samples:
    """Every sample of the service's /metrics, by (name, sorted labels); fetched without a token."""
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{url}/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def find(samples: Samples, name: str, **labels: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of `name` whose labels include `labels`."""
    return {
        key: value for (n, key), value in samples.items() if n == name and all((k, v) in key for k, v in labels.items())
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(find(samples, name, **labels).values())


async def test_metrics_show_http_outbox_relay_lag_dead_letters_notifications_and_match_runs(
    serve: ServeFactory, infra: Infra
) -> None:
    pairing = await serve(PAIRING)
    notifications = await serve(NOTIFICATIONS)
    for svc in (pairing, notifications):
        await eventually(lambda url=svc.url: ready(url))

    async with auth.client(base_url=pairing.url) as client:
        r = await client.post("/programmes", json=builders.programme())
        assert r.status_code == 201, r.text
        programme_id = r.json()["programme_id"]
        people = [builders.mentor(), builders.mentee(), builders.mentor(), builders.mentee()]
        r = await enrol(client, pairing.url, pairing.host, programme_id, people)
        assert r.status_code == 201, r.text
        r = await pair(client, programme_id, people[0]["participant_id"], people[1]["participant_id"])
        assert r.status_code == 201, r.text
        r = await client.post(f"/programmes/{programme_id}/match-runs", json={})
        assert r.status_code == 201, r.text
        missing = await client.get("/pairs/no-such-pair")
        assert missing.status_code == 404
        nowhere = await client.get("/no/such/route/42")
        assert nowhere.status_code == 404

    # a poison record on a topic notifications consumes: a dead letter there
    await produce(infra.kafka_bootstrap, pairing.host.topics.pairing, [(b"k", b"not an event", [])])

    p = await scrape(pairing.url)
    assert p[("tandem_http_requests_total", (("method", "POST"), ("route", "/programmes"), ("service", "pairing"),
                                              ("status", "201")))] == 1  # fmt: skip
    assert total(p, "tandem_http_requests_total", route="/pairs/{pair_id}", status="404", method="GET") == 1
    assert total(p, "tandem_http_requests_total", route="unmatched", status="404") == 1
    assert not [k for (n, k) in p if n == "tandem_http_requests_total" and ("route", "/pairs/no-such-pair") in k]
    assert total(p, "tandem_http_request_duration_seconds_count", route="/pairs/{pair_id}") == 1
    assert total(p, "tandem_match_run_duration_seconds_count", service="pairing") == 1
    assert total(p, "tandem_match_run_duration_seconds_sum", service="pairing") > 0
    assert total(p, "tandem_relay_errors_total", service="pairing") == 0

    async def published() -> Samples | None:
        now = await scrape(pairing.url)
        return now if total(now, "tandem_relay_published_total", service="pairing") >= 5 else None

    await eventually(published)

    async def notifications_seen() -> Samples | None:
        now = await scrape(notifications.url)
        planned = find(now, "tandem_notifications", service="notifications")
        dead = total(now, "tandem_dead_letters", service="notifications")
        return now if sum(planned.values()) >= 2 and dead >= 1 else None

    n = await eventually(notifications_seen, timeout=60)
    states = {dict(k)["state"] for k in find(n, "tandem_notifications")}
    assert {"planned", "sent", "failed", "cancelled"} <= states
    assert find(n, "tandem_dead_letters", service="notifications")
    lag = find(n, "tandem_consumer_lag", service="notifications", topic=pairing.host.topics.pairing)
    assert {dict(k)["partition"] for k in lag} == {"0", "1", "2"}
    assert all(v >= 0 for v in lag.values())
    assert n[("tandem_ready", (("service", "notifications"),))] == 1

    # the relay stops: what is written now stays in the outbox, and the backlog and its age say so
    assert pairing.host.relay is not None
    pairing.host.relay.stop()
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post("/programmes", json=builders.programme())
        assert r.status_code == 201, r.text

    async def backlog() -> Samples | None:
        now = await scrape(pairing.url)
        waiting = now[("tandem_outbox_backlog", (("service", "pairing"),))]
        age = now[("tandem_outbox_oldest_age_seconds", (("service", "pairing"),))]
        return now if waiting >= 1 and age > 0 else None

    await eventually(backlog, timeout=60)


async def test_metrics_is_public_and_not_in_the_openapi_document(serve: ServeFactory) -> None:
    svc = await serve(PAIRING)
    async with httpx.AsyncClient(base_url=svc.url) as client:
        r = await client.get("/metrics")
        assert r.status_code == 200
        assert "tandem_http_requests_total" in r.text
        schema: dict[str, Any] = (await client.get("/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


async def test_with_a_metrics_port_metrics_are_served_there_only(serve: ServeFactory) -> None:
    """In a cluster (<SERVICE>_METRICS_PORT set) the API's port, which the ingress exposes, has no /metrics; the
    metrics port, which only the monitoring namespace may reach, has them."""
    metrics_port = free_port()
    sessions = await serve(SESSIONS, metrics_port=metrics_port)
    server = sessions.host.metrics_server()
    assert server is not None
    task = asyncio.create_task(server.serve())
    try:
        assert await answers(f"http://127.0.0.1:{metrics_port}", "/metrics")
        async with httpx.AsyncClient() as client:
            on_api = await client.get(f"{sessions.url}/metrics")
            assert on_api.status_code == 404, on_api.text
            assert f"port {metrics_port}" in on_api.json()["error"]["message"]
            scraped = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert scraped.status_code == 200
            assert "tandem_ready" in scraped.text
            assert (await client.get(f"http://127.0.0.1:{metrics_port}/programmes")).status_code == 404
    finally:
        server.should_exit = True
        await task
