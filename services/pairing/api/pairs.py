"""Pairs: pair by hand, list with filters and pagination, pause, resume, end, answer a proposal."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.pairing import handlers, repository
from services.pairing.api.deps import Connection, Tenant, UoW
from services.pairing.api.match_runs import MatchRunOut
from services.pairing.api.schemas import (
    ConsentIn,
    EndIn,
    ExtendIn,
    FlagResolutionIn,
    PairIn,
    PairOut,
    PairPage,
    PauseIn,
)

router = APIRouter(prefix="/pairs", tags=["pairs"])


class FlagResolutionOut(BaseModel):
    pair: PairOut
    rematch: MatchRunOut | None = Field(description="The match run proposing new partners, when the pair ended.")


@router.post(
    "", status_code=201, response_model=PairOut,
    summary="Pair two participants by hand (same hard rules as matching; a low score adds a warning)",
)  # fmt: skip
async def create_pair(body: PairIn, uow: UoW) -> PairOut:
    async with uow:
        pair = await handlers.create_pair(uow, handlers.CreatePair(**body.model_dump()))
    return PairOut.of(pair)


@router.get("", response_model=PairPage, summary="List pairs with filters and pagination")
async def list_pairs(
    conn: Connection,
    tenant: Tenant,
    programme_id: str | None = None,
    state: Literal["proposed", "active", "paused", "ended", "declined"] | None = None,
    participant_id: str | None = None,
    flagged: Annotated[bool | None, Query(description="Only pairs a reorganisation flagged (true) or not.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PairPage:
    items, total = await repository.list_pairs(
        conn, tenant, programme_id=programme_id, state=state, participant_id=participant_id, flagged=flagged,
        limit=limit, offset=offset,
    )  # fmt: skip
    return PairPage(items=[PairOut.of(p) for p in items], total=total, limit=limit, offset=offset)


@router.get("/{pair_id}", response_model=PairOut)
async def get_pair(pair_id: str, conn: Connection, tenant: Tenant) -> PairOut:
    return PairOut.of(await repository.get_pair(conn, tenant, pair_id))


@router.post("/{pair_id}/pause", response_model=PairOut)
async def pause_pair(pair_id: str, body: PauseIn, uow: UoW) -> PairOut:
    async with uow:
        return PairOut.of(await handlers.pause_pair(uow, pair_id, body.reason))


@router.post("/{pair_id}/resume", response_model=PairOut)
async def resume_pair(pair_id: str, uow: UoW) -> PairOut:
    async with uow:
        return PairOut.of(await handlers.resume_pair(uow, pair_id))


@router.post(
    "/{pair_id}/end", response_model=PairOut,
    summary="End a pair: completed (also early, or after an extension), rematched, withdrawn, left_company, by_hr",
)  # fmt: skip
async def end_pair(pair_id: str, body: EndIn, uow: UoW) -> PairOut:
    async with uow:
        return PairOut.of(await handlers.end_pair(uow, pair_id, body.reason, body.note))


@router.post("/{pair_id}/extend", response_model=PairOut, summary="Let the pair go on past the programme's end")
async def extend_pair(pair_id: str, body: ExtendIn, uow: UoW) -> PairOut:
    async with uow:
        return PairOut.of(await handlers.extend_pair(uow, pair_id, body.until))


@router.post("/{pair_id}/consent", response_model=PairOut, summary="One side accepts or declines a proposal")
async def consent(pair_id: str, body: ConsentIn, uow: UoW) -> PairOut:
    async with uow:
        return PairOut.of(await handlers.answer_proposal(uow, pair_id, body.participant_id, body.decision == "accept"))


@router.post(
    "/{pair_id}/flag/resolve",
    response_model=FlagResolutionOut,
    summary="Decide on a pair a reorganisation flagged: keep it (reason recorded) or end it and rematch",
)
async def resolve_flag(pair_id: str, body: FlagResolutionIn, uow: UoW) -> FlagResolutionOut:
    async with uow:
        pair, run = await handlers.resolve_flag(uow, pair_id, body.decision, body.reason, body.resolved_by)
    return FlagResolutionOut(pair=PairOut.of(pair), rematch=MatchRunOut.of(run) if run is not None else None)
