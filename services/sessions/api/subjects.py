"""Subject access (GDPR art. 15), the sessions service's part: the person's enrolments as this service knows them,
their pairs (and each pause, resume and end), the agreements, goals and sessions of those pairs (agenda, what was
logged, action items, cancellations), the feedback they wrote (confidential comments included: their own), their
confidence ratings and their learning records. HR of the caller's tenant only; every read is recorded
(SensitiveDataAccessed, the employee as subject) in the same transaction. See shared/subjects.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.sessions import subject_repository
from shared import subjects
from shared.events.sessions import SensitiveDataAccessed
from shared.http import Caller, PathId, UoW

router = APIRouter(tags=["subject access"])


@router.get(
    "/subjects/{employee_id}",
    summary="Everything the sessions service holds about one person (GDPR art. 15)",
    description="Participants, pairs, agreements, goals, sessions, the feedback they wrote (confidential comments "
    "included), confidence ratings and learning records, every column as stored. An employee nobody named answers "
    "`known: false` with empty sections. Every read is recorded.",
)
async def subject_access(employee_id: PathId, caller: Caller, uow: UoW) -> dict[str, Any]:
    async with uow:
        answer = await subject_repository.subject(uow.conn, caller.tenant, employee_id)
        uow.emit(SensitiveDataAccessed(subject_id=employee_id, what=subjects.WHAT, by=caller.who, role="hr"))
        await uow.commit()
    return answer
