"""The pages' shared routes (shared/web) on real services: sign-in configuration with the three APIs' public URLs,
the shared assets, and CORS that lets the pages of the services' own origins (and only those) call an API."""

from __future__ import annotations

import httpx

from tests.conftest import ServeAllFactory


async def test_pages_learn_the_apis_and_only_the_known_origins_may_call_them(serve_site: ServeAllFactory) -> None:
    site = await serve_site()
    urls = {name: running.url for name, running in site.items()}
    async with httpx.AsyncClient(base_url=urls["sessions"]) as client:
        config = (await client.get("/auth/config")).json()
        assert config["apis"] == urls
        assert config["redirect_uri"] == f"{urls['sessions']}/auth/callback"
        assert config["home"] == "/dashboard"
        landing = await client.get("/")
        assert landing.status_code == 303
        assert landing.headers["location"] == "/dashboard"
        for name, kind in (("auth.js", "text/javascript"), ("i18n.js", "text/javascript"), ("base.css", "text/css")):
            r = await client.get(f"/web/static/{name}")
            assert r.status_code == 200, name
            assert r.headers["content-type"].startswith(kind), name
        for name in ("..%2Fweb%2F__init__.py", "__init__.py", "nope.js"):
            r = await client.get(f"/web/static/{name}")
            assert r.status_code == 404, name  # a path that leaves the folder matches no route at all
        callback = await client.get("/auth/callback?code=x&state=y")
        assert callback.status_code == 200
        assert "/web/static/auth.js" in callback.text
        assert callback.headers["cache-control"] == "no-store"
        assert callback.headers["x-frame-options"] == "DENY"

    # The pairing page (the HR console) calls the notifications API: a preflight from its origin is allowed,
    # one from elsewhere is refused and carries no allow header; a real call answers with the allow header.
    async with httpx.AsyncClient(base_url=urls["notifications"]) as client:
        preflight = {"access-control-request-method": "PUT", "access-control-request-headers": "authorization"}
        ok = await client.options("/recipients/E-1/preferences", headers={"origin": urls["pairing"], **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == urls["pairing"]
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        evil = {"origin": "https://evil.example", **preflight}
        bad = await client.options("/recipients/E-1/preferences", headers=evil)
        assert bad.status_code == 400
        assert "access-control-allow-origin" not in bad.headers
        unsigned = await client.get("/recipients/E-1/preferences", headers={"origin": urls["sessions"]})
        assert unsigned.status_code == 401  # CORS lets the page ask; the token still decides
        assert unsigned.headers["access-control-allow-origin"] == urls["sessions"]
        other = await client.get("/recipients/E-1/preferences", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    # The notifications service has no pages: no shared page routes there.
    async with httpx.AsyncClient(base_url=urls["notifications"]) as client:
        assert (await client.get("/auth/callback")).status_code in (401, 403, 404)
