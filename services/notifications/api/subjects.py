"""Subject access (GDPR art. 15), the notifications service's part: the person as a recipient in each programme
(name, address, language, time zone), their preferences (channel, quiet hours, chat webhook), every notification
sent, planned, failed or cancelled for them (with its last error), the receipts of the mails and chat messages
sent, what this service keeps of their pairs (rationale, reasons, flags) and those pairs' sessions (agenda,
cancellation reason), which feedback they gave, and the outbound webhook deliveries whose CloudEvent names them.
The rendered text of a message is not kept (it is rendered at each attempt), so none is answered. HR of the
caller's tenant only; every read is recorded (tandem.notifications.SensitiveDataAccessed, the employee as
subject) through the outbox in the same transaction. See shared/subjects.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from services.notifications import subject_repository
from shared import subjects
from shared.events.notifications import SensitiveDataAccessed
from shared.http import Caller, PathId, UoW

router = APIRouter(tags=["subject access"])


@router.get(
    "/subjects/{employee_id}",
    summary="Everything the notifications service holds about one person (GDPR art. 15)",
    description="Recipient records, preferences, every notification for them (sent, planned, failed), receipts, "
    "and what it keeps of their pairs and sessions, every column as stored. An employee nobody named answers "
    "`known: false` with empty sections. Every read is recorded.",
)
async def subject_access(employee_id: PathId, caller: Caller, uow: UoW) -> dict[str, Any]:
    async with uow:
        answer = await subject_repository.subject(uow.conn, caller.tenant, employee_id)
        uow.emit(SensitiveDataAccessed(subject_id=employee_id, what=subjects.WHAT, by=caller.who, role="hr"))
        await uow.commit()
    return answer
