"""Subject access (GDPR art. 15), the pairing service's part: the person's directory record (with the SCIM
attributes kept as provisioned), their enrolments in every programme, their pairs as mentor or mentee (rationale,
reasons, consent, flags, declines), the match runs' proposals that name them, HR's must-pair and never-pair rules
that name them, and the runs that left them unmatched (with the reason). HR of the caller's tenant only; every
read is recorded (SensitiveDataAccessed, the employee as subject) in the same transaction. See shared/subjects.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.pairing import subject_repository
from services.pairing.api.deps import Caller, PathId, UoW
from shared import subjects
from shared.events.pairing import SensitiveDataAccessed

router = APIRouter(tags=["subject access"])


@router.get(
    "/subjects/{employee_id}",
    summary="Everything the pairing service holds about one person (GDPR art. 15)",
    description="Directory record, enrolments, pairs, proposals and unmatched entries, every column as stored. "
    "An employee nobody named answers `known: false` with empty sections. Every read is recorded.",
)
async def subject_access(employee_id: PathId, caller: Caller, uow: UoW) -> dict[str, Any]:
    async with uow:
        answer = await subject_repository.subject(uow.conn, caller.tenant, employee_id)
        uow.emit(SensitiveDataAccessed(subject_id=employee_id, what=subjects.WHAT, by=caller.who, role="hr"))
        await uow.commit()
    return answer
