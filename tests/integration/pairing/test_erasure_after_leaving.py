"""TANDEM_ERASE_AFTER_DAYS: the pairing service's retention job erases employees whose directory status has been
`left` for longer than that (reason `retention_after_leaving`), once, and nobody else. The job's clock is a
parameter: the test runs it days later without waiting. Real Postgres and broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.pairing.app import SPEC as PAIRING
from services.pairing.retention import AFTER_LEAVING, run_once
from shared.erasure import PLACEHOLDER
from tests import auth
from tests.conftest import ServeFactory
from tests.directory import token


def person(employee_id: str, name: str, **kw: Any) -> dict[str, Any]:
    return {
        "employee_id": employee_id,
        "display_name": name,
        "email": f"{name.lower().replace(' ', '.')}@acme.example",
        "department": "Finance",
        "grade": 10,
        "languages": ["de"],
        "timezone": "Europe/Berlin",
        **kw,
    }


async def test_leavers_are_erased_after_the_days_set_and_nobody_else(serve: ServeFactory) -> None:
    pairing = await serve(PAIRING)
    tag = uuid.uuid4().hex[:10]
    today = datetime.now(UTC).date()
    left_long_ago = person(
        f"L-{tag}", f"Leo Left{tag}", status="left", left_on=(today - timedelta(days=40)).isoformat()
    )
    left_lately = person(f"R-{tag}", f"Rita Recent{tag}", status="left", left_on=today.isoformat())
    staying = person(f"S-{tag}", f"Sam Stays{tag}")
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post(
            "/directory/imports",
            json=[left_long_ago, left_lately, staying],
            headers={"authorization": f"Bearer {await token(pairing.host)}"},
        )
        assert r.status_code == 200, r.text
    pool, topics = pairing.host.pool, pairing.host.topics

    async def names() -> dict[str, str]:
        rows = await pool.fetch(
            "SELECT employee_id, display_name FROM employees WHERE employee_id = ANY($1::text[])",
            [p["employee_id"] for p in (left_long_ago, left_lately, staying)],
        )
        return {r["employee_id"]: r["display_name"] for r in rows}

    now = datetime.now(UTC)
    assert (await run_once(pool, topics, now=now)).erased == []  # unset: never
    report = await run_once(pool, topics, now=now, erase_after_days=30)
    assert report.erased == [("default", left_long_ago["employee_id"])]
    assert await names() == {
        left_long_ago["employee_id"]: PLACEHOLDER,
        left_lately["employee_id"]: left_lately["display_name"],
        staying["employee_id"]: staying["display_name"],
    }
    erasure = await pool.fetchrow(
        "SELECT reason, requested_by FROM erasures WHERE employee_id = $1", left_long_ago["employee_id"]
    )
    assert (erasure["reason"], erasure["requested_by"]) == (AFTER_LEAVING, "retention")
    assert (await run_once(pool, topics, now=now, erase_after_days=30)).erased == []  # once
    later = await run_once(pool, topics, now=now + timedelta(days=31), erase_after_days=30)
    assert later.erased == [("default", left_lately["employee_id"])]
    assert (await names())[staying["employee_id"]] == staying["display_name"]
