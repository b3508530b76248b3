"""The HR dashboard in a real headless browser (Playwright driving Debian's Chromium): the page loads,
shows the figures the API computes, and leaves a screenshot in test-artifacts/."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from tests import auth
from tests.conftest import ServeFactory
from tests.integration.sessions.flows import agree, programme_with_pairs

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: `make test` installs Debian's chromium; run `apt-get install chromium`")
    return path


def as_shown(figure: dict[str, Any]) -> str:
    """The dashboard's formatting rule (app.js formatFigure)."""
    value = figure["value"]
    if value is None:
        return "not enough answers"
    if figure["kind"] == "share":
        return f"{round(value * 100)}%"
    if figure["kind"] == "median":
        return f"{round(value)} min"
    return f"{'+' if value > 0 else ''}{value:.1f}"


async def test_the_dashboard_shows_the_apis_figures(serve: ServeFactory) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    programme_id, pairs = await programme_with_pairs(pairing, sessions.url, 6, name="Browser cohort")
    start = datetime.now(UTC) - timedelta(days=3)
    async with auth.client(base_url=sessions.url) as client:
        for i, pair in enumerate(pairs):
            await agree(client, pair)
            r = await client.post(f"/pairs/{pair['pair_id']}/sessions", json={"starts_at": start.isoformat()})
            sid = r.json()["events"][0]["data"]["session_id"]
            await client.post(
                f"/pairs/{pair['pair_id']}/sessions/{sid}/log",
                json={"held_at": start.isoformat(), "minutes": 45, "topics": ["prompt-writing"]},
            )
            await client.post(f"/pairs/{pair['pair_id']}/feedback", json={
                "author_id": pair["mentee_id"], "session_id": sid, "rating": 5, "productivity_gain": i != 0,
                "minutes_saved_per_day": 30 + 10 * i})  # fmt: skip
        for _ in range(200):
            api = (await client.get(f"/programmes/{programme_id}/outcomes")).json()
            if api["totals"]["sessions_held"] == 6 and api["figures"][0]["n"] == 6:
                break
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{sessions.url}/dashboard?programme={programme_id}")
        await page.wait_for_selector(f"body[data-loaded='{programme_id}']", timeout=15_000)
        assert await page.inner_text("#programme-name") == "Browser cohort"
        for figure in api["figures"]:
            shown = await page.inner_text(f"[data-figure='{figure['key']}']")
            assert shown == as_shown(figure), figure["key"]
        assert await page.inner_text("[data-total='Sessions held']") == "6"
        bars = await page.locator("#weeks-chart rect[data-week]").count()
        assert bars == len(api["weeks"])
        csv_link = await page.get_attribute("#export-csv", "href")
        assert csv_link == f"/programmes/{programme_id}/outcomes.csv"
        await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        await browser.close()
    assert not errors, errors
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
