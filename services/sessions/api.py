"""Sessions HTTP API (FastAPI, OpenAPI at /docs)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from shared.errors import NotFound
from shared.http import create_app
from shared.runtime import ServiceHost, host_of


class PairView(BaseModel):
    pair_id: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    state: str
    created_at: datetime
    updated_at: datetime


pairs_router = APIRouter(prefix="/pairs", tags=["pairs"])


@pairs_router.get("/{pair_id}", response_model=PairView, summary="A pair as the sessions service knows it")
async def get_pair(pair_id: str, request: Request) -> PairView:
    row = await host_of(request.app).pool.fetchrow("SELECT * FROM pairs WHERE pair_id = $1", pair_id)
    if row is None:
        raise NotFound(f"no pair {pair_id}", field="pair_id")
    return PairView(**dict(row))


def build_api(host: ServiceHost) -> FastAPI:
    app = create_app("Tandem sessions", "Goals, sessions, feedback and programme outcomes.")
    app.include_router(pairs_router)
    return app
