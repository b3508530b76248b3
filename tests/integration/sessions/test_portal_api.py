"""The participant portal's API over the real stack: `GET /me` answers the signed-in person's own pairs only
(not another participant's, not another tenant's), HR gets a 403 naming the role, and a browser opening an
old mail's feedback link (the JSON API) is sent to the portal's feedback page while API clients keep JSON."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from services.sessions.app import SPEC as SESSIONS
from tests import auth
from tests.conftest import ServeFactory
from tests.integration.sessions.test_access import (
    ACME,
    GLOBEX,
    RATIONALE,
    REASONS,
    a_pair,
    agree,
    as_person,
    seed,
    uid,
)

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


async def test_me_answers_the_callers_own_pairs_only(serve: ServeFactory) -> None:
    sessions = await serve(SESSIONS)
    programme_id, mine, theirs = uid("prog"), a_pair(), a_pair()
    # the same employee id in another tenant: another person, whose pair is not mine
    elsewhere = a_pair(mentee_employee=mine.mentee.employee_id)
    await seed(sessions, ACME, programme_id, [mine, theirs], name="Acme tandem")
    await seed(sessions, GLOBEX, uid("prog"), [elsewhere], name="Globex tandem")
    soon = datetime.now(UTC) + timedelta(days=3)
    hr = auth.headers("hr", tenant=ACME)
    async with httpx.AsyncClient(base_url=sessions.url, headers=hr) as as_hr:
        await agree(as_hr, mine)
    async with httpx.AsyncClient(base_url=sessions.url) as client:
        r = await client.post(f"/pairs/{mine.pair_id}/sessions", json={"starts_at": soon.isoformat()}, headers=hr)
        assert r.status_code == 201, r.text
        session_id = r.json()["events"][0]["data"]["session_id"]

        for _ in range(400):  # the session reaches the read model through the broker
            r = await client.get("/me", headers=as_person(mine.mentee, ACME))
            assert r.status_code == 200, r.text
            if r.json()["pairs"] and r.json()["pairs"][0]["next_session"]:
                break
            await asyncio.sleep(0.05)
        body = r.json()
        assert body["employee_id"] == mine.mentee.employee_id
        assert body["name"] == mine.mentee.name
        assert body["locale"] == "en"
        assert [p["participant_id"] for p in body["participants"]] == [mine.mentee.participant_id]
        assert [p["pair_id"] for p in body["pairs"]] == [mine.pair_id]  # not theirs, not Globex's
        pair = body["pairs"][0]
        assert pair["programme_name"] == "Acme tandem"
        assert pair["my_role"] == "mentee"
        assert pair["my_participant_id"] == mine.mentee.participant_id
        assert pair["partner"] == {
            "participant_id": mine.mentor.participant_id,
            "display_name": mine.mentor.name,
            "role": "mentor",
        }
        assert pair["state"] == "active"
        assert pair["next_session"]["session_id"] == session_id
        assert pair["rationale"] == RATIONALE
        assert pair["reasons"] == REASONS  # the page words them in the person's language

        # the other participant of the same tenant sees their own pair, not mine
        other = (await client.get("/me", headers=as_person(theirs.mentor, ACME))).json()
        assert [p["pair_id"] for p in other["pairs"]] == [theirs.pair_id]
        assert other["pairs"][0]["my_role"] == "mentor"
        # the same employee id in Globex: Globex's pair only
        globex = (await client.get("/me", headers=as_person(elsewhere.mentee, GLOBEX))).json()
        assert [p["pair_id"] for p in globex["pairs"]] == [elsewhere.pair_id]
        # someone enrolled nowhere: nothing, not an error
        nobody = (await client.get("/me", headers=auth.headers("participant", tenant=ACME, employee_id="E-x"))).json()
        assert (nobody["pairs"], nobody["participants"], nobody["locale"]) == ([], [], None)
        # HR has no pairs of their own: a 403 that names the role
        r = await client.get("/me", headers=hr)
        assert r.status_code == 403, r.text
        assert "participant" in r.json()["error"]["message"]
        # no token: 401 (an API client), not the page
        assert (await client.get("/me")).status_code == 401


async def test_browsers_get_the_portal_and_old_feedback_links_redirect_while_api_clients_keep_json(
    serve: ServeFactory,
) -> None:
    sessions = await serve(SESSIONS)
    pair = a_pair()
    await seed(sessions, ACME, uid("prog"), [pair])
    async with httpx.AsyncClient(base_url=sessions.url) as client:
        # a browser opening the link in an old mail: to the portal's feedback page, with the query kept
        r = await client.get(f"/pairs/{pair.pair_id}/feedback?session=s-1", headers={"accept": BROWSER_ACCEPT})
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/me/pairs/{pair.pair_id}/feedback?session=s-1"
        page = await client.get(r.headers["location"], headers={"accept": BROWSER_ACCEPT})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "/me/static/portal.js" in page.text
        # an API client (JSON, or anything with a token) keeps the JSON API
        r = await client.get(f"/pairs/{pair.pair_id}/feedback", headers=as_person(pair.mentee, ACME))
        assert r.status_code == 200, r.text
        assert r.json() == []
        browser_with_token = {"accept": BROWSER_ACCEPT, **as_person(pair.mentee, ACME)}
        assert (await client.get(f"/pairs/{pair.pair_id}/feedback", headers=browser_with_token)).status_code == 200
        r = await client.get(f"/pairs/{pair.pair_id}/feedback", headers={"accept": "application/json"})
        assert r.status_code == 401
        # a POST is never redirected
        r = await client.post(f"/pairs/{pair.pair_id}/feedback", json={}, headers={"accept": BROWSER_ACCEPT})
        assert r.status_code == 401
        # /me: the page for a browser, the JSON for a script with its token
        r = await client.get("/me", headers={"accept": BROWSER_ACCEPT})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["cache-control"] == "no-store"
        r = await client.get("/me", headers={"accept": BROWSER_ACCEPT, **as_person(pair.mentee, ACME)})
        assert r.json()["pairs"][0]["pair_id"] == pair.pair_id
        # every /me/... address is the same shell; assets from /me/static; nothing else leaks
        for path in ("/me/", f"/me/pairs/{pair.pair_id}", f"/me/pairs/{pair.pair_id}/sessions/s-1", "/me/preferences"):
            shell = await client.get(path)
            assert shell.status_code == 200, path
            assert shell.text == page.text, path
        assert (await client.get("/me/static/portal.js")).headers["content-type"].startswith("text/javascript")
        assert (await client.get("/me/static/nothing.js")).status_code == 404
        escape = await client.get("/me/static/..%2Fapi%2Fportal.py")  # not the file: the page shell at most
        assert "import" not in escape.text
        assert escape.headers["content-type"].startswith("text/html")
