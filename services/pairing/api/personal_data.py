"""Personal data: erasure of a person (GDPR art. 17) and the tenant's retention of free text. HR only."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.pairing import erasure_repository, handlers
from services.pairing.api.deps import Caller, Connection, PathId, Tenant, UoW
from shared.errors import NotFound

router = APIRouter(tags=["personal data"])


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="request", min_length=1, max_length=200, description="Why (recorded).")


class ErasureOut(BaseModel):
    employee_id: str
    participant_ids: list[str] = Field(description="The person's enrolments, whose data every service erased.")
    pair_ids: list[str] = Field(description="Every pair and proposal the person was in.")
    reason: str
    requested_by: str
    erased_at: datetime


@router.post(
    "/subjects/{employee_id}/erase",
    response_model=ErasureOut,
    summary="Erase a person: names, addresses and free text everywhere; ids and figures stay (SubjectErased)",
    responses={404: {"description": "No such employee in the tenant"}, 409: {"description": "Erased already"}},
)
async def erase(employee_id: PathId, uow: UoW, caller: Caller, body: EraseIn | None = None) -> ErasureOut:
    reason = (body or EraseIn()).reason
    async with uow:
        done = await handlers.erase_subject(uow, employee_id, reason=reason, requested_by=caller.subject)
    return ErasureOut(**vars(done))


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    free_text_months: int = Field(
        ge=handlers.FREE_TEXT_MONTHS[0],
        le=handlers.FREE_TEXT_MONTHS[1],
        description="Free text of a programme is deleted this many months after it closed.",
    )


class RetentionOut(BaseModel):
    free_text_months: int
    set_by: str
    set_at: datetime


@router.get("/retention", response_model=RetentionOut, summary="The tenant's retention policy (404: none set)")
async def get_retention(conn: Connection, tenant: Tenant) -> RetentionOut:
    policy = await erasure_repository.get_policy(conn, tenant)
    if policy is None:
        raise NotFound("no retention policy is set: free text is kept", field="free_text_months")
    return RetentionOut(free_text_months=policy.free_text_months, set_by=policy.set_by, set_at=policy.set_at)


@router.put("/retention", response_model=RetentionOut, summary="Set the retention policy (RetentionPolicySet)")
async def put_retention(body: RetentionIn, uow: UoW, caller: Caller) -> RetentionOut:
    async with uow:
        policy = await handlers.set_retention(uow, body.free_text_months, set_by=caller.subject)
    return RetentionOut(free_text_months=policy.free_text_months, set_by=policy.set_by, set_at=policy.set_at)
