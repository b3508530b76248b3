"""Traces over the real stack: an HTTP command's trace goes through the outbox and Kafka (the CloudEvents
`ce_traceparent` header) into the consumer of another service, and on into the events a handler emits.

The spans are collected with the SDK's in-memory exporter; HTTP, Postgres and Kafka are real."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared import telemetry
from shared.events import Envelope, encode, hr
from shared.infra import Infra
from tests import auth, builders
from tests.conftest import ServeFactory
from tests.directory import enrol, pair
from tests.health import ready
from tests.kafka_helpers import eventually, produce, read_topic


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans this process ends while the test runs."""
    exporter = InMemorySpanExporter()
    telemetry.provider().add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the processor stays with the process's provider; a shut exporter keeps nothing


def hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


def traceparent_of(record: Any) -> str:
    return dict(record.headers).get("ce_traceparent", b"").decode()


async def test_an_http_command_and_the_consumer_of_its_event_share_one_trace(
    serve: ServeFactory, infra: Infra, spans: InMemorySpanExporter
) -> None:
    pairing = await serve(PAIRING)
    sessions = await serve(SESSIONS)
    for svc in (pairing, sessions):
        await eventually(lambda url=svc.url: ready(url))
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post("/programmes", json=builders.programme())
        programme_id = r.json()["programme_id"]
        people = [builders.mentor(), builders.mentee()]
        assert (await enrol(client, pairing.url, pairing.host, programme_id, people)).status_code == 201
        r = await pair(client, programme_id, people[0]["participant_id"], people[1]["participant_id"])
        assert r.status_code == 201, r.text
        pair_id = r.json()["pair_id"]

    [http] = [
        s for s in spans.get_finished_spans() if s.name == "POST /pairs" and s.kind == SpanKind.SERVER
    ]  # the server span is named after the route template
    assert http.attributes is not None
    assert http.attributes["http.route"] == "/pairs"
    trace_id = hex_trace(http)

    records = await read_topic(infra.kafka_bootstrap, pairing.host.topics.pairing, expect=4)
    [created] = [r for r in records if dict(r.headers)["ce_type"] == b"tandem.pairing.PairCreated"]
    assert created.key.decode() == pair_id
    version, record_trace, parent_span, flags = traceparent_of(created).split("-")
    assert (version, record_trace) == ("00", trace_id)
    assert int(flags, 16) & 1  # sampled

    def consumed() -> list[ReadableSpan]:
        return [
            s
            for s in spans.get_finished_spans()
            if s.kind == SpanKind.CONSUMER
            and s.name == "tandem.pairing.PairCreated process"
            and s.attributes is not None
            and str(s.attributes["messaging.consumer.group.name"]).endswith(".sessions")
            and s.attributes["messaging.message.id"] == dict(created.headers)["ce_id"].decode()
        ]

    async def seen() -> list[ReadableSpan]:
        return consumed()

    [consumer] = await eventually(seen)
    assert hex_trace(consumer) == trace_id
    assert consumer.parent is not None
    assert format(consumer.parent.span_id, "016x") == parent_span
    # the span that wrote the row is the unit of work's commit, inside the HTTP request
    [commit] = [s for s in spans.get_finished_spans() if s.context and format(s.context.span_id, "016x") == parent_span]
    assert commit.name == "unit of work commit"
    assert hex_trace(commit) == trace_id


async def test_events_a_handler_emits_carry_the_trace_of_the_event_it_handles(
    serve: ServeFactory, infra: Infra, spans: InMemorySpanExporter
) -> None:
    pairing = await serve(PAIRING)
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    employee_id = f"E{uuid.uuid4().hex[:8]}"
    hired = Envelope.new(
        hr.EmployeeHired(
            employee_id=employee_id,
            display_name="Anna Kowalska",
            email=f"{employee_id.lower()}@acme.example",
            department="Legal",
            grade=12,
            languages=["pl", "en"],
        ),
        tenant="default",
        time=datetime.now(UTC),
    )
    rec = encode(hired)
    headers = [*rec.headers, ("ce_traceparent", f"00-{trace_id}-{span_id}-01".encode())]
    await produce(infra.kafka_bootstrap, pairing.host.topics.hr_inbound, [(rec.key, rec.value, headers)])

    async def handled() -> list[ReadableSpan]:
        return [s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER and hex_trace(s) == trace_id]

    [consumer] = await eventually(handled)
    assert consumer.name == "tandem.hr.EmployeeHired process"
    assert consumer.parent is not None
    assert format(consumer.parent.span_id, "016x") == span_id

    records = await read_topic(infra.kafka_bootstrap, pairing.host.topics.directory, expect=1)
    mine = [r for r in records if r.key.decode() == employee_id]
    assert mine, "the directory event the handler emitted was not published"
    assert all(traceparent_of(r).split("-")[1] == trace_id for r in mine)
