"""The participant portal in a real headless browser (Playwright driving Debian's Chromium), in German and in
English: a mentee gets a real feedback-request mail (the notifications service sends it over SMTP to a catcher
started here), opens its link, signs in on the identity provider's page, answers the feedback form (a bad
answer first: shown next to its field, nothing saved; then a good one), and the answer is counted in the HR
figures. Then the pair page at phone width. Screenshots in test-artifacts/ (portal-<lang>-*.png)."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from services.notifications.domain import wording
from shared.identity_provider import Client, DemoUser, LocalIdentityProvider
from shared.localstack import free_port
from tests import auth, builders
from tests.conftest import SPECS, Running, ServeFactory, auth_settings
from tests.directory import enrol
from tests.e2e.test_dashboard_browser import ARTIFACTS, CHROMIUM_ARGS, chromium
from tests.integration.notifications.servers import SmtpServer
from tests.integration.sessions.flows import agree, wait_for

#: English words of the portal's own sentences that must not appear on the German page.
ENGLISH = re.compile(
    r"\b(Loading|Sign out|Signed in as|Feedback on|Send feedback|How useful|Minutes saved|Yes|No|Confidential|"
    r"Please|Thank you|Sessions?|Goals?|agreement|partner|only you)\b"
)
FEEDBACK_LINK = re.compile(r"https?://[^\s<>\"]+/feedback[^\s<>\"]*")


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    assert part is not None
    return str(part.get_content())


async def mail_to(smtp: SmtpServer, address: str, pattern: re.Pattern[str]) -> str:
    """The first link matching `pattern` in a mail to `address` (waits for the mail)."""
    for _ in range(600):
        for message in smtp.mailbox.to(address):
            found = pattern.search(body_of(message))
            if found:
                return found.group(0)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no mail to {address} with a feedback link: {[m['Subject'] for m in smtp.mailbox.messages]}")


async def a_pair(site: dict[str, Any], locale: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A launched programme with one accepted pair through the pairing API; the mentee reads `locale`."""
    pairing, sessions = site["pairing"], site["sessions"]
    mentor = builders.mentor(display_name="Lena Yilmaz", locale=locale)
    mentee = builders.mentee(display_name="Ingrid Hoffmann", locale=locale)
    async with auth.client(base_url=pairing.url) as hr:
        r = await hr.post("/programmes", json=builders.programme(name=f"Tandem {locale}", min_group_size=3))
        assert r.status_code == 201, r.text
        programme_id = r.json()["programme_id"]
        r = await enrol(hr, pairing.url, pairing.host, programme_id, [mentor, mentee])
        assert r.status_code == 201, r.text
        run = (await hr.post(f"/programmes/{programme_id}/match-runs", json={})).json()
        pairs = (await hr.post(f"/match-runs/{run['match_run_id']}/accept", json={})).json()
        assert len(pairs) == 1, pairs
    async with auth.client(base_url=sessions.url) as hr:
        await wait_for(hr, f"/pairs/{pairs[0]['pair_id']}")
    return programme_id, pairs[0], mentee


async def site(serve: ServeFactory, smtp: SmtpServer, **overrides: dict[str, Any]) -> dict[str, Running]:
    """The three services on ports known in advance (as serve_site), the notifications service sending through
    `smtp` (its mails link to the sessions service's public URL, as every service is told)."""
    ports = {spec.name: free_port() for spec in SPECS}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    mail = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "DISPATCH_INTERVAL": "0.05",
        "SCAN_INTERVAL": "3600",
        "FEEDBACK_GRACE_SECONDS": "0",  # the request goes out at once (its wait is tested with the messages)
    }
    given: dict[str, dict[str, Any]] = {"notifications": {"extra": mail}}
    running = {}
    for spec in SPECS:
        own = {**given.get(spec.name, {}), **overrides.get(spec.name, {})}
        urls_and_origins = {"public_urls": urls, "web_origins": tuple(urls.values())}
        running[spec.name] = await serve(spec, port=ports[spec.name], **urls_and_origins, **own)
    return running


async def ready_for_mail(notifications: str, sessions: str, pair: dict[str, Any], person: dict[str, Any]) -> None:
    """The person turns quiet hours off themselves once the notifications service knows them, and that service
    knows their pair (its welcome is planned); the portal shows them their pair."""
    headers = auth.headers("participant", employee_id=person["employee_id"])
    body = {"locale": person["locale"], "quiet_start": None, "quiet_end": None}
    recipient = f"/recipients/{person['participant_id']}"
    async with httpx.AsyncClient(headers=headers) as client:
        for _ in range(400):
            r = await client.put(f"{notifications}{recipient}/preferences", json=body)
            if r.status_code == 200:
                break
            await asyncio.sleep(0.05)
        assert r.status_code == 200, r.text
        for _ in range(400):
            history = (await client.get(f"{notifications}{recipient}/notifications")).json()
            mine = (await client.get(f"{sessions}/me")).json()
            if any(n["rule"] == "welcome" for n in history) and mine["pairs"]:
                break
            await asyncio.sleep(0.05)
        assert [p["pair_id"] for p in mine["pairs"]] == [pair["pair_id"]]
        # the sessions projection keeps the person's locale and the match run's rationale for the portal
        assert mine["locale"] == person["locale"]
        assert mine["pairs"][0]["rationale"] == pair["rationale"]
        assert pair["rationale"]
        assert mine["pairs"][0]["reasons"] == pair["reasons"]
        assert pair["reasons"]


async def minutes_saved_answers(sessions: str, programme_id: str) -> int:
    async with auth.client(base_url=sessions) as hr:
        outcomes = (await hr.get(f"/programmes/{programme_id}/outcomes")).json()
    (figure,) = [f for f in outcomes["figures"] if f["key"] == "mentee_minutes_saved_per_day"]
    return int(figure["n"])


async def page_text(page: Page) -> str:
    """The page's text but the pair's rationale (pairing's sentence, localised by reasons.js when it can)."""
    return str(
        await page.evaluate(
            "() => { const c = document.body.cloneNode(true); c.querySelectorAll('[data-rationale]')"
            ".forEach((n) => n.remove()); document.body.append(c); c.hidden = false;"
            " const text = c.innerText; c.remove(); return text; }"
        )
    )


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_a_mentee_answers_the_feedback_mail_in_the_portal_and_hr_counts_it(
    lang: str, serve: ServeFactory, identity_provider: LocalIdentityProvider
) -> None:
    idp = identity_provider
    client_id = f"portal-{lang}-{uuid.uuid4().hex[:8]}"
    with SmtpServer() as smtp:
        running = await site(serve, smtp, sessions={"auth": replace(auth_settings(idp), web_client_id=client_id)})
        sessions = running["sessions"].url
        idp.add_client(
            Client(client_id, redirect_uris=[f"{sessions}/auth/callback"], post_logout_redirect_uris=[f"{sessions}/"])
        )
        programme_id, pair, mentee = await a_pair(running, lang)
        user = idp.add_user(
            DemoUser(
                f"ingrid-{client_id}",
                "Ingrid Hoffmann",
                mentee["email"],
                ["participant"],
                auth.DEFAULT_TENANT,
                employee_id=mentee["employee_id"],
            )
        )
        await ready_for_mail(running["notifications"].url, sessions, pair, mentee)
        held = datetime.now(UTC) - timedelta(hours=2)
        async with auth.client(base_url=sessions) as hr:
            await agree(hr, pair)
            r = await hr.post(f"/pairs/{pair['pair_id']}/sessions", json={"starts_at": held.isoformat()})
            assert r.status_code == 201, r.text
            session_id = r.json()["events"][0]["data"]["session_id"]
            r = await hr.post(
                f"/pairs/{pair['pair_id']}/sessions/{session_id}/log",
                json={"held_at": held.isoformat(), "minutes": 45, "topics": ["prompt-writing"]},
            )
            assert r.status_code == 200, r.text
        link = await mail_to(smtp, mentee["email"], FEEDBACK_LINK)
        assert link.startswith(sessions), link
        assert await minutes_saved_answers(sessions, programme_id) == 0

        ARTIFACTS.mkdir(exist_ok=True)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1024, "height": 1200}, locale="en-GB")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(link)
            # not signed in: the provider's sign-in page; the mentee picks themselves
            await page.wait_for_url(f"{idp.issuer}/authorize?*", timeout=15_000)
            await page.click(f"button[name='pick'][value='{user.username}']")
            await page.wait_for_selector("body[data-view='home']", timeout=15_000)
            assert page.url.startswith(f"{sessions}/me/pairs/{pair['pair_id']}/feedback"), page.url
            if "session=" not in page.url:  # an old mail's link: the page offers the session waiting for an answer
                await page.click(f"#open-sessions a[data-session='{session_id}']")
                await page.wait_for_url(f"**/feedback?session={session_id}", timeout=15_000)
                await page.wait_for_selector("body[data-view='home']", timeout=15_000)
            assert page.url.endswith(f"/me/pairs/{pair['pair_id']}/feedback?session={session_id}"), page.url
            form = page.locator("#feedback-form")
            await form.wait_for()
            assert await page.evaluate("() => document.documentElement.lang") == lang
            text = await page_text(page)
            if lang == "de":
                assert "Rückmeldung zu Ihrem Treffen" in text
                assert "Nur Sie und HR können ihn lesen" in text
                assert not ENGLISH.search(text), ENGLISH.search(text)
            else:
                assert "Feedback on your session" in text
                assert "Only you and HR can read it" in text
            # every input has a label the browser knows
            unlabelled = await page.evaluate(
                "() => [...document.querySelectorAll('#feedback-form input, #feedback-form textarea')]"
                ".filter((i) => !i.labels || i.labels.length === 0).map((i) => i.name)"
            )
            assert unlabelled == []
            await page.check("input[name='rating'][value='5']")
            await page.check("input[name='productivity_gain'][value='yes']")
            await page.check("input[name='new_business_opportunity'][value='no']")
            await page.fill("textarea[name='confidential_comment']", "Sehr hilfreich." if lang == "de" else "Helpful.")
            # a bad answer: the API refuses it, the page says so next to the field, and nothing is saved
            await page.fill("input[name='minutes_saved_per_day']", "900")
            await page.click("#feedback-form button[type=submit]")
            error = page.locator("[data-error-for='minutes_saved_per_day']")
            await error.filter(has_text=re.compile(".+")).wait_for(timeout=10_000)
            said = await error.inner_text()
            assert "480" in said
            assert ("Bitte" in said) if lang == "de" else ("Please" in said)
            assert await page.get_attribute("input[name='minutes_saved_per_day']", "aria-invalid") == "true"
            assert await page.locator("#alert").inner_text() != ""
            await page.screenshot(path=str(ARTIFACTS / f"portal-{lang}-feedback-error.png"), full_page=True)
            assert await minutes_saved_answers(sessions, programme_id) == 0
            # the right answer
            await page.fill("input[name='minutes_saved_per_day']", "45")
            await page.click("#feedback-form button[type=submit]")
            await page.wait_for_selector("[data-feedback='sent']", timeout=10_000)
            await page.screenshot(path=str(ARTIFACTS / f"portal-{lang}-feedback.png"), full_page=True)
            # counted in HR's figures (each person once)
            for _ in range(200):
                if await minutes_saved_answers(sessions, programme_id) == 1:
                    break
                await asyncio.sleep(0.05)
            assert await minutes_saved_answers(sessions, programme_id) == 1
            # ... and on HR's dashboard: HR signs in there (another browser, as another person would) and the
            # mentees' minutes-saved figure counts the one answer
            hr_user = idp.add_user(
                DemoUser(f"hanna-{client_id}", "Hanna Schmidt", "hanna@acme.example", ["hr"], auth.DEFAULT_TENANT)
            )
            board = await browser.new_page(viewport={"width": 1280, "height": 1400}, locale="en-GB")
            board.on("pageerror", lambda e: errors.append(str(e)))
            await board.goto(f"{sessions}/dashboard?programme={programme_id}&lang={lang}")
            await board.wait_for_url(f"{idp.issuer}/authorize?*", timeout=15_000)
            await board.click(f"button[name='pick'][value='{hr_user.username}']")
            counted = board.locator(".figure[data-key='mentee_minutes_saved_per_day'] .n")
            await counted.filter(has_text=re.compile(r"^1\b")).wait_for(timeout=15_000)
            await board.screenshot(path=str(ARTIFACTS / f"portal-{lang}-counted-on-dashboard.png"), full_page=True)
            await board.close()
            # the link again: the page says it was answered instead of showing the form
            await page.goto(link)
            await page.wait_for_selector("body[data-view='home']", timeout=15_000)
            if "session=" not in page.url:
                assert await page.locator("#open-sessions").count() == 0
                await page.goto(f"{sessions}/me/pairs/{pair['pair_id']}/feedback?session={session_id}")
            await page.wait_for_selector("[data-feedback='already']", timeout=15_000)
            assert await page.locator("#feedback-form").count() == 0

            # the pair page at phone width
            await page.set_viewport_size({"width": 375, "height": 812})
            await page.goto(f"{sessions}/me/pairs/{pair['pair_id']}")
            await page.wait_for_selector("#sessions table", timeout=15_000)
            text = await page_text(page)
            assert "Lena Yilmaz" in text
            # why they were paired, in the page's language, worded as the mails word it
            shown = await page.inner_text("[data-rationale]")
            assert shown == wording.rationale(pair["reasons"], pair["rationale"], lang)
            if lang == "de":
                assert not ENGLISH.search(text), ENGLISH.search(text)
            wide = await page.evaluate("() => document.documentElement.scrollWidth")
            assert wide <= 375, f"the pair page is {wide} px wide at phone width"
            await page.screenshot(path=str(ARTIFACTS / f"portal-{lang}-pair-phone.png"), full_page=True)
            assert errors == []
            await browser.close()


async def test_a_mentee_runs_their_tandem_in_the_portal(
    serve: ServeFactory, identity_provider: LocalIdentityProvider
) -> None:
    """Agreement, goals, sessions (plan, calendar file, move, cancel, log), the confidence check and the
    notification preferences, each through the page and seen in the APIs."""
    idp = identity_provider
    client_id = f"portal-run-{uuid.uuid4().hex[:8]}"
    with SmtpServer() as smtp:
        running = await site(serve, smtp, sessions={"auth": replace(auth_settings(idp), web_client_id=client_id)})
    sessions = running["sessions"].url
    idp.add_client(Client(client_id, redirect_uris=[f"{sessions}/auth/callback"]))
    _, pair, mentee = await a_pair(running, "en")
    user = idp.add_user(
        DemoUser(
            f"ingrid-{client_id}",
            "Ingrid Hoffmann",
            mentee["email"],
            ["participant"],
            auth.DEFAULT_TENANT,
            employee_id=mentee["employee_id"],
        )
    )
    pair_id, me = pair["pair_id"], mentee["participant_id"]
    async with auth.client(base_url=sessions) as hr:  # the mentor has confirmed the agreement already
        body = {"participant_id": pair["mentor_id"], "meeting_rhythm": "weekly", "confidentiality": True}
        assert (await hr.post(f"/pairs/{pair_id}/agreement", json=body)).status_code == 201
    as_mentee = auth.headers("participant", employee_id=mentee["employee_id"])

    async def api(service: str, path: str) -> Any:
        async with httpx.AsyncClient(headers=as_mentee) as client:
            r = await client.get(f"{running[service].url}{path}")
            assert r.status_code == 200, r.text
            return r.json()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1024, "height": 1200}, accept_downloads=True)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        for _ in range(400):  # the portal knows the mentee once their enrolment reached the sessions service
            if (await api("sessions", "/me"))["pairs"]:
                break
            await asyncio.sleep(0.05)
        await page.goto(f"{sessions}/me")
        await page.wait_for_url(f"{idp.issuer}/authorize?*", timeout=15_000)
        await page.click(f"button[name='pick'][value='{user.username}']")
        await page.wait_for_selector(f"[data-pair='{pair_id}']", timeout=15_000)
        assert "Tandem with Lena Yilmaz" in await page.inner_text(f"[data-pair='{pair_id}']")
        await page.click(f"[data-pair='{pair_id}'] a.button")
        await page.wait_for_selector("#agreement form", timeout=15_000)
        assert await page.inner_text("[data-rationale]") == pair["rationale"]

        # the agreement, confirmed by the mentee
        await page.click("#agreement button[type=submit]")
        await page.wait_for_selector("[data-agreement='confirmed']", timeout=15_000)
        assert (await api("sessions", f"/pairs/{pair_id}"))["agreement"]["mentee"]["confidentiality"] is True

        # a goal, then achieved
        await page.select_option("#goals select[name='topic']", "data-analysis")
        await page.fill("#goals input[name='description']", "Check a forecast with AI")
        await page.click("#goals button[type=submit]")
        goal = page.locator("#goals [data-goal]")
        await goal.wait_for(timeout=15_000)
        await goal.locator("button").click()
        await goal.locator(".badge.good").wait_for(timeout=15_000)
        (saved,) = (await api("sessions", f"/pairs/{pair_id}"))["goals"]
        assert (saved["topic"], saved["description"]) == ("data-analysis", "Check a forecast with AI")
        assert saved["achieved_at"] is not None

        # a session planned next week (the form's default), its calendar file, moved, then cancelled
        await page.click("#sessions form button[type=submit]")
        row = page.locator("#sessions tr[data-session]")
        await row.wait_for(timeout=15_000)
        session_id = await row.get_attribute("data-session")
        assert session_id
        async with page.expect_download() as download:
            await page.click(f"button[data-ics='{session_id}']")
        ics = await asyncio.to_thread((await (await download.value).path()).read_text)
        assert "BEGIN:VCALENDAR" in ics
        assert session_id in ics
        await row.locator("a", has_text="Open").click()
        await page.wait_for_url(f"**/me/pairs/{pair_id}/sessions/{session_id}")
        later = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=9)
        await page.fill("input[name='starts_at']", later.strftime("%Y-%m-%dT%H:%M"))  # the browser runs in UTC
        await page.click("form:has(input[name='starts_at']) button[type=submit]")
        await page.locator("#status", has_text="Session moved.").wait_for(timeout=15_000)
        moved = await api("sessions", f"/sessions/{session_id}")
        assert datetime.fromisoformat(moved["starts_at"]) == later
        await page.fill("input[name='reason']", "Travel")
        await page.click("form:has(input[name='reason']) button[type=submit]")
        await page.locator("#status", has_text="Session cancelled.").wait_for(timeout=15_000)
        assert (await api("sessions", f"/sessions/{session_id}"))["status"] == "cancelled"

        # a session that took place two hours ago: planned, then logged with what was practised
        await page.goto(f"{sessions}/me/pairs/{pair_id}")
        earlier = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
        await page.fill("#sessions input[name='starts_at']", earlier.strftime("%Y-%m-%dT%H:%M"))
        await page.click("#sessions form button[type=submit]")
        await page.locator("#sessions tr[data-session]").nth(1).wait_for(timeout=15_000)
        detail = await api("sessions", f"/pairs/{pair_id}")
        (past,) = [s for s in detail["sessions"] if s["status"] == "scheduled"]
        await page.goto(f"{sessions}/me/pairs/{pair_id}/sessions/{past['session_id']}")
        await page.wait_for_selector("input[name='held_at']", timeout=15_000)
        await page.check("input[name='topics'][value='prompt-writing']")
        await page.fill("input[name='tools']", "ChatGPT, Copilot")
        await page.fill("textarea[name='action_items']", "Try it on the monthly report")
        await page.click("form:has(input[name='held_at']) button[type=submit]")
        await page.locator("#status", has_text="Session logged.").wait_for(timeout=15_000)
        held = await api("sessions", f"/sessions/{past['session_id']}")
        assert (held["status"], held["topics"], held["tools"]) == ("held", ["prompt-writing"], ["ChatGPT", "Copilot"])
        assert held["action_items"] == ["Try it on the monthly report"]

        # the confidence check
        await page.goto(f"{sessions}/me/pairs/{pair_id}")
        await page.select_option("#confidence select[name='rating:ai-agents']", "2")
        await page.click("#confidence button[type=submit]")
        await page.locator("#status", has_text="confidence check is saved").wait_for(timeout=15_000)

        # notification preferences, on the notifications API (cross-origin, the same token)
        await page.goto(f"{sessions}/me/preferences")
        form = page.locator(f"form[data-recipient='{me}']")
        await form.wait_for(timeout=15_000)
        await form.locator("select[name='locale']").select_option("de")
        await form.locator("input[name='quiet']").uncheck()
        # the notifications service does not answer (down, restarting): the page says so, and nothing changed
        unreachable = f"{running['notifications'].url}/recipients/**"
        await page.route(unreachable, lambda route: route.abort("connectionrefused"))
        await form.locator("button[type=submit]").click()
        await page.locator("#alert", has_text="the service did not answer").wait_for(timeout=15_000)
        assert (await api("notifications", f"/recipients/{me}/preferences"))["locale"] != "de"
        await page.unroute(unreachable)
        await form.locator("button[type=submit]").click()
        await page.locator("#status", has_text="Preferences saved.").wait_for(timeout=15_000)
        prefs = await api("notifications", f"/recipients/{me}/preferences")
        assert (prefs["locale"], prefs["quiet_start"], prefs["quiet_end"]) == ("de", None, None)
        await page.screenshot(path=str(ARTIFACTS / "portal-en-preferences.png"), full_page=True)
        assert errors == []
        await browser.close()
    rated = await running["sessions"].host.pool.fetchrow(
        "SELECT phase, ratings FROM confidence WHERE pair_id = $1 AND participant_id = $2", pair_id, me
    )
    assert rated["phase"] == "start"
    assert rated["ratings"]["ai-agents"] == 2
