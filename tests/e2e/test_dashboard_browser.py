"""The HR dashboard in a real headless browser (Playwright driving Debian's Chromium): the page signs in
through the identity provider's real sign-in page (Authorization Code + PKCE), shows the figures the API
computes, exports with the token, signs out, and leaves screenshots in test-artifacts/."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from services.sessions.domain.outcomes import _FIGURES, CONFIDENCE_FIGURE, REFERENCE_FIGURES
from shared.events.sessions import SensitiveDataAccessed
from shared.identity_provider import Client, DemoUser, LocalIdentityProvider
from shared.localstack import free_port
from tests import auth, builders
from tests.conftest import ServeFactory, auth_settings
from tests.e2e import catalogues
from tests.integration.sessions.flows import agree, as_participant, programme_with_pairs, wait_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MESSAGES = Path(__file__).resolve().parents[2] / "services" / "sessions" / "dashboard" / "messages.js"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: `make test` installs Debian's chromium; run `apt-get install chromium`")
    return path


def catalogue(lang: str) -> dict[str, str]:
    return catalogues.catalogue(MESSAGES, lang)


def english_only_words() -> set[str]:
    return catalogues.english_only_words(MESSAGES)


async def page_text(page: Page) -> str:
    """The page's visible text, without scripts, hidden parts and what the API wrote in English for want of a
    message (marked lang="en")."""
    text: str = await page.evaluate(
        """() => {
          const copy = document.body.cloneNode(true);
          copy.querySelectorAll('script, [lang="en"], [hidden]').forEach((n) => n.remove());
          return copy.innerText;
        }"""
    )
    return text


def test_the_german_catalogue_has_every_english_message() -> None:
    """A message missing in German would show in English (t() falls back): both catalogues name the same keys,
    and every figure the API computes has its label in both."""
    en, de = catalogue("en"), catalogue("de")
    assert len(en) > 60
    assert set(en) == set(de), set(en) ^ set(de)
    for key in [figure[0] for figure in _FIGURES] + [CONFIDENCE_FIGURE]:
        assert f"figure.{key}" in en, key
    for key, reference in REFERENCE_FIGURES.items():
        assert en[f"reference.{key}"] == reference.text, key  # the English page says what the API says
        assert f"source.{reference.source}" in en, reference.source
    assert "Every" not in " ".join(de.values())


def as_shown(figure: dict[str, Any]) -> str:
    """The dashboard's formatting rule (app.js formatFigure)."""
    value = figure["value"]
    if value is None:
        return "not enough answers"
    if figure["kind"] == "share":
        return f"{round(value * 100)}%"
    if figure["kind"] == "median":
        return f"{round(value)} min"
    return f"{'+' if value > 0 else ''}{value:.1f}"


async def test_hr_signs_in_and_the_dashboard_shows_the_apis_figures(
    serve: ServeFactory, identity_provider: LocalIdentityProvider
) -> None:
    idp = identity_provider
    # The dashboard's own public client, with the exact callback URI of this test's server (and where sign-out
    # returns), and the HR person who signs in.
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    client_id = f"dashboard-{uuid.uuid4().hex[:8]}"
    idp.add_client(
        Client(client_id, redirect_uris=[f"{origin}/auth/callback"], post_logout_redirect_uris=[f"{origin}/"])
    )
    hr = idp.add_user(
        DemoUser(f"hanna-{client_id}", "Hanna Schmidt", "hanna.schmidt@acme.example", ["hr"], auth.DEFAULT_TENANT)
    )
    pairing = await serve(PAIRING)
    sessions = await serve(SESSIONS, port=port, auth=replace(auth_settings(idp), web_client_id=client_id))
    assert sessions.url == origin
    programme_id, pairs = await programme_with_pairs(pairing, sessions.url, 6, name="Browser cohort")
    start = datetime.now(UTC) - timedelta(days=3)
    async with auth.client(base_url=sessions.url) as client:
        for i, pair in enumerate(pairs):
            await agree(client, pair)
            r = await client.post(f"/pairs/{pair['pair_id']}/sessions", json={"starts_at": start.isoformat()})
            sid = r.json()["events"][0]["data"]["session_id"]
            await client.post(
                f"/pairs/{pair['pair_id']}/sessions/{sid}/log",
                json={"held_at": start.isoformat(), "minutes": 45, "topics": ["prompt-writing"]},
            )
            r = await client.post(
                f"/pairs/{pair['pair_id']}/feedback",
                headers=as_participant(pair, pair["mentee_id"]),
                json={
                    "author_id": pair["mentee_id"],
                    "session_id": sid,
                    "rating": 5,
                    "productivity_gain": i != 0,
                    "minutes_saved_per_day": 30 + 10 * i,
                },
            )
            assert r.status_code == 201, r.text
        for _ in range(200):
            api = (await client.get(f"/programmes/{programme_id}/outcomes")).json()
            if api["totals"]["sessions_held"] == 6 and api["figures"][0]["n"] == 6:
                break
            await asyncio.sleep(0.05)
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{sessions.url}/dashboard?programme={programme_id}")
        # not signed in: the provider's sign-in page, for this client; HR picks themselves
        await page.wait_for_url(f"{idp.issuer}/authorize?*", timeout=15_000)
        assert client_id in await page.inner_text("body")
        await page.screenshot(path=str(ARTIFACTS / "dashboard-sign-in.png"))
        await page.click(f"button[name='pick'][value='{hr.username}']")
        # the callback redeems the code and returns to the programme asked for
        await page.wait_for_selector(f"body[data-loaded='{programme_id}']", timeout=15_000)
        assert page.url == f"{sessions.url}/dashboard?programme={programme_id}"
        assert await page.inner_text("#who-name") == "Hanna Schmidt"
        assert await page.inner_text("#who-roles") == "(hr)"
        stored = await page.evaluate("() => JSON.parse(sessionStorage.getItem('tandem.auth'))")
        assert stored["access_token"].count(".") == 2
        assert await page.evaluate("() => localStorage.length") == 0  # the token stays in this tab only
        assert await page.inner_text("#programme-name") == "Browser cohort"
        for figure in api["figures"]:
            shown = await page.inner_text(f"[data-figure='{figure['key']}']")
            assert shown == as_shown(figure), figure["key"]
        assert await page.inner_text("[data-total='Sessions held']") == "6"
        bars = await page.locator("#weeks-chart rect[data-week]").count()
        assert bars == len(api["weeks"])
        csv_link = await page.get_attribute("#export-csv", "href")
        assert csv_link == f"/programmes/{programme_id}/outcomes.csv"
        await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        # the export goes with the token, and is recorded as HR's
        async with page.expect_download() as download:
            await page.click("#export-csv")
        saved = await download.value
        assert saved.suggested_filename == f"tandem-{programme_id}-outcomes.csv"
        text = await asyncio.to_thread((await saved.path()).read_text)
        assert text.startswith("programme_id,as_of,section")
        exported = await sessions.host.pool.fetchval(
            "SELECT payload FROM outbox WHERE event_type = $1 ORDER BY position DESC LIMIT 1",
            SensitiveDataAccessed.TYPE,
        )
        record = SensitiveDataAccessed.model_validate_json(exported)
        assert (record.what, record.by) == ("outcomes.csv", f"Hanna Schmidt ({hr.username})")

        # sign-out ends the session at the provider too: back on the dashboard, it asks to sign in again
        await page.click("#sign-out")
        await page.wait_for_url(f"{idp.issuer}/authorize?*", timeout=15_000)
        assert "Sign in to Tandem" in await page.inner_text("body")
        assert await page.evaluate("() => sessionStorage.getItem('tandem.auth')") is None

        # a callback this tab did not ask for is refused
        await page.goto(f"{sessions.url}/auth/callback?code=forged&state=forged")
        await page.wait_for_selector("body[data-error='true']", timeout=15_000)
        assert "state" in await page.inner_text("#status")
        await browser.close()
    assert not errors, errors
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def german_day(day: date) -> str:
    return f"{day.day}.{day.month}.{day.year}"


def english_day(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


async def test_the_dashboard_opens_on_the_running_programme_in_the_viewers_locale(
    serve: ServeFactory, identity_provider: LocalIdentityProvider
) -> None:
    """A German viewer (the browser's language) sees German dates and numbers; without ?programme= the dashboard
    opens on the running programme with the most pairs, not on the newest, empty one; the reference labels keep
    clear of "not enough answers"; a programme with no pairs says so instead of "every pair is meeting"."""
    idp = identity_provider
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    client_id = f"dashboard-{uuid.uuid4().hex[:8]}"
    idp.add_client(
        Client(client_id, redirect_uris=[f"{origin}/auth/callback"], post_logout_redirect_uris=[f"{origin}/"])
    )
    hr = idp.add_user(DemoUser(f"greta-{client_id}", "Greta Hr", "greta.hr@acme.example", ["hr"], auth.DEFAULT_TENANT))
    pairing = await serve(PAIRING)
    sessions = await serve(SESSIONS, port=port, auth=replace(auth_settings(idp), web_client_id=client_id))
    today = datetime.now(UTC).date()
    running_from, running_to = today - timedelta(days=35), today + timedelta(days=150)
    running, pairs = await programme_with_pairs(
        pairing, sessions.url, 2, name="Laufendes Programm",
        starts_on=running_from.isoformat(), ends_on=running_to.isoformat(),
    )  # fmt: skip
    empty_from = today - timedelta(days=2)
    async with auth.client(base_url=pairing.url) as client:
        empty = builders.programme(
            name="Neues Programm", starts_on=empty_from.isoformat(), ends_on=running_to.isoformat()
        )
        assert (await client.post("/programmes", json=empty)).status_code == 201
    async with auth.client(base_url=sessions.url) as client:
        await wait_for(client, f"/programmes/{empty['programme_id']}/outcomes")
        listed = (await client.get("/programmes")).json()
        assert listed[0]["programme_id"] == empty["programme_id"]  # the newest comes first, and has no pairs
        held = datetime.now(UTC) - timedelta(days=1)
        await agree(client, pairs[0])
        r = await client.post(f"/pairs/{pairs[0]['pair_id']}/sessions", json={"starts_at": held.isoformat()})
        sid = r.json()["events"][0]["data"]["session_id"]
        r = await client.post(
            f"/pairs/{pairs[0]['pair_id']}/sessions/{sid}/log",
            json={"held_at": held.isoformat(), "minutes": 45, "topics": ["prompt-writing"]},
        )
        assert r.status_code in (200, 201), r.text
        for _ in range(200):
            api = (await client.get(f"/programmes/{running}/outcomes")).json()
            if api["totals"]["sessions_held"] == 1:
                break
            await asyncio.sleep(0.05)
    assert api["totals"]["minutes"] == 45  # 0.8 hours: a decimal to show with the viewer's separator
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 1400}, locale="de-DE")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{sessions.url}/dashboard")
        await page.wait_for_url(f"{idp.issuer}/authorize?*", timeout=15_000)
        await page.click(f"button[name='pick'][value='{hr.username}']")
        await page.wait_for_selector("body[data-loaded]", timeout=15_000)
        assert await page.get_attribute("body", "data-loaded") == running  # not the newest, empty one
        assert await page.inner_text("#programme-name") == "Laufendes Programm"
        dates = await page.inner_text("#programme-dates")
        assert dates.startswith(f"{german_day(running_from)} – {german_day(running_to)}"), dates
        assert await page.inner_text("[data-total='Hours of mentoring']") == "0,8"
        # where a figure is not shown, its text and the reference's label do not overlap
        for figure in api["figures"]:
            if figure["reference"] is None:
                continue
            key = figure["key"]
            value = await page.locator(f"[data-figure='{key}']").bounding_box()
            label = await page.locator(f".figure[data-key='{key}'] .ref-label").bounding_box()
            assert value is not None, key
            assert label is not None, key
            assert await page.inner_text(f"[data-figure='{key}']") == "zu wenige Antworten"
            apart = label["y"] >= value["y"] + value["height"] or value["y"] >= label["y"] + label["height"]
            assert apart, (key, value, label)
        # every word German: a figure's label (by its key, not the API's English), the reference, the n line
        assert await page.evaluate("() => document.documentElement.lang") == "de"
        label = await page.inner_text(".figure[data-key='mentee_productivity_gain'] .label")
        assert label == "Mentees, die produktiver geworden sind", label
        assert api["figures"][0]["label"] == "Mentees reporting a productivity gain"  # the API keeps its English
        card = await page.inner_text(".figure[data-key='mentee_productivity_gain']")
        assert "Führungskräfte" in card, card
        assert "(IWG-Studie 2026)" in card, card
        n_line = await page.inner_text(".figure[data-key='mentee_productivity_gain'] .n")
        assert n_line == f"0 von mindestens {api['figures'][0]['min_group_size']} nötigen Antworten", n_line
        assert await page.inner_text("#export-csv") == "Als CSV exportieren"
        assert await page.inner_text("#sign-out") == "Abmelden"
        plurals = await page.evaluate(
            "() => [tn('risk.daysCount', 1), tn('risk.daysCount', 21),"
            " tn('figure.answers', 1), tn('figure.answers', 3)]"
        )
        assert plurals == ["1 Tag", "21 Tage", "1 Antwort", "3 Antworten"]
        shown = await page_text(page)
        english = sorted(w for w in english_only_words() if w in shown)
        assert not english, f"English on the German dashboard: {english}"
        await page.screenshot(path=str(ARTIFACTS / "dashboard-de.png"), full_page=True)

        # ?lang= wins over the browser's language; a programme without pairs says so
        await page.goto(f"{sessions.url}/dashboard?programme={empty['programme_id']}&lang=en")
        await page.wait_for_selector(f"body[data-loaded='{empty['programme_id']}']", timeout=15_000)
        dates = await page.inner_text("#programme-dates")
        assert dates.startswith(f"{english_day(empty_from)} – {english_day(running_to)}"), dates
        at_risk = await page.inner_text("#at-risk tbody")
        assert "No pairs yet" in at_risk, at_risk
        assert "Every pair is meeting" not in at_risk
        assert await page.evaluate("() => document.documentElement.lang") == "en"
        plurals = await page.evaluate(
            "() => [tn('risk.daysCount', 1), tn('figure.answers', 1), tn('figure.answers', 0)]"
        )
        assert plurals == ["1 day", "1 answer", "0 answers"]
        label = await page.inner_text(".figure[data-key='mentee_productivity_gain'] .label")
        assert label == "Mentees reporting a productivity gain", label
        await page.screenshot(path=str(ARTIFACTS / "dashboard-no-pairs.png"), full_page=True)
        await browser.close()
    assert not errors, errors
