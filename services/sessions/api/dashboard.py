"""The HR dashboard: a static page (HTML, CSS, JS, no CDN, no framework) that reads the JSON API.

The page signs in with Authorization Code + PKCE (S256) against the configured OpenID Connect provider, as
the public client TANDEM_OIDC_WEB_CLIENT_ID: `/auth/config` tells it the issuer, the client and the redirect
URI; `/auth/callback` is where the provider sends the browser back with a code, and a small page there
finishes the exchange in the browser. The token stays in the tab's sessionStorage and goes with every API call.
These routes, the page and its assets are public (they hold no data); the API behind them is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse

from shared.errors import NotFound

ASSETS = Path(__file__).resolve().parents[1] / "dashboard"
router = APIRouter(tags=["dashboard"], include_in_schema=False)
_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
#: The page's scripts and styles come from this service only; the provider is reached by fetch and navigation.
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/")
async def home() -> RedirectResponse:
    """Where the provider sends a browser after sign-out (the demo client's post-logout URI): the dashboard."""
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/dashboard")
async def dashboard() -> FileResponse:
    return FileResponse(ASSETS / "index.html", media_type="text/html", headers=_HEADERS)


@router.get("/dashboard/static/{name}")
async def asset(name: str) -> FileResponse:
    path = (ASSETS / name).resolve()
    if path.parent != ASSETS or path.suffix not in _TYPES or not path.exists():
        raise NotFound(f"no asset {name}", field="name")
    return FileResponse(path, media_type=_TYPES[path.suffix], headers={"X-Content-Type-Options": "nosniff"})


@router.get("/auth/config")
async def auth_config(request: Request) -> dict[str, Any]:
    """What the page needs to sign in: the provider, its public client and where the provider sends it back."""
    auth = request.app.state.host.settings.auth
    if auth is None:  # the service does not start without it; say so rather than fail obscurely
        raise NotFound("sign-in is not configured (TANDEM_OIDC_ISSUER)", field="issuer")
    origin = _origin(request)
    return {
        "issuer": auth.issuer,
        "client_id": auth.web_client_id,
        "redirect_uri": f"{origin}/auth/callback",
        "post_logout_redirect_uri": f"{origin}/",
        "scope": "openid profile email",
    }


@router.get("/auth/callback")
async def auth_callback() -> FileResponse:
    """The page the provider redirects to with `code` and `state`: it redeems the code (with the PKCE verifier the
    dashboard kept in sessionStorage) and returns to the dashboard."""
    return FileResponse(ASSETS / "callback.html", media_type="text/html", headers=_HEADERS)
