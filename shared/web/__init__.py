"""What every service's browser pages share: sign-in, the API map, CORS, and the assets under `static/`.

The pages are build-free: plain HTML, CSS and JavaScript files served by the services themselves (no CDN, no
bundler, no framework). Why not server-rendered templates: the pages sign in as a public OpenID Connect client
(Authorization Code + PKCE) and call the JSON APIs with a Bearer token, so the API that the integration tests,
schemathesis and the access matrix already check is the only thing that decides and the only thing that holds
data; a page is a shell that holds none and can be public. Each service serves the pages whose data are mostly
its own (the HR console from pairing, the participant portal and the dashboard from sessions); a page calls the
other services' APIs at the public URLs `/auth/config` names (`apis`), which allow its origin (CORS). One token
serves all three APIs (same issuer and audience).

Shared assets, at `/web/static/<name>`:
- `auth.js` (TandemAuth): sign-in, the token in the tab's sessionStorage, `api(url)` with the token;
- `i18n.js` (TandemI18n): the page's language (`?lang=`, else the person's locale, else the browser's), its
  messages, and dates and numbers in that locale (Intl);
- `base.css`: the look, accessible (contrast, focus outlines), down to phone width;
- `callback.html` / `callback.js`: where the provider sends the browser back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, RedirectResponse

from shared.access import PUBLIC, Rule
from shared.errors import NotFound

ASSETS = Path(__file__).resolve().parent / "static"
TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml", ".html": "text/html"}
#: A page shell: never cached (a new release's shell and scripts arrive together), no referrer (URLs carry ids).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

#: The routes `mount` adds, for each service's access matrix.
ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/"): Rule(public=True, note="redirects to the service's page (where sign-out returns)"),
    ("GET", "/web/static/{name}"): PUBLIC,
    ("GET", "/auth/config"): Rule(public=True, note="the pages' sign-in: issuer, public client, APIs"),
    ("GET", "/auth/callback"): Rule(public=True, note="the pages' sign-in: finishes the code exchange"),
}


def asset(folder: Path, name: str) -> FileResponse:
    """A file of `folder` (no subfolders, known types only), or 404 naming it."""
    path = (folder / name).resolve()
    if path.parent != folder.resolve() or path.suffix not in TYPES or not path.is_file():
        raise NotFound(f"no asset {name}", field="name")
    return FileResponse(path, media_type=TYPES[path.suffix], headers={"X-Content-Type-Options": "nosniff"})


def page(path: Path) -> FileResponse:
    """A page shell (HTML that holds no data), with the headers every page gets."""
    return FileResponse(path, media_type="text/html", headers=PAGE_HEADERS)


def router(home: str) -> APIRouter:
    """The shared routes; `home` is where `/` (and so sign-out) lands on this service."""
    routes = APIRouter(tags=["web"], include_in_schema=False)

    @routes.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse(home, status_code=303)

    @routes.get("/web/static/{name}")
    async def shared_asset(name: str) -> FileResponse:
        return asset(ASSETS, name)

    @routes.get("/auth/config")
    async def auth_config(request: Request) -> dict[str, Any]:
        """What a page needs to sign in, and where the three APIs answer."""
        settings = request.app.state.host.settings
        if settings.auth is None:  # the service does not start without it; say so rather than fail obscurely
            raise NotFound("sign-in is not configured (TANDEM_OIDC_ISSUER)", field="issuer")
        origin = str(request.base_url).rstrip("/")
        return {
            "issuer": settings.auth.issuer,
            "client_id": settings.auth.web_client_id,
            "redirect_uri": f"{origin}/auth/callback",
            "post_logout_redirect_uri": f"{origin}/",
            "scope": "openid profile email",
            "apis": dict(settings.public_urls),
            "home": home,
        }

    @routes.get("/auth/callback")
    async def auth_callback() -> FileResponse:
        """The provider redirects here with `code` and `state`: the page redeems the code (with the PKCE verifier
        kept in sessionStorage) and goes back to where the sign-in began."""
        return page(ASSETS / "callback.html")

    return routes


def mount(app: FastAPI, origins: tuple[str, ...], home: str | None) -> None:
    """Add the shared routes (a service with pages: `home` is its landing page), and let pages of `origins` call
    this API with a token (CORS: no cookies, so no credentials mode; the token goes in the Authorization header)."""
    if home is not None:
        app.include_router(router(home))
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "x-correlation-id", "idempotency-key", "if-match"],
            expose_headers=["content-disposition", "x-correlation-id", "retry-after", "location", "etag"],
            max_age=600,
        )
