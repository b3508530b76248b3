"""Demo data, seeded through the public HTTP APIs only, as a real HR team would."""

from __future__ import annotations

import httpx

DEMO_PROGRAMME = "demo-ai-2026"


async def seed(urls: dict[str, str]) -> str:
    pairing = urls["pairing"]
    async with httpx.AsyncClient(timeout=30) as client:
        existing = (await client.get(f"{pairing}/pairs", params={"programme_id": DEMO_PROGRAMME})).json()
        if existing["total"]:
            return f"programme {DEMO_PROGRAMME} already seeded ({existing['total']} pairs)"
        created = 0
        for i in range(1, 7):
            r = await client.post(
                f"{pairing}/pairs",
                json={"programme_id": DEMO_PROGRAMME, "mentor_id": f"mentor-{i:02d}", "mentee_id": f"mentee-{i:02d}"},
            )
            r.raise_for_status()
            created += 1
        return f"programme {DEMO_PROGRAMME}: {created} pairs"
