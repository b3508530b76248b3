"""Realistic request bodies for tests, with random ids so tests never collide."""

from __future__ import annotations

import uuid
from typing import Any

FOCUS = ["prompt-writing", "office-copilots", "data-analysis", "ai-agents", "ai-risk-policy"]


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def programme(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "programme_id": uid("prog"),
        "name": "AI reverse mentoring 2026",
        "starts_on": "2026-01-12",
        "ends_on": "2026-07-10",
        "cadence_days": 14,
        "focus_topics": FOCUS,
        "hr_contact_email": "mentoring@acme.example",
        "launch": True,
    }
    body.update(overrides)
    return body


def mentor(**overrides: Any) -> dict[str, Any]:
    employee = uid("E")
    body: dict[str, Any] = {
        "participant_id": uid("mentor"),
        "employee_id": employee,
        "role": "mentor",
        "display_name": "Lena Yilmaz",
        "email": f"{employee.lower()}@acme.example",
        "locale": "de",
        "department": "Marketing",
        "grade": 4,
        "timezone": "Europe/Berlin",
        "languages": ["de", "en"],
        "availability": [{"weekday": 1, "start": "09:00", "end": "12:00"}],
        "capacity": 1,
        "teach_topics": {"prompt-writing": 3, "ai-agents": 2},
    }
    body.update(overrides)
    return body


def mentee(**overrides: Any) -> dict[str, Any]:
    employee = uid("E")
    body: dict[str, Any] = {
        "participant_id": uid("mentee"),
        "employee_id": employee,
        "role": "mentee",
        "display_name": "Dr. Ingrid Hoffmann",
        "email": f"{employee.lower()}@acme.example",
        "locale": "de",
        "department": "Finance",
        "grade": 14,
        "timezone": "Europe/Berlin",
        "languages": ["de"],
        "availability": [{"weekday": 1, "start": "10:00", "end": "11:30"}],
        "learn_topics": {"prompt-writing": 3, "data-analysis": 2},
        "goal": "Draft board memos with AI and check the numbers myself.",
    }
    body.update(overrides)
    return body
