"""A service's health as tests ask for it: readiness and its reasons, waiting until it answers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


async def readiness(url: str) -> tuple[int, list[str]]:
    """GET /health/ready: the status and the reasons given (none when ready)."""
    async with httpx.AsyncClient(timeout=10) as client:
        r = await client.get(f"{url}/health/ready")
    return r.status_code, r.json().get("reasons", [])


async def ready(url: str) -> bool:
    """Ready; False too while nothing listens yet."""
    try:
        return (await readiness(url))[0] == 200
    except httpx.TransportError:
        return False


async def not_ready_because(url: str, *words: str) -> Any:
    """The reasons when the service is not ready and each word is in one of them; else False."""
    status, said = await readiness(url)
    return status == 503 and all(any(w in r for r in said) for w in words) and said


async def answers(url: str, path: str = "/health/ready", *, attempts: int = 200, interval: float = 0.05) -> bool:
    """Wait (at most attempts x interval) until `path` answers 200; whether it did."""
    async with httpx.AsyncClient() as client:
        for _ in range(attempts):
            try:
                if (await client.get(f"{url}{path}")).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(interval)
    return False
