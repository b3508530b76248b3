"""Programmes: create, launch, read, close."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.pairing import handlers, repository
from services.pairing.api.deps import Connection, Own, PathId, Tenant, UoW
from services.pairing.api.schemas import ProgrammeIn, ProgrammeOut
from shared.errors import NotFound

router = APIRouter(prefix="/programmes", tags=["programmes"])


class Waiting(BaseModel):
    participant_id: str
    role: str
    name: str
    pair_id: str = Field(description="Their ended pair: POST /pairs/{pair_id}/rematch proposes a new partner.")
    end_reason: str
    ended_at: datetime


@router.post("", status_code=201, response_model=ProgrammeOut, summary="Create a programme (draft, or launched)")
async def create_programme(body: ProgrammeIn, uow: UoW) -> ProgrammeOut:
    async with uow:
        programme = await handlers.create_programme(
            uow,
            handlers.CreateProgramme(
                **body.model_dump(exclude={"matching_policy"}), matching_policy=body.matching_policy.model_dump()
            ),
        )
    return ProgrammeOut.of(programme)


@router.get("", response_model=list[ProgrammeOut], summary="All programmes")
async def list_programmes(conn: Connection, tenant: Tenant) -> list[ProgrammeOut]:
    return [ProgrammeOut.of(p) for p in await repository.list_programmes(conn, tenant)]


@router.get("/{programme_id}", response_model=ProgrammeOut)
async def get_programme(programme_id: PathId, conn: Connection, tenant: Tenant, own: Own) -> ProgrammeOut:
    programme = await repository.get_programme(conn, tenant, programme_id)
    if own is not None:  # a participant: only a programme they are (or were) enrolled in
        theirs = await repository.participants_by_id(conn, tenant, own)
        if not any(x.programme_id == programme_id for x in theirs.values()):
            raise NotFound(f"no programme {programme_id}", field="programme_id")
    return ProgrammeOut.of(programme)


@router.post("/{programme_id}/launch", response_model=ProgrammeOut, summary="Open enrolment; publish ProgramLaunched")
async def launch(programme_id: PathId, uow: UoW) -> ProgrammeOut:
    async with uow:
        return ProgrammeOut.of(await handlers.launch_programme(uow, programme_id))


@router.post("/{programme_id}/close", response_model=ProgrammeOut)
async def close(programme_id: PathId, uow: UoW) -> ProgrammeOut:
    async with uow:
        return ProgrammeOut.of(await handlers.close_programme(uow, programme_id))


@router.get(
    "/{programme_id}/waiting-for-partner",
    response_model=list[Waiting],
    summary="Who is waiting for a new partner: their pair ended early (partner left, withdrew, ended by HR)",
)
async def waiting(programme_id: PathId, conn: Connection, tenant: Tenant) -> list[dict[str, Any]]:
    await repository.get_programme(conn, tenant, programme_id)
    return await repository.waiting_for_partner(conn, tenant, programme_id)
