"""The sessions API over the real stack: agreement, goals, sessions, feedback, calendar, errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import icalendar

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from tests import auth
from tests.conftest import ServeFactory
from tests.integration.sessions.flows import agree, as_participant, programme_with_pairs, wait_for


async def test_a_pair_agrees_sets_goals_meets_and_gives_feedback(serve: ServeFactory) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    programme_id, [pair] = await programme_with_pairs(pairing, sessions.url, 1)
    pid, mentor, mentee = pair["pair_id"], pair["mentor_id"], pair["mentee_id"]
    async with auth.client(base_url=sessions.url) as client:
        start = datetime.now(UTC) - timedelta(hours=2)
        early = await client.post(f"/pairs/{pid}/sessions", json={"starts_at": start.isoformat()})
        assert early.status_code == 409
        assert early.json()["error"]["code"] == "agreement_incomplete"
        await agree(client, pair)

        r = await client.post(f"/pairs/{pid}/goals", json={"topic": "prompt-writing", "description": "Board memos"})
        assert r.status_code == 201, r.text
        goal_id = r.json()["events"][0]["data"]["goal_id"]
        r = await client.post(
            f"/pairs/{pid}/confidence",
            json={"participant_id": mentee, "phase": "start", "ratings": {"prompt-writing": 2}},
        )
        assert r.status_code == 201, r.text
        wrong = await client.post(
            f"/pairs/{pid}/confidence",
            json={"participant_id": mentor, "phase": "start", "ratings": {"prompt-writing": 2}},
        )
        assert wrong.status_code == 422

        r = await client.post(
            f"/pairs/{pid}/sessions", json={"starts_at": start.isoformat(), "duration_minutes": 60, "agenda": "Prompts"}
        )
        session_id = r.json()["events"][0]["data"]["session_id"]
        r = await client.post(
            f"/pairs/{pid}/sessions/{session_id}/log",
            json={
                "held_at": (start + timedelta(minutes=5)).isoformat(),
                "minutes": 55,
                "topics": ["prompt-writing"],
                "tools": ["ChatGPT"],
                "action_items": ["Try a memo with a template"],
            },
        )
        assert r.status_code == 200, r.text
        twice = await client.post(
            f"/pairs/{pid}/sessions/{session_id}/log", json={"held_at": start.isoformat(), "minutes": 10}
        )
        assert twice.status_code == 409
        assert twice.json()["error"]["code"] == "session_already_logged"
        await client.post(f"/pairs/{pid}/goals/{goal_id}/achieve")

        as_mentee, as_mentor = as_participant(pair, mentee), as_participant(pair, mentor)
        r = await client.post(
            f"/pairs/{pid}/feedback",
            headers=as_mentee,
            json={
                "author_id": mentee,
                "session_id": session_id,
                "rating": 5,
                "productivity_gain": True,
                "minutes_saved_per_day": 45,
                "new_business_opportunity": False,
                "confidential_comment": "Finally!",
            },
        )
        assert r.status_code == 201, r.text
        other_role = await client.post(
            f"/pairs/{pid}/feedback",
            headers=as_mentor,
            json={"author_id": mentor, "session_id": session_id, "rating": 4, "productivity_gain": True},
        )
        assert other_role.status_code == 422
        assert other_role.json()["error"]["field"] == "productivity_gain"
        again = await client.post(
            f"/pairs/{pid}/feedback",
            headers=as_mentee,
            json={"author_id": mentee, "session_id": session_id, "rating": 3},
        )
        assert again.status_code == 409

        async def seen() -> bool:
            view = await wait_for(client, f"/pairs/{pid}")
            return bool(view["goals"] and view["goals"][0]["achieved_at"] and view["sessions"][0]["status"] == "held")

        for _ in range(100):
            if await seen():
                break
            await asyncio.sleep(0.05)
        view = await wait_for(client, f"/pairs/{pid}")
        assert view["agreement_complete"] is True
        assert view["sessions"][0]["minutes"] == 55

        for _ in range(100):
            fb = (await client.get(f"/pairs/{pid}/feedback", headers=as_mentor)).json()
            if fb:
                break
            await asyncio.sleep(0.05)
        assert fb[0]["confidential_comment"] is None  # the other side: neither the author nor HR
        assert fb[0]["rating"] == 5
        as_author = (await client.get(f"/pairs/{pid}/feedback", headers=as_mentee)).json()
        assert as_author[0]["confidential_comment"] == "Finally!"
        as_hr = (await client.get(f"/pairs/{pid}/feedback")).json()
        assert as_hr[0]["confidential_comment"] == "Finally!"

        outcomes = (await client.get(f"/programmes/{programme_id}/outcomes")).json()
        assert outcomes["totals"]["sessions_held"] == 1
        assert outcomes["totals"]["goals_achieved"] == 1
        csv_text = (await client.get(f"/programmes/{programme_id}/outcomes.csv")).text
        assert csv_text.splitlines()[0].startswith("programme_id,as_of,section")


async def test_the_calendar_file_follows_reschedule_and_cancel(serve: ServeFactory) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    _, [pair] = await programme_with_pairs(pairing, sessions.url, 1)
    pid = pair["pair_id"]
    async with auth.client(base_url=sessions.url) as client:
        await agree(client, pair)
        start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
        r = await client.post(f"/pairs/{pid}/sessions", json={"starts_at": start.isoformat(), "agenda": "Copilots"})
        session_id = r.json()["events"][0]["data"]["session_id"]

        async def ics(sequence: int) -> icalendar.Calendar:
            for _ in range(100):
                resp = await client.get(f"/sessions/{session_id}.ics")
                if resp.status_code == 200:
                    cal = icalendar.Calendar.from_ical(resp.content)
                    if int(cal.walk("VEVENT")[0]["SEQUENCE"]) == sequence:
                        assert resp.headers["content-type"].startswith("text/calendar")
                        return cal
                await asyncio.sleep(0.05)
            raise AssertionError(f"no .ics with SEQUENCE {sequence}")

        cal = await ics(0)
        event = cal.walk("VEVENT")[0]
        assert str(cal["METHOD"]) == "REQUEST"
        assert event.decoded("DTSTART") == start
        assert str(event["UID"]) == f"{session_id}@tandem"
        assert len(event.get("ATTENDEE")) == 2

        later = start + timedelta(days=1)
        await client.post(f"/pairs/{pid}/sessions/{session_id}/reschedule", json={"starts_at": later.isoformat()})
        cal = await ics(1)
        assert cal.walk("VEVENT")[0].decoded("DTSTART") == later
        await client.post(f"/pairs/{pid}/sessions/{session_id}/cancel", json={"reason": "Board meeting"})
        cal = await ics(2)
        assert str(cal["METHOD"]) == "CANCEL"
        assert str(cal.walk("VEVENT")[0]["STATUS"]) == "CANCELLED"
        assert (await client.get("/sessions/nope.ics")).status_code == 404


async def test_only_an_active_pair_schedules_and_errors_name_the_field(serve: ServeFactory) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    _, [pair] = await programme_with_pairs(pairing, sessions.url, 1)
    pid = pair["pair_id"]
    async with auth.client(base_url=sessions.url) as client:
        await agree(client, pair)
        bad = await client.post(f"/pairs/{pid}/sessions", json={"starts_at": "tomorrow"})
        assert bad.status_code == 422
        assert bad.json()["error"]["field"] == "starts_at"
        assert (
            await client.post("/pairs/nope/goals", json={"topic": "ai-agents", "description": "x"})
        ).status_code == 404
        async with auth.client(base_url=pairing.url) as p:
            await p.post(f"/pairs/{pid}/pause", json={"reason": "parental leave"})
        for _ in range(100):
            if (await client.get(f"/pairs/{pid}")).json()["state"] == "paused":
                break
            await asyncio.sleep(0.05)
        r = await client.post(f"/pairs/{pid}/sessions", json={"starts_at": datetime.now(UTC).isoformat()})
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "pair_not_active"
