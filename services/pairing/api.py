"""Pairing HTTP API (FastAPI, OpenAPI at /docs)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.pairing import handlers, repository
from services.pairing.domain.pairs import Pair
from shared.events.common import Id, PairEndReason
from shared.http import correlation_id, create_app
from shared.runtime import ServiceHost, host_of
from shared.uow import UnitOfWork


class CreatePairRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    programme_id: Id
    mentor_id: Id
    mentee_id: Id
    pair_id: Id | None = None


class PairOut(BaseModel):
    pair_id: str
    programme_id: str
    mentor_id: str
    mentee_id: str
    state: str
    score: float | None
    rationale: str
    origin: str
    match_run_id: str | None
    end_reason: str | None

    @classmethod
    def of(cls, pair: Pair) -> PairOut:
        return cls(**vars(pair))


class PairPage(BaseModel):
    items: list[PairOut]
    total: int
    limit: int
    offset: int


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=2000)


class EndRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: PairEndReason
    note: str = Field(default="", max_length=2000)


def uow(request: Request) -> UnitOfWork:
    return host_of(request.app).uow(correlation_id=correlation_id(request))


UoW = Annotated[UnitOfWork, Depends(uow)]
pairs_router = APIRouter(prefix="/pairs", tags=["pairs"])


@pairs_router.post("", status_code=201, response_model=PairOut, summary="Pair two participants (by HR)")
async def create_pair(body: CreatePairRequest, unit: UoW) -> PairOut:
    async with unit:
        pair = await handlers.create_pair(unit, handlers.CreatePair(**body.model_dump()))
    return PairOut.of(pair)


@pairs_router.get("", response_model=PairPage, summary="List pairs with filters and pagination")
async def list_pairs(
    request: Request,
    programme_id: str | None = None,
    state: Literal["proposed", "active", "paused", "ended"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PairPage:
    async with host_of(request.app).pool.acquire() as conn:
        items, total = await repository.list_pairs(
            conn, programme_id=programme_id, state=state, limit=limit, offset=offset
        )
    return PairPage(items=[PairOut.of(p) for p in items], total=total, limit=limit, offset=offset)


@pairs_router.get("/{pair_id}", response_model=PairOut)
async def get_pair(pair_id: str, request: Request) -> PairOut:
    async with host_of(request.app).pool.acquire() as conn:
        return PairOut.of(await repository.get_pair(conn, pair_id))


@pairs_router.post("/{pair_id}/pause", response_model=PairOut)
async def pause_pair(pair_id: str, body: PauseRequest, unit: UoW) -> PairOut:
    async with unit:
        return PairOut.of(await handlers.pause_pair(unit, pair_id, body.reason))


@pairs_router.post("/{pair_id}/resume", response_model=PairOut)
async def resume_pair(pair_id: str, unit: UoW) -> PairOut:
    async with unit:
        return PairOut.of(await handlers.resume_pair(unit, pair_id))


@pairs_router.post("/{pair_id}/end", response_model=PairOut)
async def end_pair(pair_id: str, body: EndRequest, unit: UoW) -> PairOut:
    async with unit:
        return PairOut.of(await handlers.end_pair(unit, pair_id, body.reason, body.note))


def build_api(host: ServiceHost) -> FastAPI:
    app = create_app(
        "Tandem pairing",
        "Programmes, participants, explainable matching and the pair lifecycle of reverse-mentoring programmes.",
    )
    app.include_router(pairs_router)
    return app
