"""The session's .ics as the sessions API serves it, its SUMMARY in the caller's language (issue 15): a participant
of the pair gets it in their own locale (from their enrolment), anyone else in English, `?lang=` decides when
given; a language without words is refused naming `lang`. Over the real stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import icalendar

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from tests import auth
from tests.conftest import ServeFactory
from tests.integration.sessions.flows import agree, as_participant, programme_with_pairs, wait_for


def summary(resp: httpx.Response) -> tuple[str, str]:
    assert resp.status_code == 200, resp.text
    [event] = icalendar.Calendar.from_ical(resp.content).walk("VEVENT")
    return str(event["SUMMARY"]), event["SUMMARY"].params["LANGUAGE"]


async def test_the_calendar_entry_is_named_in_the_callers_language(serve: ServeFactory) -> None:
    pairing, sessions = await serve(PAIRING), await serve(SESSIONS)
    _, [pair] = await programme_with_pairs(pairing, sessions.url, 1)  # both enrolled with locale "de"
    pid, mentor = pair["pair_id"], pair["mentor_id"]
    async with auth.client(base_url=sessions.url) as hr:
        await agree(hr, pair)
        start = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
        r = await hr.post(f"/pairs/{pid}/sessions", json={"starts_at": start.isoformat()})
        assert r.status_code == 201, r.text
        session_id = r.json()["events"][0]["data"]["session_id"]
        await wait_for(hr, f"/sessions/{session_id}")  # the session's row is written from its event
        path = f"/sessions/{session_id}.ics"
        names = "Mentee 0 & Mentor 0"  # by role, as the entry lists them
        assert summary(await hr.get(path)) == (f"Tandem reverse mentoring: {names}", "en")
        assert summary(await hr.get(path, params={"lang": "de"})) == (
            f"Tandem-Treffen (Reverse Mentoring): {names}",
            "de",
        )
        bad = await hr.get(path, params={"lang": "fr"})
        assert (bad.status_code, bad.json()["error"]["field"]) == (422, "lang")
    async with auth.client(base_url=sessions.url, headers=as_participant(pair, mentor)) as me:
        assert summary(await me.get(path)) == (f"Tandem-Treffen (Reverse Mentoring): {names}", "de")
        assert summary(await me.get(path, params={"lang": "en"})) == (f"Tandem reverse mentoring: {names}", "en")
