"""The API documentation renders in a real headless Chromium with every request to another host refused: Swagger
UI at /docs and ReDoc at /redoc take their scripts and styles from the service itself (screenshots in
test-artifacts/)."""

from __future__ import annotations

from playwright.async_api import Route, async_playwright

from services.pairing.app import SPEC as PAIRING
from tests.conftest import ServeFactory
from tests.e2e.test_dashboard_browser import ARTIFACTS, CHROMIUM_ARGS, chromium


async def test_docs_and_redoc_render_with_no_other_host_reachable(serve: ServeFactory) -> None:
    pairing = await serve(PAIRING)
    title = pairing.host.app.title
    elsewhere: list[str] = []

    async def same_origin_only(route: Route) -> None:
        url = route.request.url
        if url.startswith(f"{pairing.url}/") or url.startswith("data:"):
            await route.continue_()
        else:  # what a machine without the internet would get
            elsewhere.append(url)
            await route.abort("internetdisconnected")

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.route("**/*", same_origin_only)

        await page.goto(f"{pairing.url}/docs")
        await page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        assert title in await page.inner_text(".swagger-ui .info .title")
        await page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)  # the operations, from /openapi.json
        assert await page.locator(".swagger-ui .opblock").count() > 10
        await page.screenshot(path=str(ARTIFACTS / "docs-swagger-ui.png"))

        await page.goto(f"{pairing.url}/redoc")
        await page.wait_for_selector("redoc h1", timeout=20_000)
        assert title in await page.inner_text("redoc h1")
        await page.screenshot(path=str(ARTIFACTS / "docs-redoc.png"))
        await browser.close()
    assert not elsewhere, elsewhere
    assert not errors, errors
