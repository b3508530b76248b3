"""The HR console's Subject access section in a real headless Chromium, in English and German: HR signs in on the
identity provider's page, opens the section from the navigation, gives a malformed employee id (the API's error is
shown next to the field, nothing is saved), then a real one: the file saved holds the three services' answers in
the shape of `tandem subject export`. Every step passes axe-core; screenshots go to
test-artifacts/console-<lang>-subjects*.png."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from shared.identity_provider import Client, DemoUser, LocalIdentityProvider
from tests import auth, builders
from tests.conftest import ServeAllFactory, auth_settings
from tests.directory import provision
from tests.e2e.test_console_browser import ARTIFACTS, BROWSER_LOCALE, catalogue, step
from tests.e2e.test_dashboard_browser import CHROMIUM_ARGS, chromium


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["en", "de"])
async def test_hr_exports_what_tandem_holds_about_a_person(
    lang: str, serve_site: ServeAllFactory, identity_provider: LocalIdentityProvider, tmp_path: Path
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
    person = builders.mentee(display_name=f"Subject {lang}")
    async with auth.client(base_url=pairing.url) as client:
        await provision(client, pairing.url, pairing.host, [person])
    words = catalogue(lang)
    ARTIFACTS.mkdir(exist_ok=True)
    shots: list[str] = []
    async with async_playwright() as pw:
        args = [*CHROMIUM_ARGS, f"--lang={BROWSER_LOCALE[lang]}"]
        language: dict[str, str | float | bool] = {**os.environ, "LANGUAGE": BROWSER_LOCALE[lang].replace("-", "_")}
        browser = await pw.chromium.launch(executable_path=chromium(), args=args, env=language)
        context = await browser.new_context(locale=BROWSER_LOCALE[lang], accept_downloads=True)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        await page.goto(f"{origin}/console")
        await page.wait_for_url(f"{idp.issuer}/authorize?*", timeout=15_000)
        await page.click(f"button[name='pick'][value='{hr.username}']")
        await page.wait_for_selector("body[data-loaded='/console']", timeout=15_000)
        await page.get_by_role("link", name=words["nav.subjects"]).click()
        await page.wait_for_selector("body[data-loaded='/console/subjects']")
        assert await page.locator("#nav-subjects").get_attribute("aria-current") == "page"
        assert await page.inner_text("#page-title") == words["subjects.title"]
        await step(page, lang, "subjects", shots)

        # a malformed id: the API's message next to the field, no file
        form = page.locator("#subject-export")
        await form.locator("[name=employee_id]").fill("not an id")
        await form.get_by_role("button", name=words["subjects.export"]).click()
        await page.wait_for_selector("#subject-export .form-error:not([hidden])")
        assert await form.locator("[name=employee_id]").get_attribute("aria-invalid") == "true"
        assert "employee_id" in await form.locator(".field-error").inner_text()
        await step(page, lang, "subjects-error", shots)

        # the person: one file with the three answers
        await form.locator("[name=employee_id]").fill(person["employee_id"])
        async with page.expect_download() as download_info:
            await form.get_by_role("button", name=words["subjects.export"]).click()
        download = await download_info.value
        assert download.suggested_filename == f"tandem-subject-{person['employee_id']}.json"
        saved = tmp_path / download.suggested_filename
        await download.save_as(saved)
        await page.wait_for_selector("#subject-summary tbody tr")
        assert await page.locator("#subject-summary tbody tr").count() == 3
        await step(page, lang, "subjects-saved", shots)
        await browser.close()
    assert not errors, errors
    document = json.loads(_read(saved))
    assert document["employee_id"] == person["employee_id"]
    assert document["tenant"] == auth.DEFAULT_TENANT
    assert sorted(document["services"]) == ["notifications", "pairing", "sessions"]
    [record] = document["services"]["pairing"]["records"]["directory"]
    assert (record["email"], record["display_name"]) == (person["email"], person["display_name"])
    assert document["services"]["pairing"]["known"] is True
    assert document["services"]["sessions"]["known"] is False  # never enrolled: the other services do not know them
    assert all(answer["read_at"] for answer in document["services"].values())
