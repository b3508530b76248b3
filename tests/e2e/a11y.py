"""Accessibility checks for the browser tests: axe-core (shipped inside the axe-playwright-python wheel, no CDN)
run in the page as it is now. `check(page, "what")` fails listing every violation of impact serious or critical
(rule, impact, help, and the elements it found), so a test names what to fix."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

#: Impacts that fail a test; "minor" and "moderate" are reported by axe but do not fail.
FAILING = ("serious", "critical")
#: The rules axe runs: WCAG 2.0/2.1/2.2 A and AA, and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

_AXE = Axe()


def failing(violations: list[dict[str, Any]]) -> list[str]:
    """One line per serious or critical violation: rule, impact, what it means, and up to five elements."""
    lines = []
    for v in violations:
        if v.get("impact") not in FAILING:
            continue
        targets = [" ".join(map(str, node.get("target", []))) for node in v.get("nodes", [])]
        shown = ", ".join(targets[:5]) + (f" (+{len(targets) - 5} more)" if len(targets) > 5 else "")
        lines.append(f"{v['id']} ({v['impact']}): {v.get('help', '')} [{shown}]")
    return lines


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (every impact)."""
    results = await _AXE.run(page, options={"resultTypes": ["violations"], "runOnly": {"type": "tag", "values": TAGS}})
    found: list[dict[str, Any]] = results.response["violations"]
    return found


async def check(page: Page, what: str) -> None:
    """Fail the test when the page has serious or critical accessibility violations, listing them."""
    problems = failing(await violations(page))
    if problems:
        pytest.fail(
            f"accessibility: {what} ({page.url}) has {len(problems)} serious/critical violation(s):\n- "
            + "\n- ".join(problems)
        )
