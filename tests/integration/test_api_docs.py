"""What a developer meets first on each service, over real HTTP: the API documentation (/docs, /redoc) works
without the internet, every script, style and icon coming from the service itself; and a body that is not JSON
is answered with where it breaks (line and column), not a bare offset."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from services.notifications.app import SPEC as NOTIFICATIONS
from services.pairing.app import SPEC as PAIRING
from services.sessions.app import SPEC as SESSIONS
from shared.runtime import ServiceSpec
from tests import auth
from tests.conftest import ServeFactory

SPECS = [PAIRING, SESSIONS, NOTIFICATIONS]
#: A command of each service that takes a JSON body.
COMMANDS = {
    "pairing": ("POST", "/programmes"),
    "sessions": ("POST", "/pairs/P-1/feedback"),
    "notifications": ("PUT", "/chat-webhook-hosts"),
}
EXPECTED_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


def referenced(html: str) -> list[str]:
    """Every URL the page loads: src and href attributes, and the OpenAPI document its script fetches."""
    found = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    found += re.findall(r"""url:\s*'([^']+)'""", html)  # Swagger UI's configuration
    found += re.findall(r"""spec-url\s*=\s*["']([^"']+)["']""", html)  # ReDoc's
    return found


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_the_api_documentation_needs_nothing_from_another_host(serve: ServeFactory, spec: ServiceSpec) -> None:
    service = await serve(spec)
    origin = urlsplit(service.url)
    async with httpx.AsyncClient(base_url=service.url) as client:  # no token: the pages are public, as before
        for page, must_load in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
            r = await client.get(page)
            assert r.status_code == 200, (page, r.text[:300])
            assert r.headers["content-type"].startswith("text/html")
            assert "default-src 'self'" in r.headers["content-security-policy"]  # the browser asks no other host
            urls = referenced(r.text)
            assert any(u.endswith(must_load) for u in urls), (page, urls)
            assert "fonts.googleapis" not in r.text, page
            assert "cdn." not in r.text, page
            for url in urls:
                absolute = urlsplit(urljoin(f"{service.url}{page}", url))
                assert (absolute.scheme, absolute.netloc) == (origin.scheme, origin.netloc), (page, url)
                asset = await client.get(absolute.path)
                assert asset.status_code == 200, (page, url, asset.status_code)
                suffix = next((s for s in EXPECTED_TYPES if absolute.path.endswith(s)), ".json")
                assert EXPECTED_TYPES[suffix] in asset.headers["content-type"], (url, asset.headers["content-type"])
                assert len(asset.content) > 100, url
        # the pages stay out of the API's own description
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert not any(p.startswith(("/docs", "/redoc")) for p in paths)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
async def test_a_body_that_is_not_json_is_answered_with_its_line_and_column(
    serve: ServeFactory, spec: ServiceSpec
) -> None:
    service = await serve(spec)
    method, path = COMMANDS[spec.name]
    body = '{\n  "name": "Pilot"\n  "starts_on": "2026-01-01"\n}'  # a comma missing at the end of line 2
    async with auth.client(base_url=service.url) as client:
        r = await client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "body"
    assert error["message"] == "body: the body is not valid JSON at line 3, column 3: Expecting ',' delimiter"
    assert r.json()["errors"][0]["message"].startswith("the body is not valid JSON at line 3, column 3")
