"""The HR dashboard: a static page (HTML, CSS, JS, no CDN) that reads the JSON API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

ASSETS = Path(__file__).resolve().parents[1] / "dashboard"
router = APIRouter(tags=["dashboard"], include_in_schema=False)
_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@router.get("/dashboard")
async def dashboard() -> FileResponse:
    return FileResponse(ASSETS / "index.html", media_type="text/html")


@router.get("/dashboard/static/{name}")
async def asset(name: str) -> FileResponse:
    path = (ASSETS / name).resolve()
    if path.parent != ASSETS or path.suffix not in _TYPES or not path.exists():
        from shared.errors import NotFound

        raise NotFound(f"no asset {name}", field="name")
    return FileResponse(path, media_type=_TYPES[path.suffix])
