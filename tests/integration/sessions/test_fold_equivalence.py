"""The per-event projection folds a pair's history as the aggregate, the bulk replay and the audit do
(tests/unit/sessions/test_fold.py): for random histories, in any interleaving of the two topics, the rows
the live handlers write in Postgres are the aggregate's state; and the programmes and participants they keep
are the domain's."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.sessions.app import SPEC as SESSIONS
from services.sessions.handler_table import build_handlers
from shared.consumer import TRANSIENT
from shared.db import connect, ensure_database, migrate, service_migrations
from shared.infra import Infra
from shared.replay import Rebuild
from tests.conftest import unique
from tests.histories import History, histories, interleaved, references
from tests.unit.sessions.test_fold import REFERENCE_TABLES, TABLES, expected, expected_references, merged, normal

HANDLERS = build_handlers()


@pytest.fixture(scope="module")
async def projection(infra: Infra) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a fresh sessions projection schema."""
    dsn = await ensure_database(infra.postgres_dsn, unique("fold"))
    await migrate(dsn, SESSIONS.migrations, service="sessions")
    rebuild = Rebuild(
        "sessions",
        dsn=dsn,
        bootstrap="unused:9092",
        topics=[],
        handlers=HANDLERS,
        migrations=service_migrations("sessions", SESSIONS.migrations),
        schema="fold",
    )
    await rebuild.prepare()
    conn = await connect(dsn, search_path='"fold", public')
    yield conn
    await conn.close()
    await rebuild.close()


async def _apply(conn: asyncpg.Connection, events: list[Any]) -> int:
    """Each event through its replayable handlers in a transaction of its own; returns how many were refused."""
    refused = 0
    for env in events:
        try:
            async with conn.transaction():
                for handler in HANDLERS.for_type(env.type, replay=True):
                    await handler(conn, env)
        except TRANSIENT:
            raise
        except Exception:
            refused += 1
    return refused


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories(tenant="default"), histories(tenant="acme"), st.randoms(use_true_random=False))
async def test_the_per_event_projection_folds_every_history_as_the_aggregate(
    projection: asyncpg.Connection, h: History, other: History, rnd: random.Random
) -> None:
    """`other` is another tenant's pair with the very same ids."""
    await projection.execute(f"TRUNCATE {', '.join(TABLES)}")
    assert await _apply(projection, interleaved(rnd, h, other)) == 0
    found = {table: normal(table, await projection.fetch(f"SELECT * FROM {table}")) for table in TABLES}
    assert found == merged(expected(h), expected(other))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(references())
async def test_the_per_event_projection_keeps_programmes_and_participants_as_the_domain(
    projection: asyncpg.Connection, envelopes: list[Any]
) -> None:
    await projection.execute(f"TRUNCATE {', '.join(REFERENCE_TABLES)}")
    assert await _apply(projection, envelopes) == 0
    found = {t: normal(t, await projection.fetch(f"SELECT * FROM {t}")) for t in REFERENCE_TABLES}
    assert found == expected_references(envelopes)
