"""The HR dashboard: a page shell (HTML, CSS, JS, no CDN, no framework) that reads the JSON API.

It signs in through the shared web routes (shared/web: `/auth/config`, `/auth/callback`, `auth.js`), keeps the
token in the tab's sessionStorage and sends it with every API call. The page and its assets are public (they hold
no data); the API behind them is not.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from shared import web

ASSETS = Path(__file__).resolve().parents[1] / "dashboard"
router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/dashboard")
async def dashboard() -> FileResponse:
    return web.page(ASSETS / "index.html")


@router.get("/dashboard/static/{name}")
async def asset(name: str) -> FileResponse:
    return web.asset(ASSETS, name)
