"""The walking skeleton, end to end: HTTP on pairing -> outbox -> Kafka -> sessions and notifications."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.personal import KEY_RECORD_TYPE
from shared.runtime import ServiceHost
from tests import auth, builders
from tests.conftest import ServeAllFactory
from tests.directory import enrol
from tests.kafka_helpers import eventually


@pytest.fixture
async def system(serve_all: ServeAllFactory) -> dict[str, tuple[ServiceHost, str]]:
    return {name: (r.host, r.url) for name, r in (await serve_all()).items()}


async def test_a_pair_created_over_http_reaches_sessions_and_notifications(system: dict[str, Any]) -> None:
    _, pairing = system["pairing"]
    _, sessions = system["sessions"]
    _, notifications = system["notifications"]
    async with auth.client() as client:
        programme_id, mentor, mentee = await enrolled_pair(client, system)
        created = await client.post(
            f"{pairing}/pairs", json={"programme_id": programme_id, "mentor_id": mentor, "mentee_id": mentee}
        )
        assert created.status_code == 201, created.text
        pair = created.json()
        assert pair["state"] == "active"

        async def in_sessions() -> Any:
            r = await client.get(f"{sessions}/pairs/{pair['pair_id']}")
            return r.json() if r.status_code == 200 else None

        seen = await eventually(in_sessions)
        assert (seen["mentor_id"], seen["mentee_id"], seen["state"]) == (mentor, mentee, "active")

        async def welcomed() -> Any:
            # 404 until notifications knows the two (their ParticipantEnrolled may still be on its way)
            found = [await client.get(f"{notifications}/recipients/{who}/notifications") for who in (mentor, mentee)]
            if any(r.status_code == 404 for r in found):
                return None
            a, b = (r.json() for r in found)
            return (a, b) if a and b else None

        for_mentor, for_mentee = await eventually(welcomed)
        assert [n["rule"] for n in for_mentor] == ["welcome"]
        assert [n["rule"] for n in for_mentee] == ["welcome"]
        assert for_mentor[0]["pair_id"] == pair["pair_id"]

        # state changes follow the same path
        paused = await client.post(f"{pairing}/pairs/{pair['pair_id']}/pause", json={"reason": "holiday"})
        assert paused.status_code == 200
        await eventually(lambda: _state(client, sessions, pair["pair_id"], "paused"))


#: Events in the outbox (not the data keys it also carries to the key topic: shared.personal).
EVENTS = f"SELECT count(*) FROM outbox WHERE event_type <> '{KEY_RECORD_TYPE}'"


async def test_bad_input_at_the_edge_is_a_4xx_naming_the_field_and_changes_nothing(system: dict[str, Any]) -> None:
    host, pairing = system["pairing"]
    async with auth.client() as client:
        programme_id, mentor, mentee = await enrolled_pair(client, system)
        events_before = await host.pool.fetchval(EVENTS)
        same = await client.post(
            f"{pairing}/pairs", json={"programme_id": programme_id, "mentor_id": mentor, "mentee_id": mentor}
        )
        assert same.status_code == 422
        assert same.json()["error"]["field"] == "mentee_id"
        missing = await client.post(f"{pairing}/pairs", json={"programme_id": programme_id, "mentor_id": mentor})
        assert missing.status_code == 422
        assert missing.json()["error"]["field"] == "mentee_id"
        unknown = await client.post(f"{pairing}/pairs/nope/resume")
        assert unknown.status_code == 404
        ok = await client.post(
            f"{pairing}/pairs", json={"programme_id": programme_id, "mentor_id": mentor, "mentee_id": mentee}
        )
        pair_id = ok.json()["pair_id"]
        illegal = await client.post(f"{pairing}/pairs/{pair_id}/resume")
        assert illegal.status_code == 409
        assert illegal.json()["error"]["code"] == "illegal_transition"
    assert await host.pool.fetchval("SELECT count(*) FROM pairs") == 1
    assert await host.pool.fetchval(EVENTS) == events_before + 1  # only the PairCreated


async def enrolled_pair(client: httpx.AsyncClient, system: dict[str, Any]) -> tuple[str, str, str]:
    host, pairing = system["pairing"]
    programme = (await client.post(f"{pairing}/programmes", json=builders.programme())).json()
    mentor = builders.mentor()
    mentee = builders.mentee()
    r = await enrol(client, pairing, host, programme["programme_id"], [mentor, mentee])
    assert r.status_code == 201, r.text
    return programme["programme_id"], mentor["participant_id"], mentee["participant_id"]


async def _state(client: httpx.AsyncClient, url: str, pair_id: str, state: str) -> bool:
    r = await client.get(f"{url}/pairs/{pair_id}")
    return r.status_code == 200 and r.json()["state"] == state
