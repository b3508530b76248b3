"""Pairs: pair by hand, list with filters and pagination, pause, resume, end, answer a proposal."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.pairing import handlers, repository
from services.pairing.api.deps import Caller, Connection, Limit, Offset, Own, PathId, Tenant, UoW, mine
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
from services.pairing.domain.pairs import Pair
from shared.auth import Forbidden

router = APIRouter(prefix="/pairs", tags=["pairs"])


class FlagResolutionOut(BaseModel):
    pair: PairOut
    rematch: MatchRunOut | None = Field(description="The match run proposing new partners, when the pair ended.")


@router.post(
    "",
    status_code=201,
    response_model=PairOut,
    summary="Pair two participants by hand (same hard rules as matching; a low score adds a warning)",
)
async def create_pair(body: PairIn, uow: UoW) -> PairOut:
    async with uow:
        pair = await handlers.create_pair(uow, handlers.CreatePair(**body.model_dump()))
    return PairOut.of(pair)


@router.get("", response_model=PairPage, summary="List pairs with filters and pagination")
async def list_pairs(
    conn: Connection,
    tenant: Tenant,
    own: Own,
    programme_id: str | None = None,
    state: Literal["proposed", "active", "paused", "ended", "declined"] | None = None,
    participant_id: str | None = None,
    flagged: Annotated[bool | None, Query(description="Only pairs a reorganisation flagged (true) or not.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PairPage:
    items, total = await repository.list_pairs(
        conn,
        tenant,
        programme_id=programme_id,
        state=state,
        participant_id=participant_id,
        flagged=flagged,
        limit=limit,
        offset=offset,
        among=own,
    )
    return PairPage(items=[PairOut.of(p) for p in items], total=total, limit=limit, offset=offset)


@router.get("/{pair_id}", response_model=PairOut)
async def get_pair(pair_id: PathId, conn: Connection, tenant: Tenant, own: Own) -> PairOut:
    return PairOut.of(await _own_pair(conn, tenant, own, pair_id))


async def _own_pair(conn: Connection, tenant: str, own: set[str] | None, pair_id: str) -> Pair:
    """The pair, if the caller may reach it (staff: any of the tenant; a participant: one they are in)."""
    pair = await repository.get_pair(conn, tenant, pair_id)
    mine(own, pair.mentor_id, pair.mentee_id, what=f"no pair {pair_id}", field="pair_id")
    return pair


@router.post("/{pair_id}/pause", response_model=PairOut)
async def pause_pair(pair_id: PathId, body: PauseIn, uow: UoW, own: Own) -> PairOut:
    async with uow:
        await _own_pair(uow.conn, uow.tenant, own, pair_id)
        return PairOut.of(await handlers.pause_pair(uow, pair_id, body.reason))


@router.post("/{pair_id}/resume", response_model=PairOut)
async def resume_pair(pair_id: PathId, uow: UoW, own: Own) -> PairOut:
    async with uow:
        await _own_pair(uow.conn, uow.tenant, own, pair_id)
        return PairOut.of(await handlers.resume_pair(uow, pair_id))


@router.post(
    "/{pair_id}/end",
    response_model=PairOut,
    summary="End a pair: completed (also early, or after an extension), rematched, withdrawn, left_company, by_hr",
)
async def end_pair(pair_id: PathId, body: EndIn, uow: UoW) -> PairOut:
    async with uow:
        return PairOut.of(await handlers.end_pair(uow, pair_id, body.reason, body.note))


@router.post("/{pair_id}/extend", response_model=PairOut, summary="Let the pair go on past the programme's end")
async def extend_pair(pair_id: PathId, body: ExtendIn, uow: UoW) -> PairOut:
    async with uow:
        return PairOut.of(await handlers.extend_pair(uow, pair_id, body.until))


@router.post("/{pair_id}/consent", response_model=PairOut, summary="One side accepts or declines a proposal")
async def consent(pair_id: PathId, body: ConsentIn, uow: UoW, own: Own) -> PairOut:
    async with uow:
        await _own_pair(uow.conn, uow.tenant, own, pair_id)  # not theirs: 404, whatever the body says
        if own is not None and body.participant_id not in own:
            raise Forbidden("each side answers for themselves: participant_id is not you", field="participant_id")
        return PairOut.of(await handlers.answer_proposal(uow, pair_id, body.participant_id, body.decision == "accept"))


@router.post(
    "/{pair_id}/flag/resolve",
    response_model=FlagResolutionOut,
    summary="Decide on a pair a reorganisation flagged: keep it (reason recorded) or end it and rematch",
)
async def resolve_flag(pair_id: PathId, body: FlagResolutionIn, uow: UoW, caller: Caller) -> FlagResolutionOut:
    async with uow:
        pair, run = await handlers.resolve_flag(uow, pair_id, body.decision, body.reason, caller.who)
    return FlagResolutionOut(pair=PairOut.of(pair), rematch=MatchRunOut.of(run) if run is not None else None)
