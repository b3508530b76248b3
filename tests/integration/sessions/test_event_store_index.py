"""The event-store lookup (one pair's history from the sessions outbox) reads through its index, so a command's
cost does not grow with the whole outbox. Plans only: no timing is asserted.

The plan is taken for the very query `load_mentorship` runs (repository.HISTORY_QUERY), both as the planner
makes it for the values given (a custom plan) and as a prepared statement may keep it for any values (the
generic plan asyncpg's cached statements can end up using).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from services.sessions.app import SPEC as SESSIONS
from services.sessions.repository import HISTORY_QUERY, HISTORY_TYPES
from shared.db import connect, migrate

PAIRS = 2_000
ROWS = 40_000  # about 20 events per pair, interleaved as concurrent pairs' events are

#: Other pairs' published history: each row about the size of a real one (headers ~400 B, payload ~300 B).
FILL = """
INSERT INTO outbox (event_id, event_type, topic, key, subject, headers, payload, occurred_at, tenant,
                    published_at)
SELECT 'e-' || i,
       (ARRAY['tandem.sessions.SessionScheduled', 'tandem.sessions.SessionLogged',
              'tandem.sessions.FeedbackSubmitted', 'tandem.sessions.SensitiveDataAccessed'])[1 + (i / $1) % 4],
       'sessions', 'pair-' || (i % $1), 's-' || i,
       jsonb_build_array(jsonb_build_array('ce_id', 'e-' || i), jsonb_build_array('ce_tenant', 'default'),
                         jsonb_build_array('ce_source', '/tandem/sessions'),
                         jsonb_build_array('ce_pad', repeat('h', 300))),
       '{"pair_id": "pair-' || (i % $1) || '", "pad": "' || repeat('p', 280) || '"}',
       now(), CASE WHEN (i / $1) % 10 = 0 THEN 'acme' ELSE 'default' END, now()
FROM generate_series(1, $2) AS i
"""


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


@pytest.mark.parametrize("plan_cache_mode", ["force_custom_plan", "force_generic_plan"])
async def test_a_pairs_history_is_read_through_the_tenant_key_index(
    new_database: Callable[[str], Awaitable[str]], plan_cache_mode: str
) -> None:
    dsn = await new_database("eventstore")
    await migrate(dsn, SESSIONS.migrations, service="sessions")
    conn = await connect(dsn)
    try:
        await conn.execute(FILL, PAIRS, ROWS)
        await conn.execute("ANALYZE outbox")
        await conn.execute(f"PREPARE history(text, text, text[]) AS {HISTORY_QUERY}")
        await conn.execute(f"SET plan_cache_mode = {plan_cache_mode}")
        # EXPLAIN EXECUTE takes no bound parameters: the server quotes the values into it
        explain = await conn.fetchval("SELECT format('EXPLAIN (FORMAT JSON) EXECUTE history(%L, %L, %L)', $1::text, "
                                      "$2::text, $3::text[])", "default", "pair-7", HISTORY_TYPES)  # fmt: skip
        raw = await conn.fetchval(explain)
        rows = await conn.fetch(HISTORY_QUERY, "default", "pair-7", HISTORY_TYPES)
    finally:
        await conn.close()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    nodes = _nodes(plan)
    summary = [(n["Node Type"], n.get("Index Name")) for n in nodes]
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], summary
    assert ("Index Scan", "outbox_tenant_key") in summary, summary
    # pair-7 has 20 rows: 5 audit records (not its history) and 2 of another tenant's pair-7
    assert len(rows) == 13
