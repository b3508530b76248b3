"""JSON log lines over the real stack: a request's and an event's lines carry the correlation id, the
causation id, the tenant and the trace id (shared.telemetry)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared.telemetry import JsonFormatter
from tests import auth, builders
from tests.conftest import ServeFactory
from tests.directory import enrol
from tests.health import ready
from tests.kafka_helpers import eventually


class Lines(logging.Handler):
    """Formats each record as it is logged (in the task that logs it, as the process's handler does)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("process"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    loggers = [logging.getLogger(name) for name in ("tandem.http", "shared.consumer")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_request_and_event_log_lines_carry_correlation_tenant_and_trace(
    serve: ServeFactory, lines: Lines
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
        r = await client.post(
            "/pairs",
            json={
                "programme_id": programme_id,
                "mentor_id": people[0]["participant_id"],
                "mentee_id": people[1]["participant_id"],
            },
            headers={"X-Correlation-Id": "corr-logs-1"},
        )
        assert r.status_code == 201, r.text

    [request] = [x for x in lines.lines if x["logger"] == "tandem.http" and x["message"].startswith("POST /pairs ")]
    assert request["level"] == "DEBUG"
    assert request["service"] == "pairing"
    assert request["correlation_id"] == "corr-logs-1"
    assert request["tenant"] == auth.DEFAULT_TENANT
    assert len(request["trace_id"]) == 32
    assert len(request["span_id"]) == 16

    async def applied() -> list[dict[str, Any]]:
        return [
            x
            for x in lines.lines
            if x["logger"] == "shared.consumer"
            and x["message"].startswith("sessions applied tandem.pairing.PairCreated")
        ]

    [event] = await eventually(applied)
    assert event["service"] == "sessions"
    assert event["correlation_id"] == "corr-logs-1"  # carried by the event from the request
    assert event["causation_id"] == event["message"].rsplit(" ", 1)[1]  # the event being applied
    assert event["tenant"] == auth.DEFAULT_TENANT
    assert event["trace_id"] == request["trace_id"]
    assert event["span_id"] != request["span_id"]
