"""The participant portal: one page shell at `/me` and every `/me/...` path (the page routes on the address),
its assets at `/me/static/<name>`, and `GET /me`, the signed-in person's own enrolments and pairs.

`/me` is both: a browser that navigates there (GET, HTML preferred over JSON, no Authorization header) gets the
page, which then asks `GET /me` with its token for the JSON. Mails sent before the portal existed link to the
JSON API's `/pairs/{pair_id}/feedback`; a browser navigating there is sent (303) to the portal's feedback page,
while API clients keep the JSON. Both checks run before the access check (which would answer a browser with no
token 401), as a middleware.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.sessions import repository
from services.sessions.api.callers import Who
from shared import web
from shared.http import ID_PATTERN, Connection

ASSETS = Path(__file__).resolve().parents[1] / "portal"
SHELL = ASSETS / "index.html"

pages = APIRouter(tags=["portal"], include_in_schema=False)
router = APIRouter(tags=["portal"])


@router.get("/me", summary="Your own enrolments and pairs (as a participant): partner, programme, state, rationale")
async def me(who: Who, conn: Connection) -> dict[str, Any]:
    employee_id = who.principal.employee_id
    found = await repository.my_portal(conn, who.tenant, employee_id) if employee_id else None
    people = found["participants"] if found else []
    latest = people[0] if people else None
    return {
        "employee_id": employee_id,
        "name": latest["display_name"] if latest else who.principal.name,
        "locale": latest["locale"] if latest else None,
        "participants": people,
        # each pair's `rationale` (English) and `reasons` (codes the page words in the person's language)
        "pairs": found["pairs"] if found else [],
    }


@pages.get("/me/static/{name}")
async def asset(name: str) -> FileResponse:
    return web.asset(ASSETS, name)


@pages.get("/me/{rest:path}")
async def page(rest: str) -> FileResponse:
    """Every portal address: the same shell; the page reads location.pathname."""
    return web.page(SHELL)


_OLD_FEEDBACK = re.compile(rf"^/pairs/({ID_PATTERN.strip('^$')})/feedback$")


def _quality(accept: str, media_type: str, *, wildcards: bool) -> float:
    """The highest q the Accept header gives `media_type` (with `wildcards`: also through `type/*`, `*/*`)."""
    names = (media_type, media_type.split("/")[0] + "/*", "*/*") if wildcards else (media_type,)
    best = 0.0
    for part in accept.split(","):
        kind, *params = (piece.strip() for piece in part.split(";"))
        if kind.lower() not in names:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, q)
    return best


def browser_navigation(request: Request) -> bool:
    """A browser opening an address (not a page's script calling the API): GET, no token, and HTML named and
    preferred over JSON (`*/*` alone, as curl and httpx send, is an API client)."""
    if request.method != "GET" or "authorization" in request.headers:
        return False
    accept = request.headers.get("accept", "")
    html = _quality(accept, "text/html", wildcards=False)
    return html > 0 and html > _quality(accept, "application/json", wildcards=True)


def navigation(request: Request) -> Response | None:
    """The answer to a browser opening `/me` (the page) or an old feedback link (303 to the portal's), else None."""
    path = request.url.path
    if not (path == "/me" or _OLD_FEEDBACK.match(path)) or not browser_navigation(request):
        return None
    found = _OLD_FEEDBACK.match(path)
    if found is None:
        return web.page(SHELL)
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/me/pairs/{quote(found.group(1), safe='')}/feedback{query}", status_code=303)


class PortalNavigation:
    """Plain ASGI (as shared/http.py's middleware, not BaseHTTPMiddleware, which would run every request of the
    service in a task of its own): answers `navigation` before the access check, passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            answer = navigation(Request(scope))
            if answer is not None:
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """The portal's routes and the middleware for browsers at `/me` and at the old feedback links."""
    app.include_router(router)
    app.include_router(pages)
    app.add_middleware(PortalNavigation)
