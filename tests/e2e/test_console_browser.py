"""The HR console in a real headless Chromium, in English and in German (the browser's language): HR signs in on
the identity provider's page, creates a programme, launches it, uploads a participants file (a bad one first: its
row errors are shown and nobody is enrolled; then a good one), starts a match run, sees the proposals with their
rationales, accepts some of them, and finds the pairs listed. Every page is checked with axe-core; screenshots go
to test-artifacts/console-<lang>-<step>.png."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from shared.identity_provider import Client, DemoUser, LocalIdentityProvider
from tests import auth, builders
from tests.conftest import ServeAllFactory, auth_settings
from tests.directory import provision, token
from tests.e2e import a11y, catalogues
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS, chromium
from tests.integration.sessions.flows import wait_for
from tests.kafka_helpers import eventually

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
MESSAGES = Path(__file__).resolve().parents[2] / "services" / "pairing" / "console" / "messages.js"
BROWSER_LOCALE = {"en": "en-GB", "de": "de-DE"}
#: What the page says at each step, in each language (the test reads the page as a person would).
SAYS = {
    "en": {
        "launched": "enrolment is open",
        "row_errors": "Nobody was enrolled",
        "enrolled": "6 people enrolled",
        "accepted": "2 pairs created",
        "runs": "1 Sept 2026 – 1 Mar 2027",
        "launch": "Launch",
        "start": "Start match run",
        "accept": "Accept selected",
        "upload": "Upload and enrol",
        "create": "Create programme",
    },
    "de": {
        "launched": "Die Anmeldung ist offen",
        "row_errors": "Niemand wurde angemeldet",
        "enrolled": "6 Personen angemeldet",
        "accepted": "2 Tandems gebildet",
        "runs": "01.09.2026 – 01.03.2027",
        "launch": "Starten",
        "start": "Matching-Lauf starten",
        "accept": "Auswahl annehmen",
        "upload": "Hochladen und anmelden",
        "create": "Programm anlegen",
    },
}


def catalogue(lang: str) -> dict[str, str]:
    return catalogues.catalogue(MESSAGES, lang)


def english_only_words() -> set[str]:
    return catalogues.english_only_words(MESSAGES)


async def page_text(page: Page) -> str:
    """The page's visible text, without what the APIs wrote (marked lang="en": their messages, reasons) and the
    rationales (rendered by reasons.js, localised there)."""
    text: str = await page.evaluate(
        """() => {
          const copy = document.body.cloneNode(true);
          copy.querySelectorAll('script, [lang="en"], .rationale, [hidden]').forEach((n) => n.remove());
          return copy.innerText;
        }"""
    )
    return text


async def step(page: Page, lang: str, name: str, shots: list[str]) -> None:
    """After each step: the page passes axe-core, its text is in the page's language, and a screenshot is kept."""
    await a11y.check(page, f"console ({lang}) at {name}")
    assert await page.evaluate("() => document.documentElement.lang") == lang
    if lang == "de":
        shown = await page_text(page)
        english = sorted(w for w in english_only_words() if w in shown)
        assert not english, f"English on the German page at {name}: {english}"
    path = ARTIFACTS / f"console-{lang}-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    shots.append(path.name)


def csv_file(name: str, header: str, rows: list[str]) -> dict[str, Any]:
    return {"name": name, "mimeType": "text/csv", "buffer": "\n".join([header, *rows, ""]).encode()}


@pytest.mark.parametrize("lang", ["en", "de"])
async def test_hr_runs_a_programme_from_the_console(
    lang: str, serve_site: ServeAllFactory, identity_provider: LocalIdentityProvider
) -> None:
    idp = identity_provider
    client_id = f"console-{uuid.uuid4().hex[:8]}"
    site = await serve_site(pairing={"auth": replace(auth_settings(idp), web_client_id=client_id)})
    pairing = site["pairing"]
    origin = pairing.url
    idp.add_client(
        Client(client_id, redirect_uris=[f"{origin}/auth/callback"], post_logout_redirect_uris=[f"{origin}/"])
    )
    hr = idp.add_user(
        DemoUser(f"hanna-{client_id}", "Hanna Schmidt", "hanna.schmidt@acme.example", ["hr"], auth.DEFAULT_TENANT)
    )
    # The directory holds three mentors and three mentees (the HR platform's upload); the console enrols them.
    mentors = [builders.mentor(display_name=f"Mentor {n} {lang}") for n in "ABC"]
    mentees = [builders.mentee(display_name=f"Mentee {n} {lang}") for n in "ABC"]
    async with auth.client(base_url=pairing.url) as client:
        await provision(client, pairing.url, pairing.host, mentors + mentees)
    header = "employee_id,role,capacity,availability,teach_topics,learn_topics,goal"
    bad = csv_file(
        "bad.csv",
        header,
        [
            f"{mentors[0]['employee_id']},mentor,1,Tue 09:00-12:00,prompt-writing:3,,",
            "E-nobody-here,mentor,1,Tue 09:00-12:00,prompt-writing:3,,",
            f"{mentees[0]['employee_id']},mentee,1,Tue 10:00-11:30,,underwater-basket-weaving:2,Board memos",
        ],
    )
    good = csv_file(
        "participants.csv",
        "participant_id," + header,
        [
            f"{m['participant_id']},{m['employee_id']},mentor,1,Tue 09:00-12:00,prompt-writing:3; ai-agents:2,,"
            for m in mentors
        ]
        + [
            f"{m['participant_id']},{m['employee_id']},mentee,1,Tue 10:00-11:30,,prompt-writing:3,Board memos with AI"
            for m in mentees
        ],
    )
    says = SAYS[lang]
    name = f"Tandem 2027 {lang} {uuid.uuid4().hex[:4]}"
    ARTIFACTS.mkdir(exist_ok=True)
    shots: list[str] = []
    async with async_playwright() as pw:
        # the browser's own language too (date fields, the file picker), as a German person's browser has it
        args = [*CHROMIUM_ARGS, f"--lang={BROWSER_LOCALE[lang]}"]
        language = {**os.environ, "LANGUAGE": BROWSER_LOCALE[lang].replace("-", "_")}
        browser = await pw.chromium.launch(executable_path=chromium(), args=args, env=language)
        # west of UTC: a calendar day (the programme's start) must not show as the day before
        context = await browser.new_context(
            locale=BROWSER_LOCALE[lang], timezone_id="America/New_York", viewport={"width": 1280, "height": 1000}
        )
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        # 1. not signed in: the provider's page; HR picks themselves and lands on the console
        await page.goto(f"{origin}/console")
        await page.wait_for_url(f"{idp.issuer}/authorize?*", timeout=15_000)
        await page.screenshot(path=str(ARTIFACTS / f"console-{lang}-sign-in.png"))
        await page.click(f"button[name='pick'][value='{hr.username}']")
        await page.wait_for_selector("body[data-loaded='/console']", timeout=15_000)
        assert await page.inner_text("#who-name") == "Hanna Schmidt"
        await step(page, lang, "programmes", shots)

        # 2. create a programme (a bad date range first: the API's error shows next to the field, nothing is made)
        form = page.locator("#create-programme")
        await form.locator("[name=name]").fill(name)
        await form.locator("[name=starts_on]").fill("2026-09-01")
        await form.locator("[name=ends_on]").fill("2026-03-01")
        await form.locator("[name=hr_contact_email]").fill("mentoring@acme.example")
        await form.get_by_role("button", name=says["create"]).click()
        await page.wait_for_selector("#create-programme .form-error:not([hidden])")
        assert await page.locator("#create-programme [aria-invalid=true]").count() == 1
        async with auth.client(base_url=pairing.url) as client:
            assert name not in {p["name"] for p in (await client.get("/programmes")).json()}
        await step(page, lang, "create-error", shots)
        await form.locator("[name=ends_on]").fill("2027-03-01")
        await form.get_by_role("button", name=says["create"]).click()
        await page.wait_for_selector("body[data-loaded*='/console/programmes/']")
        programme_id = page.url.split("/console/programmes/")[1].split("?")[0].split("/")[0]
        assert SAYS[lang]["runs"] in await page.inner_text("main")  # the days in the viewer's locale
        await step(page, lang, "created", shots)
        async with auth.client(base_url=pairing.url) as client:  # HR's mails in the console's language by default
            assert (await client.get(f"/programmes/{programme_id}")).json()["hr_locale"] == lang

        # 3. launch it
        await page.get_by_role("button", name=says["launch"], exact=True).click()
        await page.wait_for_selector(f"#announce :text('{says['launched']}')")
        async with auth.client(base_url=pairing.url) as client:
            assert (await client.get(f"/programmes/{programme_id}")).json()["state"] == "enrolling"

        # 4. a bad file: each row's error (line, field, message) is shown, and nobody is enrolled
        await page.click("[data-tab=enrolment]")
        await page.wait_for_selector(f"body[data-loaded='/console/programmes/{programme_id}/enrolment']")
        await page.set_input_files("#upload input[type=file]", files=[bad])  # type: ignore[list-item]
        await page.get_by_role("button", name=says["upload"]).click()
        await page.wait_for_selector("#row-errors")
        assert says["row_errors"] in await page.inner_text("#row-errors")
        rows = await page.locator("#row-errors tbody tr").all_inner_texts()
        assert len(rows) == 2, rows
        assert rows[0].split("\t")[:2] == ["3", "employee_id"]
        assert "E-nobody-here" in rows[0]
        assert rows[1].split("\t")[:2] == ["4", "learn_topics"]
        assert "underwater-basket-weaving" in rows[1]
        async with auth.client(base_url=pairing.url) as client:
            assert (await client.get(f"/programmes/{programme_id}/participants")).json()["total"] == 0
        await step(page, lang, "upload-errors", shots)

        # 5. the good file enrols all six
        await page.set_input_files("#upload input[type=file]", files=[good])  # type: ignore[list-item]
        await page.get_by_role("button", name=says["upload"]).click()
        await page.wait_for_selector(f"#announce :text('{says['enrolled']}')")
        assert await page.locator("#enrolled tbody tr").count() == 6
        await step(page, lang, "enrolled", shots)

        # 6. a match run with its own policy (a bad minimum score first: the API's error shows next to that field and
        # no run is made), then its proposals with score and rationale, and the unmatched (nobody here)
        await page.click("[data-tab=matching]")
        await page.wait_for_selector(f"body[data-loaded='/console/programmes/{programme_id}/matching']")
        await step(page, lang, "matching", shots)
        starts: list[Any] = []  # what the form sends: only what HR changed
        page.on(
            "request",
            lambda r: starts.append(r.post_data_json) if r.method == "POST" and r.url.endswith("/match-runs") else None,
        )
        min_score = page.locator("#start-run [name='policy.min_score']")
        assert await min_score.input_value() == "0"  # prefilled with the programme's
        await min_score.fill("150")
        await page.get_by_role("button", name=says["start"]).click()
        await page.wait_for_selector("#start-run .form-error:not([hidden])")
        assert await page.locator("#start-run [aria-invalid=true]").count() == 1
        assert await min_score.get_attribute("aria-invalid") == "true"
        next_to_it = page.locator("#start-run label:has([name='policy.min_score']) .field-error")
        assert "policy.min_score" in await next_to_it.inner_text()
        async with auth.client(base_url=pairing.url) as client:
            assert (await client.get(f"/programmes/{programme_id}/match-runs")).json() == []
        await step(page, lang, "policy-error", [])  # axe and the page's language; not one of the journey's shots
        await min_score.fill("10")
        await page.get_by_role("button", name=says["start"]).click()
        await page.wait_for_selector("#proposals tbody tr")
        run_id = page.url.split("/matching/")[1].split("?")[0]
        async with auth.client(base_url=pairing.url) as client:
            run = (await client.get(f"/match-runs/{run_id}")).json()
        assert len(run["proposals"]) == 3
        assert starts == [{"policy": {"min_score": 150}}, {"policy": {"min_score": 10}}]
        assert run["policy"]["min_score"] == 10  # the rest is the programme's
        assert run["policy"]["reporting_line_levels"] == 2
        # the run's page says what it changed, with the programme's value beside it
        was = catalogue(lang)["match.policy.was"].replace("{value}", "0")
        changed = await page.inner_text("#run-policy")
        assert was in changed, changed
        assert re.search(r"\b10\b", changed), changed
        for proposal in run["proposals"]:
            row = page.locator(f"tr[data-proposal='{proposal['proposal_id']}']")
            expected = await page.evaluate(
                "([reasons, rationale]) => TandemReasons.render(reasons, rationale)",
                [proposal.get("reasons"), proposal["rationale"]],
            )
            assert expected
            assert await row.locator(".rationale").inner_text() == expected
            names = {p["participant_id"]: p["display_name"] for p in mentors + mentees}
            text = await row.inner_text()
            assert names[proposal["mentor_id"]] in text
            assert names[proposal["mentee_id"]] in text
        await step(page, lang, "proposals", shots)

        # 7. accept two of the three: they are listed as pairs; the third stays open
        chosen = [p["proposal_id"] for p in run["proposals"][:2]]
        for proposal_id in chosen:
            await page.check(f"tr[data-proposal='{proposal_id}'] input[name=proposal]")
        await page.get_by_role("button", name=says["accept"]).click()
        await page.wait_for_selector(f"body[data-loaded='/console/programmes/{programme_id}/pairs']")
        assert says["accepted"] in await page.inner_text("#announce")
        assert await page.locator("#pairs tbody tr").count() == 2
        async with auth.client(base_url=pairing.url) as client:
            pairs = (await client.get("/pairs", params={"programme_id": programme_id})).json()["items"]
            run = (await client.get(f"/match-runs/{run_id}")).json()
        assert {p["pair_id"] for p in pairs} == {p["pair_id"] for p in run["proposals"] if p["proposal_id"] in chosen}
        assert [p["status"] for p in run["proposals"] if p["proposal_id"] not in chosen] == ["open"]
        for pair in pairs:
            assert await page.locator(f"#pairs tr[data-pair='{pair['pair_id']}']").count() == 1
        await step(page, lang, "pairs", shots)

        # at phone width the tables fold into labelled rows, and nothing is wider than the screen
        await page.set_viewport_size({"width": 390, "height": 844})
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert await page.locator("#pairs thead").is_hidden()
        await step(page, lang, "phone", shots)

        # the runs list says which policy each run used where it differs from the programme's
        await page.click("[data-tab=matching]")
        await page.wait_for_selector(f"body[data-loaded='/console/programmes/{programme_id}/matching']")
        listed = await page.inner_text(f"tr[data-run='{run_id}'] [data-policy]")
        assert was in listed, listed
        assert re.search(r"\b10\b", listed), listed
        await browser.close()
    assert not errors, errors
    assert len(shots) == 9


def test_the_german_catalogue_has_every_english_message() -> None:
    """A message missing in German would show in English (t() falls back): both catalogues name the same keys."""
    en, de = catalogue("en"), catalogue("de")
    assert len(en) > 100
    assert set(en) == set(de), set(en) ^ set(de)


async def test_the_console_shell_answers_every_console_address(serve_site: ServeAllFactory) -> None:
    """Every /console/... address gets the same public shell (the page routes); assets are served, others 404."""
    site = await serve_site()
    async with httpx.AsyncClient(base_url=site["pairing"].url) as client:
        for path in ("/console", "/console/programmes/p-1/matching/run-9", "/console/anything"):
            r = await client.get(path)
            assert r.status_code == 200, path
            assert r.headers["cache-control"] == "no-store"
            assert '<script src="/console/static/app.js">' in r.text
        assert (await client.get("/console/static/app.js")).headers["content-type"].startswith("text/javascript")
        assert (await client.get("/console/static/nothing.js")).status_code == 404
        outside = await client.get("/console/static/..%2Fapi%2Fconsole.py")  # no file outside the folder: the shell
        assert "from shared import web" not in outside.text
        assert outside.headers["content-type"].startswith("text/html")


def person(employee_id: str, name: str, **kw: Any) -> dict[str, Any]:
    """A directory record as the HR platform sends it."""
    return {
        "employee_id": employee_id,
        "display_name": name,
        "email": f"{employee_id.lower()}@acme.example",
        "department": "Finance",
        "grade": 10,
        "languages": ["de", "en"],
        "timezone": "Europe/Berlin",
        "locale": "de-DE",
        **kw,
    }


async def test_hr_pairs_by_hand_resolves_a_flag_enrols_from_the_directory_and_exports(
    serve_site: ServeAllFactory, identity_provider: LocalIdentityProvider
) -> None:
    """The console's other sections, in English, each checked with axe-core: enrol from the directory, pair by hand,
    a reorganisation flags the pair and HR keeps it (a missing reason first: the API's error shows at the field
    and nothing changes), pairs at risk with the dashboard link and an export downloaded with the token, and a
    participant's notification history."""
    idp = identity_provider
    client_id = f"console-{uuid.uuid4().hex[:8]}"
    site = await serve_site(pairing={"auth": replace(auth_settings(idp), web_client_id=client_id)})
    pairing, sessions = site["pairing"], site["sessions"]
    origin = pairing.url
    idp.add_client(Client(client_id, redirect_uris=[f"{origin}/auth/callback"]))
    hr = idp.add_user(DemoUser(f"hr-{client_id}", "Hanna Schmidt", "hanna@acme.example", ["hr"], auth.DEFAULT_TENANT))
    boss, mid, junior, newcomer = (builders.uid(x) for x in ("B", "M", "J", "N"))
    async with auth.client(base_url=pairing.url) as client:
        records = [
            person(boss, "Dr. Sabine Keller", grade=16),
            person(mid, "Max Wolf", grade=11),
            person(junior, "Noah Fischer", grade=4, department="Marketing", manager_employee_id=mid),
            person(newcomer, "Emma Schulz", grade=15),
        ]
        r = await client.post(
            "/directory/imports", json=records, headers={"authorization": f"Bearer {await token(pairing.host)}"}
        )
        assert r.status_code == 200, r.text
        body = builders.programme(matching_policy={"reporting_line_levels": 2})
        assert (await client.post("/programmes", json=body)).status_code == 201
        programme_id = body["programme_id"]
        rows = [
            {"employee_id": junior, "role": "mentor", "teach_topics": {"prompt-writing": 3}},
            {"employee_id": boss, "role": "mentee", "learn_topics": {"prompt-writing": 3}},
        ]
        r = await client.post(f"/programmes/{programme_id}/participants/bulk", json=rows)
        assert r.status_code == 201, r.text
        mentor_id, mentee_id = (p["participant_id"] for p in r.json())
    shots: list[str] = []
    base = f"{origin}/console/programmes/{programme_id}"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 1000})
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"{base}/enrolment")
        await page.wait_for_url(f"{idp.issuer}/authorize?*", timeout=15_000)
        await page.click(f"button[name='pick'][value='{hr.username}']")
        await page.wait_for_selector(f"body[data-loaded='/console/programmes/{programme_id}/enrolment']")

        # enrol from the directory: Emma, as a mentee (the two enrolled already are not offered)
        await page.wait_for_selector(f"#directory tr[data-employee='{newcomer}']")
        assert await page.locator(f"#directory tr[data-employee='{junior}']").count() == 0
        # two people as mentees without a topic: each row's error is listed, and nobody is enrolled
        await page.check(f"#directory tr[data-employee='{newcomer}'] input")
        await page.check(f"#directory tr[data-employee='{mid}'] input")
        await page.select_option("#directory-enrol [name=role]", "mentee")
        await page.get_by_role("button", name="Enrol selected").click()
        await page.wait_for_selector("#row-errors")
        assert [r.split("\t")[:2] for r in await page.locator("#row-errors tbody tr").all_inner_texts()] == [
            ["1", "learn_topics"],
            ["2", "learn_topics"],
        ]
        assert await page.locator("#enrolled tbody tr").count() == 2
        await page.uncheck(f"#directory tr[data-employee='{mid}'] input")
        await page.check("#directory-enrol input[name=topic][value=prompt-writing]")
        await page.locator("#directory-enrol [name=availability]").fill("Tue 10:00-11:30")
        await page.get_by_role("button", name="Enrol selected").click()
        await page.wait_for_selector("#announce :text('1 person enrolled')")
        assert await page.locator("#enrolled tbody tr").count() == 3
        await step(page, "en", "other-directory", shots)

        # a pair by hand: the answer's warnings (if any) are shown, and the pair is listed
        await page.click("[data-tab=pairs]")
        await page.wait_for_selector("#manual-pair")
        await page.select_option("#manual-pair [name=mentor_id]", mentor_id)
        await page.select_option("#manual-pair [name=mentee_id]", mentee_id)
        await page.get_by_role("button", name="Create pair").click()
        await page.wait_for_selector("#pairs tbody tr")
        async with auth.client(base_url=pairing.url) as client:
            [made] = (await client.get("/pairs", params={"programme_id": programme_id})).json()["items"]
        announced = await page.inner_text("#announce")
        for warning in made["warnings"]:
            assert warning in announced
        await step(page, "en", "other-pairs", shots)

        # the reorganisation: Max now reports to Dr. Keller, so Noah mentors his manager's manager
        async with auth.client(base_url=pairing.url) as client:
            r = await client.post(
                "/directory/imports",
                json=[person(mid, "Max Wolf", grade=11, manager_employee_id=boss)],
                headers={"authorization": f"Bearer {await token(pairing.host)}"},
            )
            assert r.json()["flagged"] == 1, r.text
        await page.click("[data-tab=flagged]")
        form = page.locator(f"form.resolve[data-pair='{made['pair_id']}']")
        await form.wait_for()
        await step(page, "en", "other-flagged", shots)
        await form.get_by_role("button", name="Resolve").click()  # no reason: refused, named at the field
        await form.locator(".field-error").wait_for()
        assert await form.locator("textarea[name=reason][aria-invalid=true]").count() == 1
        async with auth.client(base_url=pairing.url) as client:
            assert (await client.get(f"/pairs/{made['pair_id']}")).json()["flag"] is not None
        await form.locator("[name=reason]").fill("works council agreed")
        await form.get_by_role("button", name="Resolve").click()
        await page.wait_for_selector("#no-flagged")
        async with auth.client(base_url=pairing.url) as client:
            kept = (await client.get(f"/pairs/{made['pair_id']}")).json()
        assert (kept["flag"], kept["flag_override"]["reason"]) == (None, "works council agreed")

        # at risk and outcomes, from the sessions API (once it has heard of the pair)
        async with auth.client(base_url=sessions.url) as client:
            await wait_for(client, f"/pairs/{made['pair_id']}")
        await page.click("[data-tab=outcomes]")
        await page.wait_for_selector("#at-risk, #at-risk-none")
        dashboard = await page.get_attribute("#dashboard-link", "href")
        assert dashboard == f"{sessions.url}/dashboard?programme={programme_id}"
        await step(page, "en", "other-outcomes", shots)
        async with page.expect_download() as download:
            await page.click("[data-export=csv]")
        saved = await download.value
        assert saved.suggested_filename == f"tandem-{programme_id}-outcomes.csv"
        text = await asyncio.to_thread((await saved.path()).read_text)
        assert text.startswith("programme_id,")

        # a participant's notification history, from the notifications API, and a failed one sent again. The
        # failure is set in the notifications database (how a mail server refuses is that service's own test).
        notifications = site["notifications"]

        async def sent() -> list[dict[str, Any]]:
            async with auth.client(base_url=notifications.url) as client:
                history = (await client.get(f"/recipients/{mentor_id}/notifications")).json()
            return [n for n in history if n["status"] == "sent"]

        [welcome] = await eventually(sent)
        await notifications.host.pool.execute(
            "UPDATE notifications SET status = 'failed', last_error = '550 mailbox unavailable' "
            "WHERE notification_id = $1",
            uuid.UUID(welcome["notification_id"]),
        )
        await page.click("[data-tab=notifications]")
        await page.select_option("#notif-pick [name=participant]", mentor_id)
        await page.get_by_role("button", name="Show history").click()
        row = page.locator(f"#history tr[data-notification='{welcome['notification_id']}']")
        await row.get_by_role("button", name="Resend").wait_for()
        assert "550 mailbox unavailable" in await row.inner_text()
        await step(page, "en", "other-notifications", shots)
        await row.get_by_role("button", name="Resend").click()
        await page.wait_for_selector("#announce :text('Sent again.')")
        async with auth.client(base_url=notifications.url) as client:
            history = (await client.get(f"/recipients/{mentor_id}/notifications")).json()
        [again] = [n for n in history if n["notification_id"] == welcome["notification_id"]]
        assert again["status"] != "failed"
        assert again["note"] == "resent by HR"
        await browser.close()
    assert not errors, errors
