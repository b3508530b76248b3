"""Demo data, seeded through the public HTTP APIs only, as a real HR team would."""

from __future__ import annotations

import httpx

DEMO_PROGRAMME = "demo-ai-2026"

MENTORS = [
    ("mentor-01", "Lena Yilmaz", "Marketing", "de", ["de", "en", "tr"], {"prompt-writing": 3, "ai-agents": 2}),
    ("mentor-02", "Jonas Becker", "Engineering", "de", ["de", "en"], {"data-analysis": 3, "office-copilots": 2}),
    ("mentor-03", "Aisha Khan", "Operations", "en", ["en"], {"ai-risk-policy": 3, "prompt-writing": 2}),
]
MENTEES = [
    ("mentee-01", "Dr. Ingrid Hoffmann", "Finance", "de", ["de"], {"prompt-writing": 3, "data-analysis": 2}),
    ("mentee-02", "Michael Chen", "Sales", "en", ["en", "de"], {"office-copilots": 3}),
    ("mentee-03", "Claire Dubois", "Legal", "en", ["en", "fr"], {"ai-risk-policy": 3}),
]


def _person(pid: str, name: str, dept: str, locale: str, langs: list[str], topics: dict[str, int], role: str) -> dict:
    return {
        "participant_id": pid,
        "employee_id": f"E-{pid}",
        "role": role,
        "display_name": name,
        "email": f"{pid}@acme.example",
        "locale": locale,
        "department": dept,
        "grade": 4 if role == "mentor" else 14,
        "timezone": "Europe/Berlin",
        "languages": langs,
        "availability": [{"weekday": 1, "start": "09:00", "end": "12:00"}],
        ("teach_topics" if role == "mentor" else "learn_topics"): topics,
    }


async def seed(urls: dict[str, str]) -> str:
    pairing = urls["pairing"]
    async with httpx.AsyncClient(timeout=30) as client:
        existing = await client.get(f"{pairing}/programmes/{DEMO_PROGRAMME}")
        if existing.status_code == 200:
            return f"programme {DEMO_PROGRAMME} already seeded"
        r = await client.post(
            f"{pairing}/programmes",
            json={
                "programme_id": DEMO_PROGRAMME,
                "name": "AI reverse mentoring 2026",
                "starts_on": "2026-01-12",
                "ends_on": "2026-07-10",
                "cadence_days": 14,
                "focus_topics": ["prompt-writing", "office-copilots", "data-analysis", "ai-agents", "ai-risk-policy"],
                "hr_contact_email": "mentoring@acme.example",
                "launch": True,
            },
        )
        r.raise_for_status()
        people = [_person(*m, role="mentor") for m in MENTORS] + [_person(*m, role="mentee") for m in MENTEES]
        r = await client.post(f"{pairing}/programmes/{DEMO_PROGRAMME}/participants/bulk", json=people)
        r.raise_for_status()
        for (mentor, *_), (mentee, *_) in zip(MENTORS, MENTEES, strict=True):
            r = await client.post(
                f"{pairing}/pairs", json={"programme_id": DEMO_PROGRAMME, "mentor_id": mentor, "mentee_id": mentee}
            )
            r.raise_for_status()
        return f"programme {DEMO_PROGRAMME}: {len(people)} participants, {len(MENTORS)} pairs"
