"""The HR console: a page shell (HTML, CSS, JS; no CDN, no framework) that calls the JSON APIs with HR's token.

One shell answers `/console` and every `/console/...` address (the page routes on location.pathname), so a
reload or a shared link opens the same section. The shell and its assets hold no data and are public; the APIs
behind them decide who sees what (shared/web).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from shared import web

ASSETS = Path(__file__).resolve().parents[1] / "console"
router = APIRouter(tags=["console"], include_in_schema=False)


@router.get("/console")
async def console() -> FileResponse:
    return web.page(ASSETS / "index.html")


@router.get("/console/static/{name}")
async def asset(name: str) -> FileResponse:
    return web.asset(ASSETS, name)


@router.get("/console/{section:path}")
async def section(section: str) -> FileResponse:
    """Any address under /console: the same shell, which shows the section the address names."""
    return web.page(ASSETS / "index.html")
