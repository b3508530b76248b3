"""The pages word a rationale as the mails do: shared/web/static/reasons.js, run in Chromium, against
services/notifications/domain/wording.py, for every reason code in German and English (and an unknown code, a
missing parameter and no reasons at all)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from services.notifications.domain import wording
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS, chromium

SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "web" / "static" / "reasons.js"

CASES: list[tuple[list[dict[str, Any]], str]] = [
    (
        [
            {
                "code": "covers_goals",
                "covered": 2,
                "goals": 3,
                "topics": ["prompt-writing", "ai-agents"],
                "mentee": "Anna",
            },
            {"code": "shared_languages", "languages": ["de", "en"]},
            {"code": "weekly_overlap", "minutes": 90},
            {"code": "different_departments", "mentee_department": "Sales", "mentor_department": "Finance"},
            {"code": "grade_gap", "gap": 9},
        ],
        "",
    ),
    (
        [
            {"code": "covers_goals", "covered": 1, "goals": 1, "topics": ["data-analysis"], "mentee": "Klaus"},
            {"code": "shared_languages", "languages": ["fr"]},
            {"code": "no_common_slot"},
            {"code": "same_department", "department": "IT"},
            {"code": "no_seniority_gap"},
        ],
        "",
    ),
    ([{"code": "covers_no_goals", "goals": 2, "mentee": "Hoffmann"}, {"code": "availability_unknown"}], ""),
    ([{"code": "weekly_overlap", "minutes": 120}, {"code": "from_a_newer_engine", "x": 1}], ""),
    (
        [
            {"code": "grade_gap"},
            {"code": "covers_goals", "covered": 1, "goals": 2, "topics": ["custom-topic"], "mentee": "Max"},
        ],
        "",
    ),
    ([], "Covers 1 of Anna's 1 goal: prompt writing."),
]


@pytest.mark.parametrize("language", ["de", "en"])
async def test_the_pages_word_every_reason_as_the_mails_do(language: str) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.set_content("<!doctype html><html><body></body></html>")
        await page.add_script_tag(content=SCRIPT.read_text())
        for reasons, fallback in CASES:
            shown = await page.evaluate(
                f"TandemReasons.render({json.dumps(reasons)}, {json.dumps(fallback)}, {json.dumps(language)})"
            )
            assert shown == wording.rationale(reasons, fallback, language), reasons
        await browser.close()
