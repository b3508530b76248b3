"""Driving pairing and sessions over HTTP, as a client would, for the sessions tests and the demo."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests import auth, builders
from tests.conftest import Running
from tests.directory import enrol


async def wait_for(client: httpx.AsyncClient, url: str, *, timeout: float = 20.0) -> dict[str, Any]:
    for _ in range(int(timeout / 0.05)):
        r = await client.get(url)
        if r.status_code == 200:
            data: dict[str, Any] = r.json()
            return data
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered 200")


async def programme_with_pairs(
    pairing: Running, sessions: str, n: int, **programme: Any
) -> tuple[str, list[dict[str, Any]]]:
    """A launched programme with n accepted pairs, visible to the sessions service. Each pair also says the
    employee id of each of its two people (`pair["employees"]`), for their own tokens (`as_participant`)."""
    async with auth.client(base_url=pairing.url) as client:
        r = await client.post("/programmes", json=builders.programme(**programme))
        assert r.status_code == 201, r.text
        programme_id = r.json()["programme_id"]
        people = [builders.mentor(display_name=f"Mentor {i}") for i in range(n)]
        people += [builders.mentee(display_name=f"Mentee {i}") for i in range(n)]
        r = await enrol(client, pairing.url, pairing.host, programme_id, people)
        assert r.status_code == 201, r.text
        run = (await client.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        pairs: list[dict[str, Any]] = (await client.post(f"/match-runs/{run['match_run_id']}/accept", json={})).json()
        assert len(pairs) == n
    employees = {person["participant_id"]: person["employee_id"] for person in people}
    for pair in pairs:
        pair["employees"] = {who: employees[who] for who in (pair["mentor_id"], pair["mentee_id"])}
    async with auth.client(base_url=sessions) as client:
        for pair in pairs:
            await wait_for(client, f"/pairs/{pair['pair_id']}")
        await wait_for(client, f"/programmes/{programme_id}/outcomes")
    return programme_id, pairs


async def agree(client: httpx.AsyncClient, pair: dict[str, Any]) -> None:
    for who in (pair["mentee_id"], pair["mentor_id"]):
        r = await client.post(
            f"/pairs/{pair['pair_id']}/agreement",
            json={"participant_id": who, "meeting_rhythm": "every two weeks", "confidentiality": True},
        )
        assert r.status_code == 201, r.text


def as_participant(pair: dict[str, Any], participant_id: str, *, tenant: str = auth.DEFAULT_TENANT) -> dict[str, str]:
    """The headers of one of the pair's two people, signed in as themselves."""
    return auth.headers("participant", tenant=tenant, employee_id=pair["employees"][participant_id])
